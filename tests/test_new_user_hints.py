"""Messages a new user meets, each saying what to write instead (the review of 2026-12): a Python expression
given to --at, a Python keyword used as a name, θ copied from the display for theta, a library function the
tracer cannot follow, a def returning a matrix, a list of points for a number. Each named case, then its family,
and one of each through a real IPython shell: a UsageError of one paragraph, no traceback."""

from __future__ import annotations

import keyword
import types

import numpy as np
import pytest
from IPython.core.error import UsageError

from jacmagic import jacobian
from jacmagic.errors import JacmagicError
from tests.conftest import Shell
from tests.helpers import assert_close


def _refusal(source: str, **options: object) -> str:
    with pytest.raises(JacmagicError) as caught:
        jacobian(source, **options)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def _usage_error(shell: Shell, cell: str) -> str:
    ran = shell.run(cell)
    assert type(ran.error) is UsageError, ran.error
    message = str(ran.error)
    assert "\n" not in message and "Traceback" not in ran.stdout, ran.stdout
    return message


# 1. --at given Python: the way is a notebook variable, not "write a Python def"

def test_at_given_a_numpy_call_says_to_assign_it_to_a_notebook_variable(shell: Shell) -> None:
    shell.ok("import numpy as np")
    message = _usage_error(shell, "%%jacobian --at W1=np.ones((3,4))*0.1\nW1: 3x4\nx: 4\ny = W1 @ x")
    assert message.startswith("--at W1:") and "notebook" in message and "assign" in message, message
    assert "--at W1=NAME" in message and "np.ones((3,4))*0.1" in message and "def" not in message, message


def test_at_given_the_named_notebook_variable_then_works(shell: Shell) -> None:
    shell.ok("import numpy as np\nW0 = np.ones((3, 4))*0.1")
    shell.ok("%%jacobian --at W1=W0,x=[1,2,3,4]\nW1: 3x4\nx: 4\ny = W1 @ x")


@pytest.mark.parametrize("value", ["np.ones(2)", "W0*2", "W0[0]", "[np.pi, 1]", "np.linspace(0, 1, 2)"])
@pytest.mark.parametrize("option", ["at", "direction"])
def test_every_python_value_of_a_point_option_names_the_notebook_variable_way(value: str, option: str) -> None:
    from jacmagic.options import parse_point

    with pytest.raises(JacmagicError) as caught:
        parse_point(f"x={value}", {"np": np, "W0": np.ones(2)}, f"--{option}")
    message = str(caught.value)
    assert message.startswith(f"--{option} x:") and "notebook variable" in message, message
    assert f"--{option} x=NAME" in message and "Python def" not in message, message


@pytest.mark.parametrize("value", ["pi/2", "[1, 2]", "sqrt(2)", "-3"])
def test_formulas_of_numbers_stay_values_of_a_point(value: str) -> None:
    from jacmagic.options import parse_point

    assert parse_point(f"x={value}", {"np": np})


# 2. a Python keyword as a name

def test_lambda_as_a_parameter_says_it_is_a_keyword_and_offers_lam(shell: Shell) -> None:
    message = _usage_error(shell, "%%jacobian\nf(x, lambda) = [x*lambda]")
    assert "lambda is a Python keyword" in message and "lam" in message and "λ" in message, message
    assert "invalid syntax" not in message, message


# keywords a formula never holds as a keyword (if/else, and, or, not are read, or refused, as such)
NAMES_THAT_ARE_KEYWORDS = sorted(set(keyword.kwlist) - {"True", "False", "None", "if", "else", "and", "or",
                                                         "not", "await", "async"})


@pytest.mark.parametrize("word", NAMES_THAT_ARE_KEYWORDS)
@pytest.mark.parametrize("form", ["f(x, {w}) = [x*{w}]", "f(x, {w}) = [x]", "{w} = 2*x\ny = {w} + x",
                                  "y = 2*{w}", "f(x) = [x + {w}]"])
def test_every_keyword_used_as_a_name_is_named_as_a_keyword(word: str, form: str) -> None:
    message = _refusal(form.format(w=word))
    assert f"{word} is a Python keyword" in message and "call it" in message, message


def test_a_syntax_error_without_a_keyword_keeps_python_s_words() -> None:
    message = _refusal("x = 2*y\nz = x if\n")
    assert "keyword" not in message and "invalid syntax" in message, message


# 3. θ copied from the display for theta

def test_wrt_theta_written_as_the_letter_shown_is_taken(shell: Shell) -> None:
    shell.ok("%%jacobian --wrt θ,r\nf(r, theta) = [r*cos(theta), r*sin(theta)]")


@pytest.mark.parametrize("chain", [False, True])
def test_greek_letters_as_shown_name_the_cell_s_spelled_names(chain: bool) -> None:
    """--wrt and --at with the letters the display shows; the Jacobian compared with central differences."""
    result = jacobian("x = r*cos(theta) + Lambda\ny = r*sin(theta)*alpha", chain=chain, wrt=["θ", "r"],
                      at={"θ": 0.5, "r": 2.0, "Λ": 1.0, "α": 3.0})
    f = lambda theta, r: np.array([r*np.cos(theta) + 1.0, r*np.sin(theta)*3.0])  # noqa: E731
    h = 1e-6
    want = np.column_stack([(f(0.5 + h, 2.0) - f(0.5 - h, 2.0)) / (2*h), (f(0.5, 2.0 + h) - f(0.5, 2.0 - h)) / (2*h)])
    assert_close(result.at(), want, 1e-6)


def test_r_at_with_the_letter_shown_is_the_name_typed() -> None:
    result = jacobian("f(r, theta) = [r*cos(theta)]")
    assert result.at(**{"θ": 0.5, "r": 2.0}).tolist() == result.at(theta=0.5, r=2.0).tolist()  # type: ignore[union-attr]


def test_a_cell_with_theta_and_the_letter_is_refused_naming_both() -> None:
    message = _refusal("f(theta, θ) = [theta*θ]")
    assert "theta" in message and "θ" in message, message


# 4. a library function on a traced value

def test_scipy_expit_in_a_def_is_named_with_its_numpy_spelling(shell: Shell) -> None:
    pytest.importorskip("scipy")
    message = _usage_error(shell, "%%jacobian\nimport scipy.special\ndef f(x):\n    return scipy.special.expit(x)")
    assert message.startswith("line 3:") and "scipy.special.expit cannot be traced" in message, message
    assert "sigmoid(x)" in message and "ufunc" not in message, message


FAKE = types.ModuleType("fancylib")
FAKE.expit = lambda x: np.exp(np.asarray(x, dtype=float))  # type: ignore[attr-defined]
FAKE.softmax = FAKE.logsumexp = FAKE.relu = FAKE.bessel = FAKE.expit  # type: ignore[attr-defined]


@pytest.mark.parametrize(("function", "spelling"), [("expit", "sigmoid(x)"), ("softmax", "np.exp(x)"),
                                                    ("logsumexp", "np.log(np.sum(np.exp(x)))"),
                                                    ("relu", "np.maximum(x, 0)"), ("bessel", "numpy functions")])
def test_a_module_function_failing_on_symbols_is_named_with_what_to_write(function: str, spelling: str) -> None:
    """A fake module whose functions call a numpy ufunc on what they get, as scipy's do."""
    from jacmagic.pipeline import compute

    with pytest.raises(JacmagicError) as caught:
        compute(f"def f(x):\n    return 2*fancylib.{function}(x)", namespace={"fancylib": FAKE})
    message = str(caught.value)
    assert message.startswith("line 2:") and f"fancylib.{function} cannot be traced" in message, message
    assert spelling in message and "\n" not in message, message


def test_a_user_s_own_failing_line_keeps_its_own_explanation() -> None:
    message = _refusal("def f(x):\n    return x.foo(1)")
    assert "cannot be traced" not in message and "foo" in message, message


# 5. a def returning a matrix

@pytest.mark.parametrize(("returned", "hint"), [("np.array([[x, y], [y, x]])", "M.ravel()"),
                                                ("sympy.Matrix([[x, y], [y, x]])", "list(M)")])
def test_a_def_returning_a_matrix_says_how_to_return_its_entries(returned: str, hint: str) -> None:
    message = _refusal(f"import numpy as np\nimport sympy\ndef f(x, y):\n    return {returned}")
    assert "2 x 2" in message and hint in message and "every entry" in message, message


def test_a_def_returning_a_raveled_matrix_has_every_entry_s_row(shell: Shell) -> None:
    result = jacobian("import numpy as np\ndef f(x, y):\n    return np.array([[x, y], [y, x]]).ravel()")
    assert_close(result.at(x=1.0, y=2.0), [[1, 0], [0, 1], [0, 1], [1, 0]])
    message = _usage_error(shell, "%%jacobian\nimport numpy as np\ndef f(x, y):\n    return np.array([[x, y], [y, x]])")
    assert "M.ravel()" in message, message


# 6. a list of points for a number

def test_a_list_for_an_undeclared_number_says_numpy_arrays_give_several_points() -> None:
    with pytest.raises(JacmagicError) as caught:
        jacobian("f(x, y) = [x*y]").at(x=[1, 2], y=[0, 0])
    message = str(caught.value)
    assert "several points" in message and "R.at(x=np.array([1, 2])" in message, message
    many = jacobian("f(x, y) = [x*y]").at(x=np.array([1.0, 2.0]), y=np.array([0.0, 3.0]))
    assert_close(many, [[[0.0, 1.0]], [[3.0, 2.0]]])
