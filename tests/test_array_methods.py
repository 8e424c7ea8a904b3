"""A def's array methods and numpy functions beyond the reductions (tests/test_reduction_spellings.py), in a plain
def (traced entry by entry) and with --chain (array by array), against central differences of the cell run by
real numpy: numpy's variance and standard deviation (v.var(), np.std, ddof=, axis=, keepdims=), a matrix's trace
and diagonal (W.trace(), np.trace, W.diagonal(), np.diag); and the refusals of what asks about the values
themselves (v.nonzero(), np.count_nonzero, v.any(), np.all, ...), whose answers jump and have no derivative.

The reports: `v.nonzero()` on traced symbols ran without complaint and gave every index (a symbol is "nonzero" to
numpy's object arrays), so the def computed what numpy would not; `v.trace()` of a vector said "traced as one
number"; `v.any()` said "unsupported operand type(s)"; np.std and np.var had no twin in a plain def; --chain refused
.copy(), .squeeze(), .cumsum() and .item() without saying what to write."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError

from jacmagic import JacmagicError, jacobian

from .conftest import Shell
from .helpers import assert_close

W0 = np.array([[0.3, -1.2, 2.1], [1.7, 0.4, -0.6]])
V0 = np.array([0.9, -0.35, 1.4])
LEVELS = pytest.mark.parametrize("chain", [False, True], ids=["plain", "chain"])


def _def(body: str, constant: bool = False) -> str:
    c = "    c = np.array([1.0, 0.0, 2.0])\n" if constant else ""
    return f"import numpy as np\ndef f(W, v):\n{c}    return {body} + W.sum(axis=0) * v\n"  # both are variables


def _numpy_differences(cell: str, h: float = 1e-6) -> np.ndarray:
    """Central differences of the cell's own function run by real numpy, by W's entries then v's."""
    scope: dict[str, object] = {}
    exec(cell, scope)  # noqa: S102 - the test's own numpy code
    f = scope["f"]

    def value(flat: np.ndarray) -> np.ndarray:
        return np.ravel(f(flat[:6].reshape(2, 3), flat[6:]))  # type: ignore[operator]
    point = np.concatenate([W0.ravel(), V0])
    return np.array([(value(point + h * e) - value(point - h * e)) / (2 * h) for e in np.eye(9)]).T


def _jacobian(cell: str, chain: bool) -> np.ndarray:
    result = jacobian(cell, chain=chain, wrt=("W", "v"), at={"W": W0.tolist(), "v": V0.tolist()})
    return np.asarray(result.at(W=W0, v=V0), dtype=float)


def _refusal(body: str, chain: bool) -> str:
    with pytest.raises(JacmagicError) as refused:
        jacobian(f"import numpy as np\ndef f(v):\n    return {body}\n", chain=chain, at={"v": [1.0, 0.0, 3.0]})
    return str(refused.value)


# -- item 1: what asks about the values is refused on traced values, numpy's own on numbers ------------------------

@LEVELS
def test_v_nonzero_of_a_traced_vector_is_refused_not_answered_with_every_index(chain: bool) -> None:
    """numpy's object arrays call every symbol nonzero: v * len(v.nonzero()[0]) was 3 v at v = [1, 0, 3]."""
    message = _refusal("v * len(v.nonzero()[0])", chain)
    assert message.startswith("line 3: v.nonzero() asks which entries are nonzero") and "np.where(cond, a, b)" in \
        message, message


@LEVELS
def test_v_any_is_refused_naming_it_not_with_an_operand_error(chain: bool) -> None:
    message = _refusal("v * v.any()", chain)
    assert "v.any() asks which entries" in message and "unsupported operand" not in message, message


REFUSED = [  # (a call asking about the values of traced v, as a cell uses it; what the refusal names)
    ("v * len(v.nonzero()[0])", "v.nonzero()"), ("v * len(np.nonzero(v)[0])", "np.nonzero"),
    ("v * len(np.flatnonzero(v))", "np.flatnonzero"), ("v * len(np.argwhere(v))", "np.argwhere"),
    ("v * np.count_nonzero(v)", "np.count_nonzero"), ("v * v.any()", "v.any()"), ("v * v.all()", "v.all()"),
    ("v * np.any(v)", "np.any"), ("v * np.all(v)", "np.all"), ("v * np.any(v > 1)", "np.any"),
    ("v * (v > 1).all()", "v.all()"), ("v * len(np.where(v)[0])", "np.where(cond) with one argument (np.nonzero)"),
    ("v * any(v)", "any()"), ("v * all([v[0], v[1]])", "all()"),
]


@LEVELS
@pytest.mark.parametrize(("body", "named"), REFUSED, ids=[b for b, _ in REFUSED])
def test_a_question_about_traced_values_is_refused_naming_the_call_in_one_paragraph(body: str, named: str,
                                                                                    chain: bool) -> None:
    message = _refusal(body, chain)
    assert f"{named} asks which entries are nonzero" in message and "np.where(cond, a, b)" in message, message
    assert "\n" not in message and message.startswith("line 3: "), message


CONSTANT = ["len(c.nonzero()[0])", "len(np.nonzero(c)[0])", "len(np.flatnonzero(c))", "len(np.argwhere(c))",
            "np.count_nonzero(c)", "c.any()", "c.all()", "np.any(c > 1)", "np.all(c >= 0)", "len(np.where(c)[0])",
            "any(c)", "all(c)", "np.count_nonzero(c > 0.5)"]


@LEVELS
@pytest.mark.parametrize("asked", CONSTANT)
def test_the_same_question_about_numbers_in_the_def_runs_as_numpy(asked: str, chain: bool) -> None:
    cell = _def(f"v * (1.0 + {asked})", constant=True)
    want = _numpy_differences(cell)
    assert_close(_jacobian(cell, chain).reshape(want.shape), want, rel=1e-6)


# -- item 2: trace and diagonal ---------------------------------------------------------------------------------------

@LEVELS
@pytest.mark.parametrize("call", ["v.trace()", "v.diagonal()", "np.trace(v)", "np.diagonal(v)"])
def test_trace_or_diagonal_of_a_vector_says_numpy_needs_two_axes_naming_the_line(call: str, chain: bool) -> None:
    """It said 'an input ... was traced as one number', of a vector given as one."""
    message = _refusal(f"v * np.sum({call})", chain)
    assert message.startswith(f"line 3: {call.replace('(v)', '')} needs a matrix (two axes)"), message
    assert "a vector of shape (3,)" in message and "one number" not in message, message


# -- item 5 and the family: each method is its numpy function ----------------------------------------------------------

PAIRS = [  # (a method as written, its numpy function): bodies of f(W, v), W 2 x 3 and v of 3 entries
    ("v.var() * v", "np.var(v) * v"),
    ("v.std() * v", "np.std(v) * v"),
    ("v.var(ddof=1) * v + v.std(ddof=1)", "np.var(v, ddof=1) * v + np.std(v, ddof=1)"),
    ("W.var(axis=0) * v", "np.var(W, axis=0) * v"),
    ("W.std(axis=0) + W.std() * v", "np.std(W, axis=0) + np.std(W) * v"),
    ("W.std(axis=1).sum() * v + W.var(axis=1)[0]", "np.std(W, axis=1).sum() * v + np.var(W, axis=1)[0]"),
    ("(W.var(axis=1, keepdims=True) * W).sum(axis=0)", "(np.var(W, axis=1, keepdims=True) * W).sum(axis=0)"),
    ("(W @ W.T).trace() * v", "np.trace(W @ W.T) * v"),
    ("W.trace() * v", "np.trace(W) * v"),
    ("W.diagonal() @ W", "np.diag(W) @ W"),
    ("(W @ W.T).diagonal() @ W + v", "np.diagonal(W @ W.T) @ W + v"),
    ("W.T.diagonal() @ W", "np.diag(W.T) @ W"),
]


@LEVELS
@pytest.mark.parametrize(("method", "function"), PAIRS, ids=[m for m, _ in PAIRS])
def test_an_array_method_and_its_numpy_function_agree_with_central_differences(method: str, function: str,
                                                                                  chain: bool) -> None:
    want = _numpy_differences(_def(method))
    assert_close(_numpy_differences(_def(function)), want, rel=1e-6)  # the table itself: the two spellings agree
    for body in (method, function):
        assert_close(_jacobian(_def(body), chain).reshape(want.shape), want, rel=1e-6)


def test_np_std_and_np_var_have_a_plain_def_twin() -> None:
    """They were 'np.std has no symbolic twin known to jacmagic' while v.std() worked."""
    for body in ("np.std(v) * v", "np.var(v) * v"):
        want = _numpy_differences(_def(body))
        assert_close(_jacobian(_def(body), chain=False).reshape(want.shape), want, rel=1e-6)


def test_np_diag_of_a_vector_is_the_diagonal_matrix_in_a_plain_def_and_refused_with_chain() -> None:
    body = "np.diag(v) @ W.T[:, 0] + np.diag(v).sum(axis=1)"
    want = _numpy_differences(_def(body))
    assert_close(_jacobian(_def(body), chain=False).reshape(want.shape), want, rel=1e-6)
    with pytest.raises(JacmagicError, match=r"np\.diag of a vector .* is v \* x entry by entry"):
        _jacobian(_def("np.diag(v) @ v"), chain=True)


# -- item 4: --chain's refusals of methods say what to write ------------------------------------------------------

@pytest.mark.parametrize(("body", "hint"), [
    ("v.copy() * v", "leave .copy() out"), ("v.squeeze() * v", "index the axis of length 1 away (x[0]) or reshape"),
    ("v.cumsum() * v", "running sums are not covered; write the sums"), ("v * v.item()", "index the entry"),
])
def test_with_chain_an_untraced_method_is_refused_with_what_to_write(body: str, hint: str) -> None:
    message = _refusal(body, chain=True)
    assert f"the array method .{body.split('.')[1].split('(')[0]} is not traced: " in message and hint in message, \
        message


# -- through a real IPython shell -------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "body", "said"), [
    ("", "v * len(v.nonzero()[0])", "line 3: v.nonzero() asks which entries are nonzero"),
    ("--chain", "v * np.count_nonzero(v)", "line 3: np.count_nonzero asks which entries are nonzero"),
    ("", "v * v.trace()", "line 3: v.trace() needs a matrix (two axes)"),
    ("--chain", "v.cumsum() * v", "write the sums"),
])
def test_the_refusals_reach_the_notebook_as_usage_errors(shell: Shell, options: str, body: str, said: str) -> None:
    ran = shell.run(f"%%jacobian --no-widgets --at v=[1.0,0.0,3.0] {options}\nimport numpy as np\ndef f(v):\n"
                    f"    return {body}")
    assert type(ran.error) is UsageError and said in str(ran.error), repr(ran.error)
    assert "Traceback" not in ran.stdout and "\n" not in str(ran.error)


def test_numpys_axis_error_of_a_vector_given_as_one_is_not_said_to_be_a_number() -> None:
    """The reader said 'was traced as one number' of any numpy message holding 'dimension'; a number used as an
    array still is (tests/test_trace.py's np.ones(3) @ z)."""
    message = _refusal("v.swapaxes(0, 1).sum() * v", chain=False)
    assert "axis 1 is out of bounds for array of dimension 1" in message and "one number" not in message, message


@pytest.mark.parametrize(("mode", "n"), [("reverse", 400), ("forward", 40)])
def test_with_chain_a_large_matrixs_diagonal_is_one_operation_in_either_mode(mode: str, n: int) -> None:
    """The diagonal is one operation in both modes' walks, not a bracket of one entry operation per place (at
    1000 x 1000 the entries took 4.0 s CPU, the one operation 2.1 s)."""
    W = np.random.default_rng(7).normal(size=(n, n))  # noqa: N806 - a matrix
    cell = "import numpy as np\ndef f(W):\n    d = W.diagonal()\n    return np.sum(np.sin(d)) + W.trace() ** 2\n"
    result = jacobian(cell, chain=True, mode=mode, at={"W": W.tolist()})  # type: ignore[arg-type]
    got = np.asarray(result.at(W=W), dtype=float).reshape(n, n)
    assert_close(got, np.diag(np.cos(np.diag(W)) + 2 * np.trace(W)), rel=1e-9)


CLIPS = [("v.clip(0.5, None)", 0.5, None), ("v.clip(high=2.0)", None, 2.0), ("np.clip(v, None, 2.0)", None, 2.0),
         ("v.clip(0.5, 2.0)", 0.5, 2.0)]


@pytest.mark.parametrize(("body", "low", "high"), CLIPS)
def test_with_chain_a_clip_with_one_bound_left_out_is_the_plain_defs(body: str, low: float | None,
                                                                      high: float | None) -> None:
    """Found by review: with --chain a bound given as None met a traced value ('a NoneType ... meets a traced');
    the plain def skipped it. The slope of sum(clip(v)**2) is 2v inside the bounds and 0 where clipped."""
    v = np.array([0.1, 1.0, 3.0])
    got = jacobian(f"def f(v):\n    return np.sum({body}**2)\n", chain=True, at={"v": v.tolist()},
                   namespace={"np": np}).gradient()["v"]  # type: ignore[union-attr]
    inside = (v >= (-np.inf if low is None else low)) & (v <= (np.inf if high is None else high))
    assert np.allclose(got, np.where(inside, 2 * v, 0.0))
