"""Python functions and sympy objects -> model, by calling the function with real symbols.

A `def` cell is Python and runs as the user's own code would (in a copy of the user namespace, so nothing there is
changed). Before tracing, a function sees symbolic twins instead of numpy and math: `np.sin`, `numpy.exp`,
`math.sqrt` and names imported from them map to sympy, so a function written for real numpy traces unchanged.
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import CellError
from .formula import element_symbols, real_symbol, refuse_twins
from .functions import KNOWN_FUNCTIONS, Abs, relu, sigmoid, sign, softplus
from .model import CellModel, Shape, Stage, distinct_nodes, symbols_in
from .parse import output_symbols
from .source import python_declarations, refuse_entry_level

CELL_FILENAME = "<jacobian cell>"


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


def symbolic_array(values: Any, *args: Any, **kwargs: Any) -> SymbolicArray:
    """`np.array` while tracing: whatever dtype was asked for, the entries stay symbolic."""
    return np.asarray(values, dtype=object).view(SymbolicArray)


def _entries(values: Any, function: str) -> list[Any]:
    """The entries a reducing numpy function (np.sum, np.max) runs over; one bare number means an input that
    should have been a vector, whose shape the cell did not give."""
    if isinstance(values, sp.Expr) and values.free_symbols:
        name = sorted(values.free_symbols, key=lambda s: s.name)[0].name
        raise CellError(f"np.{function} got a single number, {sp.sstr(values)[:40]}; if {name} is a vector, give "
                        f"its shape: a line `{name}: 3` in the cell, or --at {name}=[1, 2, 3]")
    return _entries_of(values)


def _reducing(function: str, combine: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    def reduce(values: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            raise CellError(f"np.{function} over a whole array only: axis and other options are not traced")
        return combine(_entries(values, function))
    return reduce


def _elementwise(function: Callable[..., Any]) -> Callable[..., Any]:
    """A symbolic function that also applies entry by entry to numpy arrays of symbols, as numpy's ufuncs do."""
    def apply(*args: Any) -> Any:
        if any(isinstance(a, np.ndarray) for a in args):
            return symbolic_array(np.frompyfunc(function, len(args), 1)(*args))
        return function(*args)
    return apply


def _native(function: Callable[..., Any]) -> Callable[..., Any]:
    """A numpy function that works on arrays of sympy objects as it is (np.dot, @, transpose)."""
    def apply(*args: Any, **kwargs: Any) -> Any:
        result = function(*(np.asarray(a, dtype=object) if isinstance(a, (list, tuple)) else a for a in args),
                          **kwargs)
        return symbolic_array(result) if isinstance(result, np.ndarray) else result
    return apply


def _known(*names: str) -> dict[str, Any]:
    """The formula functions of these names: a def's np.sin is the math form's sin, one definition of each."""
    return {name: KNOWN_FUNCTIONS[name][0] for name in names}


# numpy and math spellings with the same meaning as in a formula, then their own additions
_SHARED: dict[str, Any] = {
    **_known("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "sqrt", "log2", "log10", "erf", "hypot"),
    "pi": sp.pi, "e": sp.E, "fabs": Abs, "expm1": lambda z: sp.exp(z) - 1, "log1p": lambda z: sp.log(1 + z),
}
_ELEMENTWISE: dict[str, Any] = {
    **_SHARED,
    **_known("arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "abs", "sign", "cbrt",
             "where", "sigmoid", "relu", "softplus"),
    "absolute": Abs, "maximum": sp.Max, "minimum": sp.Min, "heaviside": sp.Heaviside, "square": lambda z: z**2,
    "power": sp.Pow, "exp2": lambda z: 2**z, "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
    "float64": lambda z: z,
}
_NUMPY: dict[str, Any] = {
    **{name: _elementwise(f) if callable(f) else f for name, f in _ELEMENTWISE.items()},
    "sum": _reducing("sum", lambda v: sp.Add(*v)), "max": _reducing("max", lambda v: sp.Max(*v)),
    "amax": _reducing("amax", lambda v: sp.Max(*v)), "min": _reducing("min", lambda v: sp.Min(*v)),
    "amin": _reducing("amin", lambda v: sp.Min(*v)), "mean": _reducing("mean", lambda v: sp.Add(*v) / len(v)),
    "array": symbolic_array, "asarray": symbolic_array,
    **{name: _native(getattr(np, name)) for name in ("dot", "matmul", "outer", "transpose", "stack", "hstack",
                                                     "vstack", "concatenate", "diag", "reshape", "zeros_like",
                                                     "ones_like")},
    "zeros": lambda shape, *a, **k: symbolic_array(np.zeros(shape, dtype=object)),
    "ones": lambda shape, *a, **k: symbolic_array(np.ones(shape, dtype=object)),
    "newaxis": None,
}
def _of_arrays(function: Callable[..., Any]) -> Callable[..., Any]:
    """A formula function of whole arrays (cross_entropy, mse) called with the tracer's arrays of symbols."""
    def apply(*args: Any) -> Any:
        return function(*(sp.ImmutableMatrix(np.asarray(a, dtype=object).tolist()) if np.ndim(a) else a
                          for a in args))
    return apply


# jacmagic's classifier functions, offered to a def as to every other cell form
_CLASSIFIER_PIECES: dict[str, Any] = {
    **{name: _elementwise(KNOWN_FUNCTIONS[name][0]) for name in ("gelu", "leaky_relu")},
    **{name: _of_arrays(KNOWN_FUNCTIONS[name][0]) for name in ("cross_entropy", "mse")},
}
_MATH: dict[str, Any] = {
    **_SHARED, **_known("asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh"), "pow": sp.Pow, "tau": 2 * sp.pi,
}


class _SymbolicModule(types.SimpleNamespace):
    """Stands in for numpy or math while a function is traced; unknown attributes get a clear error."""

    def __init__(self, label: str, table: Mapping[str, Any]) -> None:
        super().__init__(**table)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise CellError(f"{self._label}.{name} has no symbolic twin known to jacmagic; use a function such as "
                        f"{self._label}.sin, {self._label}.exp, {self._label}.where")


_NUMPY_SHIM = _SymbolicModule("np", _NUMPY)
_MATH_SHIM = _SymbolicModule("math", _MATH)


def _symbolic_twin(value: Any) -> Any:
    """The stand-in for a numpy/math module or a function taken from one; anything else unchanged."""
    if isinstance(value, types.ModuleType):
        if value.__name__ == "numpy":
            return _NUMPY_SHIM
        if value is math:
            return _MATH_SHIM
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


def _rebind(function: types.FunctionType, cache: dict[int, types.FunctionType] | None = None) -> types.FunctionType:
    """A copy of `function` whose globals hold the symbolic twins; helper functions are rebound the same way."""
    cache = {} if cache is None else cache
    if id(function) in cache:
        return cache[id(function)]
    original = function.__globals__
    scope: dict[str, Any] = {}
    closure = tuple(types.CellType(_symbolic_twin(c.cell_contents)) if c.cell_contents is not None else c
                    for c in function.__closure__ or ()) or None
    copy = types.FunctionType(function.__code__, scope, function.__name__, function.__defaults__, closure)
    copy.__kwdefaults__ = function.__kwdefaults__
    cache[id(function)] = copy
    for key, value in original.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is original and value is not function:
            scope[key] = _rebind(value, cache)
        else:
            scope[key] = _symbolic_twin(value)
    scope.setdefault("__builtins__", original.get("__builtins__", __builtins__))
    return copy


def is_def_cell(text: str) -> bool:
    """A cell is Python when any top-level line starts a def or an import (a decorator alone is not: a line
    continuing a formula may start with @, the matrix product)."""
    return any(line.startswith(("def ", "async def ", "import ", "from ")) for line in text.split("\n"))


def _error_line(tb: Any, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _explain(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, TypeError) and ("truth value" in text or "relational" in text.lower()):
        return ("the control flow depends on a symbolic value (an if, max() or comparison on an input); "
                "write it with np.where(cond, a, b) or sympy.Piecewise so it can be differentiated")
    if isinstance(err, TypeError) and "convert expression to float" in text.lower():
        return "float() or a math function got a symbolic value; use np. or math. functions, which are traced"
    if isinstance(err, NameError):
        return f"{text}"
    if isinstance(err, (TypeError, AttributeError, ValueError)) and ("'Symbol'" in text or "dimension" in text):
        return (f"{text}: an input is used as a vector or matrix but was traced as one number; give its shape "
                "with a line `z: 3` (or `W: 2x3`) in the cell, or with the point: --at z=[1, 2, 3]")
    return f"{type(err).__name__}: {text}"


def trace_cell(text: str, namespace: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]] | None = None
               ) -> CellModel:
    """Runs a def cell in a copy of the user namespace and traces the last function it defines. Its vector
    and matrix parameters take their shapes from the cell's shape lines (`z: 3`) or from `shapes` (the point)."""
    text, declared = python_declarations(text)
    refuse_entry_level(declared, "a Python function is traced entry by entry; write the layers as assignment lines "
                                 "with --chain for any size")
    try:
        tree = ast.parse(text, CELL_FILENAME)
    except SyntaxError as err:
        raise CellError(f"{err.msg}: {(err.text or '').strip()[:80]}", err.lineno, err.offset) from None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        raise CellError("this Python cell defines no function: write def f(x, y): return [...]", 1)
    scope = {"sigmoid": sigmoid, "relu": relu, "softplus": softplus, **_CLASSIFIER_PIECES,
             **namespace, "np": _NUMPY_SHIM, "numpy": _NUMPY_SHIM, "math": _MATH_SHIM}
    try:
        exec(compile(tree, CELL_FILENAME, "exec"), scope)  # noqa: S102 - a def cell is the user's own Python
    except CellError:
        raise
    except Exception as err:  # the user's code failed: say where, as their own code would
        raise CellError(_explain(err), _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    target = scope[defs[-1].name]
    params = set(inspect.signature(target).parameters)
    for declaration in declared.values():
        if declaration.name not in params:
            raise CellError(f"{declaration.name} is declared but is not a parameter of {defs[-1].name}",
                            declaration.line)
    given = {**(shapes or {}), **{d.name: d.dims for d in declared.values()}}
    return trace_function(target, defs[-1].name, CELL_FILENAME, given)


def trace_function(function: Callable[..., Any], name: str = "", filename: str | None = None,
                   shapes: Mapping[str, tuple[int, ...]] | None = None) -> CellModel:
    """Calls `function` with one real symbol per parameter without a default (an array of them for a
    parameter with a shape: a vector for n x 1, a matrix otherwise) and reads what it returns."""
    name = name or getattr(function, "__name__", "f")
    if isinstance(function, types.FunctionType):
        function = _rebind(function)
        filename = filename or function.__code__.co_filename
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise CellError(f"{name} has no signature to read its inputs from") from None
    names = [p.name for p in signature.parameters.values()
             if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not names:
        raise CellError(f"{name} takes no inputs: give it parameters, e.g. def {name}(x, y)")
    arguments, declared = _arguments(names, shapes or {})
    params = tuple(s for argument in arguments for s in _entries_of(argument))
    try:
        value = function(*arguments)
    except CellError as err:
        if err.line is None and filename:
            err = CellError(err.message, _error_line(sys.exc_info()[2], filename))
        raise err from None
    except Exception as err:
        line = _error_line(sys.exc_info()[2], filename) if filename else None
        raise CellError(f"in {name}: {_explain(err)}", line) from None
    expressions = tuple(_as_expression(v, name) for v in _flatten(value))
    if not expressions:
        raise CellError(f"{name} returns nothing to differentiate")
    outputs = output_symbols(name, len(expressions))
    stage = Stage(name, params, outputs, expressions, 1, params)
    return CellModel("def", params, outputs, expressions, (stage,), name, declared)


def _arguments(names: list[str], shapes: Mapping[str, tuple[int, ...]]) -> tuple[list[Any], tuple[Shape, ...]]:
    """What the function is called with: a real symbol per scalar parameter, an array of entry symbols
    (named as declared matrices' entries are) per parameter with a shape."""
    arguments: list[Any] = []
    declared: list[Shape] = []
    for name in names:
        if name not in shapes:
            arguments.append(real_symbol(name))
            continue
        rows, cols = (*shapes[name], 1)[:2]  # (n,) is a vector, (n, 1) a matrix of one column
        entries = element_symbols(name, rows, cols)
        declared.append(Shape(name, rows, cols, tuple(entries), len(shapes[name]) == 2))
        array = symbolic_array(entries.tolist())
        arguments.append(array.reshape(rows) if len(shapes[name]) == 1 else array)
    return arguments, tuple(declared)


def _entries_of(value: Any) -> list[Any]:
    """A number, or the entries of an array row by row."""
    return list(np.asarray(value, dtype=object).ravel())


def trace_object(value: object, name: str, shapes: Mapping[str, tuple[int, ...]] | None = None) -> CellModel:
    """A function, sympy expression or sympy Matrix from the user namespace."""
    if isinstance(value, (sp.MatrixBase, sp.Expr)):
        expressions = _as_real_map(tuple(_flatten(value)), name)
        symbols = sorted(symbols_in(expressions), key=lambda s: s.name)
        if not symbols:
            raise CellError(f"{name} has no symbols to differentiate by")
        outputs = output_symbols(name or "f", len(expressions))
        stage = Stage(name, tuple(symbols), outputs, expressions, 1, tuple(symbols))
        return CellModel("object", tuple(symbols), outputs, expressions, (stage,), name)
    if callable(value):
        return trace_function(value, name, shapes=shapes)
    raise CellError(f"{name} is a {type(value).__name__}; %jacobian takes a function, a sympy expression or "
                    "a sympy Matrix")


def _as_real_map(expressions: tuple[sp.Expr, ...], name: str) -> tuple[sp.Expr, ...]:
    """A sympy object as a map of real variables, as cells are: its symbols made real (two different symbols of
    one name are refused), |.| and sign with the derivatives of real functions; unevaluated integrals,
    derivatives and undefined functions are refused, having no formula to differentiate."""
    symbols = symbols_in(expressions)
    refuse_twins(symbols)
    for expression in expressions:
        unknown = [n for n in distinct_nodes((expression,))
                   if isinstance(n, (AppliedUndef, sp.Integral, sp.Derivative, sp.Sum, sp.Product))]
        if unknown:
            shown = sp.sstr(sorted(unknown, key=sp.default_sort_key)[0])[:60]
            raise CellError(f"{name} contains {shown}, which has no explicit formula to differentiate; call .doit() "
                            "or write the function out")
    real = {s: real_symbol(s.name) for s in symbols}
    return tuple(e.xreplace(real).replace(sp.Abs, Abs).replace(sp.sign, sign) for e in expressions)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, sp.MatrixBase):
        if value.rows != 1 and value.cols != 1:
            raise CellError(f"the function returns a {value.rows} x {value.cols} matrix; return a vector")
        return list(value)
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for item in value:
            if isinstance(item, (list, tuple, sp.MatrixBase)):
                raise CellError("the function returns a nested list; return a flat list of outputs")
            out.append(item)
        return out
    if isinstance(value, np.ndarray) and value.ndim > 1 and sorted(value.shape)[-2] > 1:
        raise CellError(f"the function returns a {' x '.join(map(str, value.shape))} array; return a vector")
    if hasattr(value, "tolist") and not isinstance(value, sp.Basic):
        return _entries_of(value) if isinstance(value, np.ndarray) else _flatten(value.tolist())
    return [value]


def _as_expression(value: Any, name: str) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (bool, sp.logic.boolalg.Boolean)):
        raise CellError(f"{name} returns a condition, not a number")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Float(value)
    raise CellError(f"{name} returns a {type(value).__name__}, not a number or expression")
