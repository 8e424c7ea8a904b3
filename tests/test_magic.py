"""The magic end to end, through a real IPython shell: every cell form, option and mistake."""

from __future__ import annotations

import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from IPython.core.error import UsageError

from jacmagic import JacobianResult

from .conftest import Shell
from .helpers import assert_close, joined_words, numeric_jacobian


def polar(r: mpmath.mpf, t: mpmath.mpf) -> list[mpmath.mpf]:
    return [r * mpmath.cos(t), r * mpmath.sin(t)]


@pytest.mark.parametrize("cell", [
    "x = r*cos(theta)\ny = r*sin(theta)",
    "f(r, theta) = [r*cos(theta), r*sin(theta)]",
    "def f(r, theta):\n    return [r * np.cos(theta), r * math.sin(theta)]",
])
def test_every_form_gives_the_polar_jacobian(shell: Shell, cell: str) -> None:
    ran = shell.ok(f"%%jacobian --det --out R\n{cell}")
    R = shell.ip.user_ns["R"]
    assert ran.result is R and isinstance(R, JacobianResult)
    assert [s.name for s in R.inputs] == ["r", "theta"]
    for point in [(1.5, 0.3), (0.2, 2.5), (3.0, -1.0)]:
        assert_close(R.at(r=point[0], theta=point[1]), numeric_jacobian(polar, point))
        assert float(R.det.subs({R.inputs[0]: point[0], R.inputs[1]: point[1]})) == pytest.approx(point[0])
    assert str(R.det) == "r"


def test_displayed_once_as_latex_with_a_text_fallback(shell: Shell) -> None:
    ran = shell.ok("%%jacobian --det\nx = r*cos(theta)\ny = r*sin(theta)")
    # no kernel here, so no panel: the formulas as LaTeX, the words between them as HTML (their text is in the
    # first display's, so that display has none: a terminal would print it as a blank line)
    assert [set(b) for b in ran.outputs] == [{"text/plain", "text/latex"}, {"text/html"},
                                             {"text/plain", "text/latex"}]
    assert "rows: outputs" in ran.outputs[0]["text/plain"]
    assert all(b["text/latex"].startswith(r"$\displaystyle") for b in ran.outputs if "text/latex" in b)
    assert r"\det J &= r" in ran.outputs[2]["text/latex"] and "rows: outputs" in ran.outputs[1]["text/html"]
    assert "det J = r" in ran.outputs[2]["text/plain"]
    assert re.fullmatch(r"(Out\[\d+\]:)?", ran.stdout.strip())


@pytest.mark.parametrize(("options", "panels"), [("", 1), ("--no-widgets", 0)])
def test_with_a_kernel_the_panel_follows_the_result(shell: Shell, monkeypatch: pytest.MonkeyPatch, options: str,
                                                    panels: int) -> None:
    monkeypatch.setattr(shell.ip, "kernel", object(), raising=False)
    ran = shell.ok(f"%%jacobian --det {options}\nx = r*cos(theta)\ny = r*sin(theta)")
    assert "text/latex" in ran.outputs[0]
    widget_views = [o for o in ran.outputs if "application/vnd.jupyter.widget-view+json" in o]
    assert len(widget_views) == panels and len(ran.outputs) == 3 + panels  # J, its reading in words, det J


def test_line_magic_takes_functions_expressions_and_matrices(shell: Shell) -> None:
    shell.ok("import numpy as np\nimport sympy as sp\n"
             "def g(x, y):\n    return np.array([np.exp(x) * y, np.tanh(y)])\n"
             "a, b = sp.symbols('a b')\nexpr = a**2 * b\nM = sp.Matrix([a*b, a + b])")
    g = shell.ok("%jacobian g --det").result
    assert_close(g.at(x=0.3, y=0.8), numeric_jacobian(lambda x, y: [mpmath.exp(x) * y, mpmath.tanh(y)], [0.3, 0.8]))
    a, b = sp.symbols("a b", real=True)  # a sympy object's symbols are taken as real, as a cell's are
    assert shell.ok("%jacobian expr").result.matrix.tolist() == [[2 * a * b, a**2]]
    assert shell.ok("%jacobian M --det --out RM").result.det == b - a
    assert shell.ip.user_ns["g"](0.0, 0.0).tolist() == [0.0, 0.0]  # the user's function still works on floats


def test_a_vector_function_takes_its_shape_from_the_point(shell: Shell) -> None:
    shell.ok("import numpy as np\ndef softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()\n"
             "z0 = np.array([0.5, -1.0, 2.0])")
    R = shell.ok("%jacobian softmax --at z=z0").result
    s = np.exp([0.5, -1.0, 2.0]) / np.exp([0.5, -1.0, 2.0]).sum()
    assert_close(R.at(z=[0.5, -1.0, 2.0]), np.diag(s) - np.outer(s, s))
    shown = shell.ok("%%jacobian --at z=[1,2],a=3 --wrt z\ndef f(z, a):\n    return a * z").outputs[0]["text/plain"]
    assert "∂(f₁, f₂)/∂(z₁, z₂)" in shown
    assert shell.ip.user_ns["softmax"](np.zeros(2)).tolist() == [0.5, 0.5]


def test_wrt_reorders_and_makes_the_rest_constants(shell: Shell) -> None:
    R = shell.ok("%%jacobian --wrt z,x --det\nf(x, y, z) = [x*y*z, x + y + z]").result
    assert [s.name for s in R.inputs] == ["z", "x"] and R.constants == ("y",)
    assert [s.name for s in R.symbolic.constants] == ["y"]
    assert_close(R.at(x=1.1, y=2.0, z=-0.5), [[1.1 * 2.0, -0.5 * 2.0], [1, 1]])
    assert "0.5" not in str(R.det)  # symbolic: x*y - y*z
    assert float(R.det.subs({s: v for s, v in zip(R.symbolic.arguments, [-0.5, 1.1, 2.0])})) == pytest.approx(2.2 + 1.0)


def test_at_shows_numbers_and_the_determinant(shell: Shell) -> None:
    R = shell.ok("%%jacobian --det --at r=2, theta=pi/2\nx = r*cos(theta)\ny = r*sin(theta)").result
    latex = R.latex()
    assert r"\det J\,\Big|_{r = 2,\ \theta = \frac{\pi}{2}} &= 2" in latex  # the point as typed
    assert "-2" in latex and r"0 & -2" in latex  # cos(pi/2) is exactly 0, not 6e-17


def test_partials_simplify_check_and_budget(shell: Shell) -> None:
    R = shell.ok("%%jacobian --partials --check --budget 1\nx = r*cos(theta)\ny = r*sin(theta)").result
    assert r"\frac{\partial x}{\partial r}" in R.latex()
    assert "check passed: matches central finite differences at 3 points" in joined_words(R.latex())
    raw = shell.ok("%%jacobian --simplify none\nf(x, y) = [x*(sin(y)**2 + cos(y)**2)]").result
    full = shell.ok("%%jacobian --simplify full\nf(x, y) = [x*(sin(y)**2 + cos(y)**2)]").result
    assert raw.matrix[0, 0] != 1 and full.matrix[0, 0] == 1


def test_config_budget(shell: Shell) -> None:
    shell.ok("%config JacobianMagic.budget = 5")
    assert shell.ok("%%jacobian\nf(x) = x").result.options.budget == 5
    shell.ok("%config JacobianMagic.budget = 2")


def test_undefined_point_is_said_not_raised(shell: Shell) -> None:
    R = shell.ok("%%jacobian --at x=1,y=0\nf(x, y) = [x/y, y]").result
    assert np.isnan(R.at(x=1, y=0)[0, 0]) and R.at(x=1, y=0)[1, 1] == 1
    assert "undefined" in R.latex() and "division by zero" in joined_words(R.latex())


BAD = [
    ("f(x, y) = [x**2*y, 5*x + ]", "", r"line 1\b.*invalid syntax"),
    ("f(x, y) = [x**2*y,\n   5*x + sin(y)", "", r"line 1\b.*never closed"),
    ("x = r*cos(theta)\ny = r*sinn(theta)", "", r"line 2\b.*sinn.*did you mean sin"),
    ("def f(x):\n    return x + nope", "", r"line 2\b.*nope"),
    ("def f(x):\n    if x > 0:\n        return x\n    return 0", "", r"line 2\b.*np.where"),
    ("", "", "empty"),
    ("f(x, y) = [x*y, x, y]", "--det", r"square.*3 x 2.*no choice of variables"),
    ("f(x, y) = [x*y*a, x, y]", "--det", r"square.*3 x 2.*--wrt x,y,a"),
    ("f(x, y) = x*y", "--wrt q", r"--wrt: q is not a variable"),
    ("f(x, y) = x*y", "--at x=1", "no value given for y"),
    ("W: 2x3\nx: 3\nL = sum(tanh(W @ x))", "--at x=[1,2,3]",
     r"no value given for W \(2 x 3\) \(a point needs W \(2 x 3\), x \(3\)\)"),
    ("W: 2x3\nx: 3\nL = sum(tanh(W @ x))", "--chain --at x=[1,2,3]", r"no value given for W \(2 x 3\) "),
    ("X: 6x6\nK: 3x3\nL = sum(conv2d(X, K))", "", r"line 3\b.*conv2d works on whole arrays.*add --chain"),
    ("f(x, y) = x*y", "--at x=1,y=two", r"--at y: 'two' is not a number"),
    ("f(x, y) = x*y", "--at x=1,y=2,q=3", "q is not a variable"),
    ("f(x, y) = x*y", "--simplify sometimes", "invalid choice"),
    ("f(x, y) = x*y", "--bogus", "unknown option --bogus"),
    ("f(x, y) = x*y", "--out 1x", r"--out: given twice \(kept and 1x\)"),
    ("f(x) = __import__('os').system('touch MARKER')", "", r"line 1\b.*quotes"),
    ("f(x) = x.__class__", "", r"line 1\b.*attribute"),
]


@pytest.mark.parametrize(("cell", "options", "match"), BAD)
def test_mistakes_are_usage_errors_and_lose_nothing(shell: Shell, cell: str, options: str, match: str,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    keep = object()
    shell.ip.user_ns["kept"] = keep
    ran = shell.run(f"%%jacobian --out kept {options}\n{cell}")
    assert type(ran.error) is UsageError
    assert re.search(match, str(ran.error)), str(ran.error)
    assert "Traceback" not in ran.stdout
    assert shell.ip.user_ns["kept"] is keep
    assert not (tmp_path / "MARKER").exists()
    assert shell.ok("%%jacobian\nf(x) = x**2").result.matrix.tolist() == [[2 * sp.Symbol("x", real=True)]]


@pytest.mark.parametrize(("name", "said"), [
    ("1x", "needs a plain variable name"), ("def", "needs a plain variable name"),
    ("__class__", "needs a plain variable name"), ("print", "would replace a name"),
    ("get_ipython", "would replace a name"), ("_i3", "would replace a name"), ("Out", "would replace a name")])
def test_out_needs_a_plain_variable_name_of_the_users_own(shell: Shell, name: str, said: str) -> None:
    """--out binds only a plain variable name: never a keyword, a dunder, a builtin or a name IPython relies on
    (the row of the table above meets --out twice, so this is asked on its own)."""
    ran = shell.run(f"%%jacobian --out {name}\nf(x) = x**2")
    assert type(ran.error) is UsageError and f"--out {said}" in str(ran.error).replace(f"--out {name} ", "--out "), \
        ran.error
    assert name not in shell.ip.user_ns or not hasattr(shell.ip.user_ns[name], "walkthrough")


def test_line_magic_mistakes(shell: Shell) -> None:
    assert "is not defined" in str(shell.run("%jacobian nothing_here").error)
    assert "needs a name" in str(shell.run("%jacobian --det").error)
    shell.ok("n = 3")
    assert "int" in str(shell.run("%jacobian n").error)
    assert "unexpected" in str(shell.run("%%jacobian stray\nf(x) = x").error)


def test_help_is_generated_with_examples(shell: Shell) -> None:
    doc = shell.ip.find_cell_magic("jacobian").__doc__
    for text in ["--det", "--wrt", "--at", "--out", "--no-widgets", "--partials", "--simplify", "--check",
                 "f(x, y) = [x**2*y", "x = r*cos(theta)", "def f(x, y):"]:
        assert text in doc


def test_unload_removes_the_magic() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jacmagic")
    ip.run_line_magic("unload_ext", "jacmagic")
    assert ip.find_cell_magic("jacobian") is None
    ip.run_line_magic("load_ext", "jacmagic")
    assert ip.find_cell_magic("jacobian") is not None


def test_chain_through_the_magic(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell.ip, "kernel", object(), raising=False)
    ran = shell.ok("%%jacobian --chain --wrt W,b --at W=[[1,2],[3,4]], x=[0.5,-1], b=[0,1] --out net\n"
                   "W: 2x2\nx: 2\nb: 2\nh = tanh(W @ x + b)\nL = sum(h)")
    assert any("reverse mode" in o.get("text/latex", "") for o in ran.outputs[1:])  # after the entry-level result
    assert any("application/vnd.jupyter.widget-view+json" in o for o in ran.outputs)
    assert [s.name for s in shell.ip.user_ns["net"].steps] == ["h", "L"]
    bad = shell.run("%%jacobian --chain\ng(x) = [x, x]\nh(u) = u")
    assert type(bad.error) is UsageError and "g (line 1) has 2 outputs but h (line 2) takes 1" in str(bad.error)


def test_hessian_through_the_magic(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = shell.ok("%%jacobian --hessian --at x=0,y=0 --out H\nf(x, y) = x**2 - y**2")
    latex, text, words = ("".join(o.get(mime, "") for o in ran.outputs)
                          for mime in ("text/latex", "text/plain", "text/html"))
    assert r"\nabla^2 f" in latex and "saddle" in words  # the Hessian's display, its reading in words outside it
    assert "∇²f" in text and "symmetric" in text
    assert shell.ip.user_ns["H"].hessian == sp.Matrix([[2, 0], [0, -2]])
    monkeypatch.setattr("jacmagic.panels.widgets.has_widget_frontend", lambda: True)
    panel = shell.ok("%%jacobian --hessian --at x=1,y=1\nf(x, y) = x**2 + y**2").result.widget()
    assert "convex here" in panel.output.value
