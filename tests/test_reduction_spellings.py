"""Every numpy (and Python) spelling of one reduction gives one Jacobian, in a plain def (traced entry by entry) and
with --chain (traced array by array): np.max, np.amax, v.max(), np.maximum.reduce, Python's max over the vector or
over a list of its entries; likewise min and sum. Away from ties each agrees with central differences of the map
written here in numpy; at a tie each gives the whole slope to the first of the tied entries (np.argmax's, the
convention of chain/extremes.ReducedMax). A spelling that is not traced is refused naming it and what to write.

The report: `v * v.max()` in a plain def was refused as 'the control flow depends on a symbolic value', and
`v * np.maximum.reduce(v)` leaked the tracer's "'function' object has no attribute 'reduce'"."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from jacmagic import JacmagicError, jacobian

from .helpers import assert_close

SPELLINGS: dict[str, list[str]] = {
    "max": ["np.max(v)", "np.amax(v)", "v.max()", "np.maximum.reduce(v)", "max(v)", "max([v[0], v[1], v[2]])",
            "v.max(axis=0)"],
    "min": ["np.min(v)", "np.amin(v)", "v.min()", "np.minimum.reduce(v)", "min(v)", "min([v[0], v[1], v[2]])"],
    "sum": ["np.sum(v)", "v.sum()", "np.add.reduce(v)", "sum(v)", "sum([v[0], v[1], v[2]])", "np.add.reduce(v, 0)"],
}
NUMPY: dict[str, Callable[[np.ndarray], float]] = {"max": np.max, "min": np.min, "sum": np.sum}
AWAY = [np.array([0.3, -1.2, 2.1]), np.array([1.7, 0.4, -0.6]), np.array([-0.5, -2.0, -0.1])]


def _cell(reduced: str) -> str:
    """The map v * r + sin(r) of a reduction r of v: r's slope reaches every output."""
    return f"import numpy as np\ndef f(v):\n    r = {reduced}\n    return v * r + np.sin(r)\n"


def _map(kind: str, v: np.ndarray) -> np.ndarray:
    r = NUMPY[kind](v)
    return v * r + np.sin(r)


def _differences(kind: str, v: np.ndarray, h: float = 1e-6) -> np.ndarray:
    columns = [(_map(kind, v + h * e) - _map(kind, v - h * e)) / (2 * h) for e in np.eye(len(v))]
    return np.array(columns).T


def _jacobian(cell: str, chain: bool, v: np.ndarray) -> np.ndarray:
    result = jacobian(cell, chain=chain, at={"v": v.tolist()})
    return np.asarray(result.at(v=v), dtype=float).reshape(len(v), len(v))


CASES = [pytest.param(kind, spelled, chain, id=f"{spelled}-{'chain' if chain else 'plain'}")
         for kind, spellings in SPELLINGS.items() for spelled in spellings for chain in (False, True)]


def test_a_defs_v_max_method_is_the_reduction_np_max_is() -> None:
    v = np.array([1.0, 2.0, 3.0])
    got = jacobian("import numpy as np\ndef f(v):\n    return v * v.max()\n", at={"v": v.tolist()}).at(v=v)
    assert_close(np.asarray(got, dtype=float), np.diag([3.0, 3.0, 3.0]) + np.outer(v, [0.0, 0.0, 1.0]))


@pytest.mark.parametrize("chain", [False, True])
def test_np_maximum_reduce_is_np_max_not_the_tracers_attribute_error(chain: bool) -> None:
    v = np.array([1.0, 2.0, 3.0])
    result = jacobian("import numpy as np\ndef f(v):\n    return v * np.maximum.reduce(v)\n", chain=chain,
                      at={"v": v.tolist()})
    assert_close(np.asarray(result.at(v=v), dtype=float), np.diag([3.0, 3.0, 3.0]) + np.outer(v, [0.0, 0.0, 1.0]))


@pytest.mark.parametrize(("kind", "spelled", "chain"), CASES)
def test_every_spelling_of_a_reduction_agrees_with_central_differences(kind: str, spelled: str, chain: bool) -> None:
    for v in AWAY:
        assert_close(_jacobian(_cell(spelled), chain, v), _differences(kind, v), rel=1e-6)


@pytest.mark.parametrize(("kind", "spelled", "chain"), [c for c in CASES if c.values[0] != "sum"])
def test_every_spelling_gives_a_tie_to_the_first_of_the_tied_entries(kind: str, spelled: str, chain: bool) -> None:
    for v in (np.array([2.0, 2.0, 1.0]), np.array([0.0, 0.0, 0.0]), np.array([-1.0, 3.0, 3.0])):
        r = NUMPY[kind](v)
        first = np.eye(3)[int(np.argmax(v) if kind == "max" else np.argmin(v))]
        want = r * np.eye(3) + np.outer(v + np.cos(r), first)
        assert_close(_jacobian(_cell(spelled), chain, v), want)


AXIS_0: dict[str, list[str]] = {
    "max": ["np.max(W, axis=0)", "W.max(axis=0)", "np.maximum.reduce(W)", "np.amax(W, 0)"],
    "sum": ["np.sum(W, axis=0)", "W.sum(axis=0)", "np.add.reduce(W)", "sum(W)"],
}


@pytest.mark.parametrize(("kind", "spelled", "chain"), [
    pytest.param(kind, spelled, chain, id=f"{spelled}-{'chain' if chain else 'plain'}")
    for kind, spellings in AXIS_0.items() for spelled in spellings for chain in (False, True)])
def test_a_matrix_reduced_along_axis_0_alike_in_every_spelling(kind: str, spelled: str, chain: bool) -> None:
    """np.maximum.reduce and Python's sum go along axis 0 by default (per column), as np.max(W, axis=0)."""
    W = np.array([[0.3, -1.2, 2.1], [1.7, 0.4, -0.6]])  # noqa: N806 - a matrix

    def value(w: np.ndarray) -> np.ndarray:
        r = NUMPY[kind](w.reshape(2, 3), axis=0)
        return r * r + np.sin(r)
    h = 1e-6
    want = np.array([(value(W.ravel() + h * e) - value(W.ravel() - h * e)) / (2 * h) for e in np.eye(6)]).T
    cell = f"import numpy as np\ndef f(W):\n    r = {spelled}\n    return r * r + np.sin(r)\n"
    got = jacobian(cell, chain=chain, at={"W": W.tolist()}).at(W=W)
    assert_close(np.asarray(got, dtype=float).reshape(3, 6), want, rel=1e-6)


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize(("body", "named", "instead"), [
    ("v * v.argmax()", "argmax", "np.max(v)"),
    ("v * np.add.accumulate(v)", "np.add.accumulate", "np.add.reduce"),
    ("v * np.subtract.reduce(v)", "np.subtract.reduce", "np.add.reduce"),
    ("v * max(v, key=abs)", "max() with key=", "np.max(v)"),
])
def test_a_spelling_not_traced_is_refused_naming_it_and_what_to_write(body: str, named: str, instead: str,
                                                                      chain: bool) -> None:
    with pytest.raises(JacmagicError) as refused:
        jacobian(f"import numpy as np\ndef f(v):\n    return {body}\n", chain=chain, at={"v": [1.0, 2.0, 3.0]})
    message = str(refused.value)
    assert named in message and instead in message and "symbolic value" not in message, message


@pytest.mark.parametrize("chain", [False, True])
def test_pythons_max_of_a_matrix_compares_rows_and_is_refused_so(chain: bool) -> None:
    with pytest.raises(JacmagicError, match=r"max\(\) here compares whole arrays.*np\.max\(W, axis=0\)"):
        jacobian("import numpy as np\ndef f(W):\n    return np.sum(W) * max(W)\n", chain=chain,
                 at={"W": [[1.0, 2.0], [3.0, 4.0]]})


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize(("body", "same"), [
    ("v * v.clip(0.5, 2.5)", "v * np.clip(v, 0.5, 2.5)"),
    ("v * abs(v)", "v * np.abs(v)"),
    ("v * max(v[0], v[1], 2.0)", "v * np.maximum(np.maximum(v[0], v[1]), 2.0)"),
])
def test_a_method_or_python_builtin_is_its_numpy_function(body: str, same: str, chain: bool) -> None:
    """At ties too (v[0] = 2.0 and 0.5 sit on the bounds and the number)."""
    for v in (np.array([2.0, 1.0, 3.0]), np.array([0.5, -1.0, 2.5]), np.array([-0.3, 0.8, 1.9])):
        forms = [_jacobian(f"import numpy as np\ndef f(v):\n    return {b}\n", chain, v) for b in (body, same)]
        assert_close(forms[0], forms[1])


# -- each array method a user writes is its numpy function, at both levels ------------------------------------------

METHODS = [  # (a method as written, its numpy function): bodies of f(W, v), W 2 x 3 and v of 3 entries
    ("W.T @ (W @ v)", "np.transpose(W) @ np.matmul(W, v)"),
    ("v.dot(v) * v + W.sum()", "np.dot(v, v) * v + np.sum(W)"),
    ("W.dot(v)", "np.dot(W, v)"),
    ("v.mean() * v + W.mean()", "np.mean(v) * v + np.mean(W)"),
    ("W.mean(axis=1) * v.sum()", "np.mean(W, axis=1) * np.sum(v)"),
    ("W.sum(axis=1) ** 2 + v.max()", "np.sum(W, axis=1) ** 2 + np.max(v)"),
    ("W.max(axis=1) * W.min(axis=1) * v.min()", "np.max(W, axis=1) * np.min(W, axis=1) * np.min(v)"),
    ("W.max(axis=0) + v", "np.amax(W, axis=0) + v"),
    ("W.min() * v", "np.minimum.reduce(W, axis=None) * v"),
    ("W.clip(-0.5, 1.0).sum(axis=0) * v", "np.sum(np.clip(W, -0.5, 1.0), axis=0) * v"),
    ("abs(W).sum(axis=0) * v", "np.sum(np.abs(W), axis=0) * v"),
]
W0 = np.array([[0.3, -1.2, 2.1], [1.7, 0.4, -0.6]])
V0 = np.array([0.9, -0.35, 1.4])


def _def(body: str) -> str:
    return f"import numpy as np\ndef f(W, v):\n    return {body}\n"


def _numpy_differences(body: str, h: float = 1e-6) -> np.ndarray:
    """Central differences of the cell's own function run by numpy, by W's entries then v's."""
    scope: dict[str, object] = {}
    exec(_def(body), scope)  # noqa: S102 - the test's own numpy code
    f = scope["f"]

    def value(flat: np.ndarray) -> np.ndarray:
        return np.ravel(f(flat[:6].reshape(2, 3), flat[6:]))  # type: ignore[operator]
    point = np.concatenate([W0.ravel(), V0])
    return np.array([(value(point + h * e) - value(point - h * e)) / (2 * h) for e in np.eye(9)]).T


@pytest.mark.parametrize("chain", [False, True], ids=["plain", "chain"])
@pytest.mark.parametrize(("method", "function"), METHODS, ids=[m for m, _ in METHODS])
def test_an_array_method_is_its_numpy_function(method: str, function: str, chain: bool) -> None:
    want = _numpy_differences(method)
    assert_close(_numpy_differences(function), want, rel=1e-6)  # the table itself: the two spellings agree
    for body in (method, function):
        result = jacobian(_def(body), chain=chain, wrt=("W", "v"), at={"W": W0.tolist(), "v": V0.tolist()})
        assert_close(np.asarray(result.at(W=W0, v=V0), dtype=float).reshape(want.shape), want, rel=1e-6)


def test_astype_float_keeps_a_plain_defs_symbols_and_with_chain_is_refused_saying_to_leave_it_out() -> None:
    """v.astype(float) was refused as 'float() or a math function got a symbolic value'."""
    cell = "import numpy as np\ndef f(v):\n    return v.astype(float) * v\n"
    v = np.array([0.5, -1.0, 2.0])
    assert_close(np.asarray(jacobian(cell, at={"v": v.tolist()}).at(v=v), dtype=float), np.diag(2 * v))
    with pytest.raises(JacmagicError, match=r"\.astype is not traced: a traced array holds floats already; leave "
                                            r"\.astype\(float\) out"):
        jacobian(cell, chain=True, at={"v": v.tolist()})
    with pytest.raises(JacmagicError, match=r"v\.astype\(int64\) is a step function"):
        jacobian(cell.replace("float", "int"), at={"v": v.tolist()})
