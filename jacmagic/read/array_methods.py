"""The array methods and numpy functions a --chain def may call beyond the tracer's arithmetic: numpy's
variance and standard deviation (x.var(), np.std), a matrix's trace and diagonal (W.trace(), np.diag), and
the refusals of what asks about the values themselves (v.nonzero(), np.count_nonzero, v.any()), which have no
derivative. `numpy_rules` adds them to the tracer's tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jacmagic.chain.linear import Diagonal
from jacmagic.chain.matrix_functions import Trace
from jacmagic.read.by_values import needs_matrix
from jacmagic.read.tracer import FUNCTIONS, UFUNCS, Tracer, axis_of, operand, reduction, refuse_batch
from jacmagic.read.untraceable import Untraceable, value_dependent


def _spread(kind: str) -> Callable[..., Tracer]:
    """np.var and np.std as numpy computes them: the mean square of the deviations from the mean (over every entry
    or along an axis), times n / (n - ddof); std its square root."""
    def spread(value: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
               keepdims: bool = False) -> Tracer:
        if dtype is not None or out is not None:
            raise Untraceable(f"np.{kind} with dtype= or out= is not traced: axis=, ddof= and keepdims= are")
        traced = operand(value)
        along = axis_of(kind, traced, axis)
        count = traced.size if along is None else traced.node.shape[along]
        deviations = traced - reduction("mean", traced, axis, {"keepdims": True})
        variance = reduction("mean", deviations ** 2, axis, {"keepdims": keepdims})
        if ddof:
            variance = variance * (count / (count - ddof))
        return UFUNCS["sqrt"](variance) if kind == "std" else variance  # type: ignore[no-any-return]
    return spread


def _matrix(spelled: str, value: Any) -> Tracer:
    traced = operand(value)
    refuse_batch(f"{spelled} of", traced)
    if traced.ndim != 2:
        raise needs_matrix(spelled, traced.shape)
    return traced


def _diagonal(spelled: str) -> Callable[..., Tracer]:
    """W.diagonal(), np.diagonal(W), np.diag(W): the entries W[i, i], a vector as long as the shorter side."""
    def diagonal(value: Any) -> Tracer:
        return Tracer(Diagonal(_matrix(spelled, value).node), 1)
    return diagonal


def _trace(spelled: str) -> Callable[..., Tracer]:
    """W.trace(), np.trace(W): tr(W) of a square matrix, the sum of the diagonal's entries of any other."""
    def trace(value: Any) -> Tracer:
        traced = _matrix(spelled, value)
        if traced.shape[0] == traced.shape[1]:
            return Tracer(Trace(traced.node), 0)
        return reduction("sum", _diagonal(spelled)(traced))
    return trace


def _diag(value: Any) -> Tracer:
    """np.diag of a matrix is its diagonal; of a vector (the diagonal matrix) not traced."""
    if operand(value).ndim == 1:
        raise Untraceable("np.diag of a vector (the matrix with it on the diagonal) is not traced with --chain; "
                          "np.diag(v) @ x is v * x entry by entry, and W.diagonal() or np.diag(W) of a matrix is")
    return _diagonal("np.diag")(value)


def _refused(call: str) -> Callable[..., Tracer]:
    def refuse(*_: Any, **__: Any) -> Tracer:
        raise value_dependent(call)
    return refuse


_BY_VALUES = ("nonzero", "flatnonzero", "argwhere", "count_nonzero", "any", "all")
FUNCTION_RULES: dict[str, Callable[..., Any]] = {
    "var": _spread("var"), "std": _spread("std"), "trace": _trace("np.trace"),
    "diagonal": _diagonal("np.diagonal"), "diag": _diag,
    **{name: _refused(f"np.{name}") for name in _BY_VALUES},
}
METHOD_RULES: dict[str, Callable[..., Any]] = {
    "var": FUNCTION_RULES["var"], "std": FUNCTION_RULES["std"], "trace": _trace("v.trace()"),
    "diagonal": _diagonal("v.diagonal()"), "transpose": lambda traced: traced.T,
    "clip": lambda traced, low=None, high=None: FUNCTIONS["clip"](traced, low, high),
    **{name: _refused(f"v.{name}()") for name in ("nonzero", "any", "all")},
}
