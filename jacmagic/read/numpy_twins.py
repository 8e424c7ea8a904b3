"""The symbolic twins of numpy and math that a traced Python function sees: `np.sin`, `numpy.exp`, `math.sqrt`
and names imported from them map to sympy, numpy's element-wise functions act entry by entry on arrays of symbols,
and its reductions (np.sum, np.max) combine the entries into one expression."""

from __future__ import annotations

import math
import operator
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp

from jacmagic.chain.activations import Abs, relu, sigmoid, softplus
from jacmagic.chain.extremes import ReducedMax, ReducedMin, maximum, minimum
from jacmagic.chain.functions import KNOWN_FUNCTIONS
from jacmagic.errors import CellError
from jacmagic.read.by_values import by_values, entries_of, holds_symbols, of_matrix, python_test
from jacmagic.read.names import STEP_FUNCTIONS, step_refusal
from jacmagic.read.unevaluated import evaluated
from jacmagic.read.untraceable import arrays_compared, extreme_options


class SymbolicArray(np.ndarray):
    """A numpy array of sympy expressions whose comparisons give arrays of conditions (plain object arrays ask
    each condition for True or False), so `np.where(z > 0, z, 0)` traces entry by entry."""

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        """A result with no axes left (`z @ z`, `z.sum()`) is the sympy expression itself, as numpy's own
        scalars are for numbers."""
        wrapped = super().__array_wrap__(array, context, return_scalar)
        return wrapped.item() if isinstance(wrapped, np.ndarray) and wrapped.ndim == 0 else wrapped

    def _compare(self, other: Any, ufunc: np.ufunc) -> SymbolicArray:
        return ufunc(np.asarray(self), np.asarray(other, dtype=object), dtype=object).view(SymbolicArray)

    def __gt__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        return self._compare(other, np.greater_equal)

    def __lt__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        return self._compare(other, np.less_equal)

    def __eq__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        """An equation per entry: Python's == of sympy objects says whether they are written alike."""
        return self._compare(other, _EQUAL)

    def __ne__(self, other: Any) -> SymbolicArray:  # type: ignore[override]
        return self._compare(other, _UNEQUAL)

    # the methods whose numpy loop compares or rounds entries (which symbols cannot answer): as the np. twins
    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False,  # type: ignore[override]
            **options: Any) -> Any:
        return reduced("v.max()", ReducedMax, self, axis, keepdims, {**options, "out": out})

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False,  # type: ignore[override]
            **options: Any) -> Any:
        return reduced("v.min()", ReducedMin, self, axis, keepdims, {**options, "out": out})

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,  # type: ignore[override]
            keepdims: bool = False, **options: Any) -> Any:
        """numpy's variance, the mean square of the deviations from the mean, without the complex conjugate
        numpy's loop takes of each object (the traced entries are real)."""
        array = np.asarray(self, dtype=object)
        deviations = array - np.mean(array, axis=axis, keepdims=True)
        return reduced("v.var()", lambda *d: sp.Add(*(x**2 for x in d)) / (len(d) - ddof), deviations, axis,
                       keepdims, {**options, "dtype": dtype, "out": out})

    def std(self, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        return _elementwise(sp.sqrt)(self.var(*args, **options))

    # numpy's loop would ask each symbol whether it is nonzero (always, it says): refused, numbers as numpy
    nonzero = by_values("v.nonzero()", np.ndarray.nonzero)  # type: ignore[assignment]
    any = by_values("v.any()", np.ndarray.any)  # type: ignore[assignment]
    all = by_values("v.all()", np.ndarray.all)  # type: ignore[assignment]
    trace = of_matrix("v.trace()", np.ndarray.trace)  # type: ignore[assignment]
    diagonal = of_matrix("v.diagonal()", np.ndarray.diagonal)  # type: ignore[assignment]

    def clip(self, low: Any = None, high: Any = None, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        return _clip(self, low, high, *args, **options)

    def argmax(self, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        raise CellError(_INDEX.format(kind="max"))

    def argmin(self, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        raise CellError(_INDEX.format(kind="min"))

    def round(self, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        raise CellError(step_refusal("v.round()"))

    def astype(self, dtype: Any, *args: Any, **options: Any) -> Any:  # type: ignore[override]
        """v.astype(float) keeps the symbols (numpy would ask each for a float); to whole numbers is a step."""
        if np.dtype(dtype).kind != "f":
            raise CellError(step_refusal(f"v.astype({np.dtype(dtype).name})"))
        return self.copy()


_INDEX = ("v.arg{kind}() gives the place of the {kind}imum, a whole number that jumps from one entry to the next and "
          "has no derivative; write np.{kind}(v) (or v.{kind}()) for the value itself")


_EQUAL = np.frompyfunc(lambda a, b: sp.Eq(a, b), 2, 1)
_UNEQUAL = np.frompyfunc(lambda a, b: sp.Ne(a, b), 2, 1)


def _condition(test: Any) -> Any:
    """numpy's reading of a condition: a comparison as it is, a number or expression holds where it is not 0
    (np.where(x, a, b) chooses a where x != 0)."""
    if isinstance(test, (sp.Expr, int, float, np.number)) and not isinstance(test, (bool, np.bool_)):
        return sp.Ne(test, 0)
    return test


def _choose(test: Any, then: Any, otherwise: Any) -> sp.Expr:
    """np.where, built with sympy's evaluation on while the rest of a def runs without it: a Piecewise rewrites a
    condition holding another one, which sympy cannot do unevaluated."""
    with evaluated():
        return KNOWN_FUNCTIONS["where"][0](_condition(test), then, otherwise)


def symbolic_array(values: Any, *args: Any, **kwargs: Any) -> SymbolicArray:
    """`np.array` while tracing: whatever dtype was asked for, the entries stay symbolic."""
    return np.asarray(values, dtype=object).view(SymbolicArray)


def _entries(values: Any, spelled: str) -> list[Any]:
    """The entries a reducing numpy function (np.sum, np.max) runs over; one bare number means an input that
    should have been a vector, whose shape the cell did not give."""
    if isinstance(values, sp.Expr) and values.free_symbols:
        name = sorted(values.free_symbols, key=lambda s: s.name)[0].name
        raise CellError(f"{spelled} got a single number, {sp.sstr(values)[:40]}; if {name} is a vector, give "
                        f"its shape: a line `{name}: 3` in the cell, or --at {name}=[1, 2, 3]")
    return entries_of(values)


def reduced(spelled: str, combine: Callable[..., Any], values: Any, axis: Any = None, keepdims: bool = False,
            options: Mapping[str, Any] | None = None) -> Any:
    """A reduction however numpy spells it (np.max, v.max(), np.maximum.reduce): one expression of every entry,
    or along an axis an array of them (axis=0 per column), numpy's shape kept with keepdims=True."""
    if any(value is not None for value in (options or {}).values()):
        raise CellError(f"{spelled} with {', '.join(k for k, v in (options or {}).items() if v is not None)}= is "
                        "not traced: axis= and keepdims= are")
    if axis is None and not keepdims:
        return combine(*_entries(values, spelled))
    array = np.asarray(values, dtype=object)
    try:
        if axis is None:
            result = np.full((1,) * array.ndim, combine(*array.ravel()), dtype=object)
        else:
            result = np.apply_along_axis(lambda line: combine(*line), axis, array)
            result = np.expand_dims(result, axis) if keepdims else result
    except (ValueError, IndexError):  # numpy's AxisError is both
        raise CellError(f"{spelled}: axis={axis!r} does not fit an array of shape {array.shape} (axis=0 works per "
                        "column, axis=1 per row)") from None
    return result.item() if result.ndim == 0 else symbolic_array(result)


def _reducing(function: str, combine: Callable[..., Any]) -> Callable[..., Any]:
    def reduce(values: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **options: Any) -> Any:
        return reduced(f"np.{function}", combine, values, axis, keepdims, {**options, "out": out})
    return reduce


class _Ufunc:
    """np.maximum, np.add, ... as a def sees them: called, entry by entry; `.reduce` the reduction numpy means
    by it (np.maximum.reduce is np.max along axis 0 by default); their other methods refused by name."""

    def __init__(self, name: str, apply: Callable[..., Any], combine: Callable[..., Any] | None,
                 alike: str) -> None:
        self.__name__, self._apply, self._combine, self._alike = name, apply, combine, alike

    def __call__(self, *args: Any) -> Any:
        return self._apply(*args)

    def reduce(self, values: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: bool = False,
               **options: Any) -> Any:
        if self._combine is None:
            raise CellError(f"np.{self.__name__}.reduce is not traced; {self._alike}")
        return reduced(f"np.{self.__name__}.reduce", self._combine, values, axis, keepdims,
                       {**options, "dtype": dtype, "out": out})

    def __getattr__(self, method: str) -> Any:
        if method.startswith("__"):
            raise AttributeError(method)
        raise CellError(f"np.{self.__name__}.{method} is not traced; {self._alike}")


def _ufuncs(table: Mapping[str, Any]) -> dict[str, _Ufunc]:
    """numpy's arithmetic and extremes as ufuncs with `.reduce`, on the element-wise twins of `table`."""
    reductions = {"add": (sp.Add, "sum"), "multiply": (sp.Mul, "prod"), "maximum": (ReducedMax, "max"),
                  "minimum": (ReducedMin, "min")}
    apply = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul, "divide": operator.truediv}
    made = {}
    for name in ("add", "subtract", "multiply", "divide", "maximum", "minimum"):
        combine, alike = reductions.get(name, (None, ""))
        hint = (f"np.{name}.reduce (np.{alike} along axis 0) is" if combine is not None else
                "of numpy's ufunc methods only np.add.reduce, np.multiply.reduce, np.maximum.reduce and "
                "np.minimum.reduce are")
        made[name] = _Ufunc(name, table.get(name) or _elementwise(apply[name]), combine, hint)
    return made


def _clip(values: Any, low: Any, high: Any, *args: Any, **options: Any) -> Any:
    """np.clip(v, low, high) and v.clip: max with low, then min with high, entry by entry as --chain reads it."""
    if args or options:
        raise CellError("np.clip with options beyond the two bounds is not traced")
    clipped = values if low is None else _elementwise(maximum)(values, low)
    return clipped if high is None else _elementwise(minimum)(clipped, high)


def _python_extreme(kind: str, builtin: Callable[..., Any]) -> Callable[..., Any]:
    """Python's max and min in a def: of traced values, max(v) or max([a, b, c]) (one collection) is the
    reduction np.max is, max(a, b, c) the written max of a math cell; of numbers alone Python's own."""
    over_entries, written = (ReducedMax, maximum) if kind == "max" else (ReducedMin, minimum)

    def extreme(*args: Any, **options: Any) -> Any:
        items = list(args[0]) if len(args) == 1 else list(args)
        if not any(holds_symbols(item) for item in items):
            return builtin(items, **options)
        if options:
            raise extreme_options(kind, options)
        if any(isinstance(item, np.ndarray) and item.ndim for item in items):
            raise arrays_compared(kind)
        return over_entries(*items) if len(args) == 1 else written(*items)
    return extreme


def _elementwise(function: Callable[..., Any]) -> Callable[..., Any]:
    """A symbolic function that also applies entry by entry to numpy arrays of symbols, as numpy's ufuncs do."""
    def apply(*args: Any) -> Any:
        if any(isinstance(a, np.ndarray) for a in args):
            return symbolic_array(np.frompyfunc(function, len(args), 1)(*args))
        return function(*args)
    return apply


def _numbers_only(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A math function: of numbers only, as Python's own math module (which refuses an array)."""
    def apply(*args: Any) -> Any:
        if any(isinstance(a, (np.ndarray, list, tuple)) for a in args):
            raise CellError(f"math.{name} takes numbers, not an array, as in Python; use np.{name} for an array")
        return function(*args)
    return apply


def _native(function: Callable[..., Any]) -> Callable[..., Any]:
    """A numpy function that works on arrays of sympy objects as it is (np.dot, @, transpose)."""
    def apply(*args: Any, **kwargs: Any) -> Any:
        result = function(*(np.asarray(a, dtype=object) if isinstance(a, (list, tuple)) else a for a in args),
                          **kwargs)
        return symbolic_array(result) if isinstance(result, np.ndarray) else result
    return apply


def _heaviside(z: Any, at_zero: Any = sp.S.Half) -> sp.Expr:
    """np.heaviside(z, value at 0): the value at 0 is a number, which has no derivative to take."""
    if sp.sympify(at_zero).free_symbols:
        raise CellError(f"np.heaviside's second argument is its value at 0, a number; got {sp.sstr(at_zero)[:40]}")
    return sp.Heaviside(z, at_zero)


def _known(*names: str) -> dict[str, Any]:
    """The formula functions of these names: a def's np.sin is the math form's sin, one definition of each."""
    return {name: KNOWN_FUNCTIONS[name][0] for name in names}


# numpy and math spellings with the same meaning as in a formula, then their own additions
_SHARED: dict[str, Any] = {
    **_known("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "sqrt", "log2", "log10", "erf", "hypot"),
    "pi": sp.pi, "e": sp.E, "fabs": Abs, "expm1": lambda z: sp.exp(z) - 1, "log1p": lambda z: sp.log(1 + z),
}
ELEMENTWISE: dict[str, Any] = {
    **_SHARED,
    **_known("arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "abs", "sign", "cbrt",
             "sigmoid", "relu", "softplus"),
    "where": _choose,
    "absolute": Abs, "maximum": maximum, "minimum": minimum, "heaviside": _heaviside, "square": lambda z: z**2,
    "power": sp.Pow, "exp2": lambda z: 2**z, "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
    "float64": lambda z: z,
}
_LOGICAL: dict[str, Any] = {
    "logical_not": lambda a: sp.Not(_condition(a)), "logical_and": lambda a, b: sp.And(_condition(a), _condition(b)),
    "logical_or": lambda a, b: sp.Or(_condition(a), _condition(b)),
    "logical_xor": lambda a, b: sp.Xor(_condition(a), _condition(b)), "equal": sp.Eq, "not_equal": sp.Ne,
}
_NUMPY: dict[str, Any] = {
    **{name: _elementwise(f) if callable(f) else f for name, f in {**ELEMENTWISE, **_LOGICAL}.items()},
    "sum": _reducing("sum", sp.Add), "max": _reducing("max", ReducedMax), "amax": _reducing("amax", ReducedMax),
    "min": _reducing("min", ReducedMin), "amin": _reducing("amin", ReducedMin), "prod": _reducing("prod", sp.Mul),
    "mean": _reducing("mean", lambda *v: sp.Add(*v) / len(v)), "clip": _clip,
    "array": symbolic_array, "asarray": symbolic_array,
    **{name: _native(getattr(np, name)) for name in ("dot", "matmul", "outer", "transpose", "stack", "hstack",
                                                     "vstack", "concatenate", "diag", "reshape", "zeros_like",
                                                     "ones_like")},
    "zeros": lambda shape, *a, **k: symbolic_array(np.zeros(shape, dtype=object)),
    "ones": lambda shape, *a, **k: symbolic_array(np.ones(shape, dtype=object)),
    "newaxis": None,
}
_NUMPY.update(_ufuncs(_NUMPY))
_MATH: dict[str, Any] = {
    name: _numbers_only(name, f) if callable(f) else f
    for name, f in {**_SHARED, **_known("asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh"), "pow": sp.Pow,
                    "tau": 2 * sp.pi}.items()
}
# jacmagic's activations, offered to def cells by their bare names: element-wise on arrays as numpy's ufuncs are
def _of_arrays(function: Callable[..., Any]) -> Callable[..., Any]:
    """A formula function of whole arrays (cross_entropy, mse) called with the tracer's arrays of symbols."""
    def apply(*args: Any) -> Any:
        return function(*(sp.ImmutableMatrix(np.asarray(a, dtype=object).tolist()) if np.ndim(a) else a
                          for a in args))
    return apply


# jacmagic's own functions, offered to a def as to every other cell form: activations entry by entry, the
# classifier's losses of whole arrays; and Python's max and min, which on traced values would ask a comparison
ACTIVATIONS: dict[str, Any] = {
    "max": _python_extreme("max", max), "min": _python_extreme("min", min),
    "any": python_test("any", any), "all": python_test("all", all),
    **{f.__name__: _elementwise(f) for f in (sigmoid, relu, softplus)},
    **{name: _elementwise(KNOWN_FUNCTIONS[name][0]) for name in ("gelu", "leaky_relu")},
    **{name: _of_arrays(KNOWN_FUNCTIONS[name][0]) for name in ("cross_entropy", "mse")},
}


def _of_matrix(name: str) -> Callable[..., Any]:
    """tr, det, inv, norm of an array of symbols: a number, or (inv) an array again."""
    def apply(a: Any) -> Any:
        value = KNOWN_FUNCTIONS[name][0](sp.ImmutableMatrix(np.asarray(a, dtype=object).tolist()))
        return symbolic_array(value.tolist()) if isinstance(value, sp.MatrixBase) else value
    return apply


class _SymbolicModule(types.SimpleNamespace):
    """Stands in for numpy or math while a function is traced; unknown attributes get a clear error."""

    def __init__(self, label: str, table: Mapping[str, Any]) -> None:
        super().__init__(**table)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in STEP_FUNCTIONS:
            raise CellError(step_refusal(f"{self._label}.{name}"))
        known = [k for k in ("sin", "exp", "where") if k in vars(self)] or [k for k in vars(self) if k[0] != "_"][:3]
        examples = ", ".join(f"{self._label}.{k}" for k in known)
        raise CellError(f"{self._label}.{name} has no symbolic twin known to jacmagic; use a function such as "
                        f"{examples}")


def _where_or_nonzero(where: Callable[..., Any]) -> Callable[..., Any]:
    """np.where(cond, a, b) entry by entry; np.where(cond) alone is np.nonzero(cond), as numpy's is."""
    nonzero = by_values("np.where(cond) with one argument (np.nonzero)", np.nonzero)

    def choose(test: Any, *branches: Any) -> Any:
        return where(test, *branches) if branches else nonzero(test)
    return choose


_NUMPY.update({
    **{name: by_values(f"np.{name}", getattr(np, name)) for name in ("nonzero", "flatnonzero", "argwhere",
                                                                      "count_nonzero", "any", "all")},
    "trace": of_matrix("np.trace", _native(np.trace)), "diagonal": of_matrix("np.diagonal", _native(np.diagonal)),
    "var": lambda values, *args, **options: symbolic_array(values).var(*args, **options),
    "std": lambda values, *args, **options: symbolic_array(values).std(*args, **options),
    "where": _where_or_nonzero(_NUMPY["where"]),
})
_NUMPY["linalg"] = _SymbolicModule("np.linalg", {"det": _of_matrix("det"), "inv": _of_matrix("inv"),
                                                 "norm": _of_matrix("norm")})
NUMPY_SHIM = _SymbolicModule("np", _NUMPY)
MATH_SHIM = _SymbolicModule("math", _MATH)


def symbolic_twin(value: Any) -> Any:
    """The stand-in for a numpy/math module or a function taken from one; anything else unchanged."""
    if isinstance(value, types.ModuleType):
        if value.__name__ == "numpy":
            return NUMPY_SHIM
        if value is math:
            return MATH_SHIM
        return value
    try:
        module = getattr(value, "__module__", None) or ""
        name = getattr(value, "__name__", None)
    except Exception:  # noqa: BLE001 - a namespace object whose __getattr__ raises is simply left alone
        return value
    if not isinstance(module, str) or not isinstance(name, (str, type(None))):
        return value
    if name and callable(value) and not isinstance(value, (types.FunctionType, type)):
        if module == "math" and name in _MATH:
            return _MATH[name]
        if (module.startswith("numpy") or type(value).__name__ == "ufunc") and name in _NUMPY:
            return _NUMPY[name]
    return value
