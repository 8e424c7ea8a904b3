"""A Python `def` -> the array operations of a layer cell, by running it once on tracer arrays.

As JAX and autograd trace Python, the function is called with one `Tracer` per parameter; numpy dispatches every
ufunc and array function it meets to the tracer (`__array_ufunc__`, `__array_function__`), which records the
operation with its shapes instead of computing numbers. Each assignment in the function's body becomes a line of
the chain, named as in the code (the return value is named after the function), so a numpy model written as a
function gets the same walkthrough, gradient and panel as the same model written as layer lines, at any size.

What the tracer cannot follow (an `if` on a traced value, a float() of one, a library outside numpy, a numpy
function it does not know) raises `Untraceable` naming the line; the pipeline then uses the entry-level tracer
when the function is small enough, and otherwise says which line and why.
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from jacmagic.chain.choices import Where, chosen
from jacmagic.chain.elementwise import Apply
from jacmagic.chain.images import USAGE, image_operation
from jacmagic.chain.linear import Entry, MatMul, Transpose
from jacmagic.chain.matrix_functions import CALLS
from jacmagic.chain.operations import Arithmetic, Leaf, Negate, Node, Number, Power
from jacmagic.chain.reductions import Reduce, Softmax
from jacmagic.errors import CellError
from jacmagic.read.network import Line, Network
from jacmagic.read.source import is_def_cell, python_declarations
from jacmagic.read.trace import CELL_FILENAME, _error_line

_LINE = "__jacmagic_line__"


class Untraceable(Exception):
    """The function does something the array tracer cannot follow, on `line` when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


class _Condition:
    """A comparison of traced values: only np.where can use it."""

    def __init__(self, op: str, left: Tracer, right: Tracer) -> None:
        self.op, self.left, self.right = op, left, right

    def __bool__(self) -> bool:
        raise Untraceable("an if, while, and/or or Python max() on a comparison of traced arrays: its outcome "
                          "differs entry by entry; write it with np.where(cond, a, b) or np.maximum(a, b)")


class Tracer:
    """A traced array: the operation that computes it, and its numpy number of dimensions (a vector (n,) is kept
    as an n x 1 column, a number as 1 x 1)."""

    __array_priority__ = 1000

    def __init__(self, node: Node, ndim: int) -> None:
        self.node, self.ndim = node, ndim

    # -- what numpy asks of an array ------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        rows, cols = self.node.shape
        return ((), (rows,), (rows, cols))[self.ndim]

    @property
    def size(self) -> int:
        return self.node.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a number")
        return self.node.shape[0]

    @property
    def T(self) -> Tracer:  # noqa: N802 - numpy's name
        return Tracer(Transpose(self.node), 2) if self.ndim == 2 else self

    def __bool__(self) -> bool:
        raise Untraceable("an if or while on a traced value: its outcome would be fixed at one point; write it "
                          "with np.where(cond, a, b)")

    def __float__(self) -> float:
        raise Untraceable("float() or a math-module function of a traced value; use numpy functions, which are "
                          "traced")

    __int__ = __index__ = __float__  # type: ignore[assignment]

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise Untraceable("a traced array was converted to plain numbers (np.array of it, or a library outside "
                          "numpy); only numpy operations on the parameters are traced")

    def __iter__(self) -> Any:
        raise Untraceable("iterating over a traced array (a for loop or unpacking over its entries)")

    # -- arithmetic -------------------------------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tracer:
        return _arithmetic("+", self, other)

    def __radd__(self, other: Any) -> Tracer:
        return _arithmetic("+", other, self)

    def __sub__(self, other: Any) -> Tracer:
        return _arithmetic("-", self, other)

    def __rsub__(self, other: Any) -> Tracer:
        return _arithmetic("-", other, self)

    def __mul__(self, other: Any) -> Tracer:
        return _arithmetic("*", self, other)

    def __rmul__(self, other: Any) -> Tracer:
        return _arithmetic("*", other, self)

    def __truediv__(self, other: Any) -> Tracer:
        return _arithmetic("/", self, other)

    def __rtruediv__(self, other: Any) -> Tracer:
        return _arithmetic("/", other, self)

    def __neg__(self) -> Tracer:
        return Tracer(Negate(self.node), self.ndim)

    def __pos__(self) -> Tracer:
        return self

    def __pow__(self, exponent: Any) -> Tracer:
        return _power(self, exponent)

    def __matmul__(self, other: Any) -> Tracer:
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tracer:
        return _matmul(other, self)

    def __gt__(self, other: Any) -> _Condition:
        return _compare(">", self, other)

    def __ge__(self, other: Any) -> _Condition:
        return _compare(">=", self, other)

    def __lt__(self, other: Any) -> _Condition:
        return _compare("<", self, other)

    def __le__(self, other: Any) -> _Condition:
        return _compare("<=", self, other)

    def __getitem__(self, index: Any) -> Tracer:
        return _entry(self, index)

    # -- methods numpy arrays have ----------------------------------------------------------------------------------

    def sum(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return _reduce("sum", self, axis, kwargs)

    def mean(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return _reduce("mean", self, axis, kwargs)

    def max(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return _reduce("max", self, axis, kwargs)

    def min(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return _reduce("min", self, axis, kwargs)

    def transpose(self) -> Tracer:
        return self.T

    def dot(self, other: Any) -> Tracer:
        return _matmul(self, other)

    # -- numpy's dispatch -------------------------------------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            raise Untraceable(f"np.{ufunc.__name__}.{method} or its options ({', '.join(kwargs)}) are not traced"
                              if method != "__call__" else f"np.{ufunc.__name__} with {', '.join(kwargs)}=")
        rule = _UFUNCS.get(ufunc.__name__)
        if rule is None:
            raise Untraceable(f"np.{ufunc.__name__} is not among the traced numpy functions ({_covered()})")
        return rule(*inputs)

    def __array_function__(self, function: Any, types: Any, args: Any, kwargs: Any) -> Any:
        rule = _FUNCTIONS.get(function.__name__)
        if rule is None:
            raise Untraceable(f"np.{function.__name__} is not among the traced numpy functions ({_covered()})")
        return rule(*args, **kwargs)


# -- the operations --------------------------------------------------------------------------------------------------

def _operand(value: Any) -> Tracer:
    """A traced array, or a number as a 1 x 1 constant; an array of numbers from outside is refused."""
    if isinstance(value, Tracer):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise Untraceable("a boolean used as a number")
    if isinstance(value, (int, float, np.integer, np.floating)) or (isinstance(value, np.ndarray) and value.size == 1
                                                                    and value.dtype.kind in "iuf"):
        number = float(np.asarray(value).reshape(-1)[0])
        return Tracer(Number(number), 0)
    raise Untraceable(f"a {type(value).__name__} that is not a parameter of the function meets a traced array; "
                      "pass arrays as parameters (the point gives their values), numbers may stay as they are")


def _broadcast(what: str, *operands: Tracer) -> tuple[list[Node], int]:
    """Operands of an entry-by-entry operation as numpy broadcasts them, and the result's number of dimensions.
    numpy aligns shapes from the right, so a vector (n,) beside a matrix (k, n) is a ROW used in every row: it
    becomes xᵀ (1 x n) here; a column (n, 1) goes with every column, a number with every entry."""
    shapes = [t.shape for t in operands]
    try:
        ndim = len(np.broadcast_shapes(*shapes))
    except ValueError:
        raise CellError(f"{what} of shapes {' and '.join(map(str, shapes))}: numpy cannot broadcast them (each "
                        "dimension, counted from the right, must be equal or 1; a vector (n,) goes with every row "
                        "of a (k, n) matrix, a column (n, 1) with every column of an (n, k) one)") from None
    return [Transpose(t.node) if ndim == 2 and t.ndim == 1 and t.size > 1 else t.node for t in operands], ndim


def _arithmetic(op: str, a: Any, b: Any) -> Tracer:
    nodes, ndim = _broadcast(op, _operand(a), _operand(b))
    return Tracer(Arithmetic(op, *nodes), ndim)


def _power(base: Any, exponent: Any) -> Tracer:
    power = _operand(exponent)
    if not isinstance(power.node, Number):
        raise Untraceable("a power whose exponent is traced; only a number as exponent is traced")
    traced = _operand(base)
    return Tracer(Power(traced.node, power.node.value), traced.ndim)


def _matmul(a: Any, b: Any) -> Tracer:
    """@ with numpy's rules for vectors: (m, n) @ (n,) is (m,), (n,) @ (n, k) is (k,), (n,) @ (n,) a number."""
    left, right = _operand(a), _operand(b)
    if 0 in (left.ndim, right.ndim):
        raise CellError("@ needs arrays on both sides, not a number; use * to scale")
    inner_left = left.node.shape[1] if left.ndim == 2 else left.node.shape[0]
    if inner_left != right.node.shape[0]:
        raise CellError(f"@ of shapes {left.shape} and {right.shape}: the columns of the left must match the rows "
                        "of the right")
    if left.ndim == 1:  # a row vector times: xᵀ B, kept as the column Bᵀ x
        if right.ndim == 1:
            return Tracer(MatMul(Transpose(left.node), right.node), 0)
        return Tracer(MatMul(Transpose(right.node), left.node), 1)
    return Tracer(MatMul(left.node, right.node), right.ndim)


def _compare(op: str, a: Any, b: Any) -> _Condition:
    left, right = _operand(a), _operand(b)
    _broadcast("a comparison", left, right)
    return _Condition(op, left, right)


def _where(condition: Any, then: Any, otherwise: Any) -> Tracer:
    if not isinstance(condition, _Condition):
        raise Untraceable("np.where traces a comparison of traced arrays as its condition (z > 0, a <= b)")
    nodes, ndim = _broadcast("np.where", condition.left, condition.right, _operand(then), _operand(otherwise))
    left, right, picked, other = nodes
    return Tracer(Where(condition.op, left, right, picked, other), ndim)


def _choose(kind: str) -> Callable[[Any, Any], Tracer]:
    def choose(a: Any, b: Any) -> Tracer:
        nodes, ndim = _broadcast(f"np.{'maximum' if kind == 'max' else 'minimum'}", _operand(a), _operand(b))
        return Tracer(chosen(kind, *nodes), ndim)
    return choose


def _axis(kind: str, value: Tracer, axis: Any) -> int | None:
    """numpy's axis as the operations count it (0 per column, 1 per row), None over every entry; a vector has
    one axis, so axis=0 of a vector is all of it."""
    if axis is None or (value.ndim == 1 and axis in (0, -1)):
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -value.ndim <= axis < value.ndim:
        raise CellError(f"{kind}: axis={axis!r} does not fit an array of shape {value.shape} (axis=0 works per "
                        "column, axis=1 per row)")
    return int(axis) % 2


def _reduce(kind: str, value: Any, axis: Any = None, options: Mapping[str, Any] | None = None) -> Tracer:
    """A reduction with numpy's result: a number over every entry; along axis 0 of a matrix a vector (n,), kept
    as the column that the row of column results is transposed into, along axis 1 the column of row results
    (keepdims=True keeps the row or the column, 2-D)."""
    keep = dict(options or {}).pop("keepdims", False)
    if set(options or {}) - {"keepdims"} or not isinstance(keep, bool):
        raise Untraceable(f"{kind} with options beyond axis= and keepdims=")
    traced = _operand(value)
    along = _axis(kind, traced, axis)
    node = Reduce(kind, traced.node, along)
    if keep:
        return Tracer(node, traced.ndim)
    if along is None:
        return Tracer(node, 0)
    return Tracer(Transpose(node) if along == 0 and node.size > 1 else node, 1)


def _reducing(kind: str) -> Callable[..., Tracer]:
    def reduce(value: Any, axis: Any = None, **options: Any) -> Tracer:
        return _reduce(kind, value, axis, options)
    return reduce


def _elementwise(name: str) -> Callable[[Any], Tracer]:
    def apply(value: Any) -> Tracer:
        traced = _operand(value)
        return Tracer(Apply(name, traced.node), traced.ndim)
    return apply


def _softmax(log: bool) -> Callable[..., Tracer]:
    def softmax(value: Any, axis: Any = None) -> Tracer:
        traced = _operand(value)
        name = "log_softmax" if log else "softmax"
        if axis is None and traced.ndim == 2 and min(traced.node.shape) > 1:
            raise CellError(f"{name} of a matrix of shape {traced.shape} needs an axis: axis=0 normalises each "
                            "column (a batch with one example per column), axis=1 each row")
        return Tracer(Softmax(traced.node, log=log, axis=_axis(name, traced, axis)), traced.ndim)
    return softmax


def _image(name: str) -> Callable[..., Tracer]:
    """conv2d(x, K), maxpool2d(x, s) (a matrix) and flatten(q) (a vector, row-major)."""
    def apply(*operands: Any) -> Tracer:
        node = image_operation(name, [_operand(o).node for o in operands])
        return Tracer(node, 1 if name == "flatten" else 2)
    return apply


def _entry(value: Tracer, index: Any) -> Tracer:
    """x[i] of a vector, W[i, j] of a matrix (negative indices count from the end); slices are not traced."""
    indices = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices) or \
            len(indices) != value.ndim:
        raise Untraceable("indexing other than one entry (x[i] of a vector, W[i, j] of a matrix) is not traced")
    sizes = value.shape
    numbers = [int(i) for i in indices]
    if any(not -size <= n < size for n, size in zip(numbers, sizes)):
        raise CellError(f"index {', '.join(map(str, numbers))} is out of range for the shape {sizes}")
    rows, cols = value.node.shape
    place = numbers[0] % rows if value.ndim == 1 else (numbers[0] % rows) * cols + numbers[1] % cols
    return Tracer(Entry(value.node, place, ", ".join(map(str, numbers))), 0)


_UFUNCS: dict[str, Callable[..., Tracer | _Condition]] = {
    **{name: _elementwise(name) for name in ("exp", "log", "log2", "log10", "tanh", "sin", "cos", "tan", "sqrt",
                                             "cbrt", "sinh", "cosh", "arctan", "arcsin", "arccos", "arcsinh",
                                             "arccosh", "arctanh")},
    "absolute": _elementwise("abs"), "fabs": _elementwise("abs"),
    "add": lambda a, b: _arithmetic("+", a, b), "subtract": lambda a, b: _arithmetic("-", a, b),
    "multiply": lambda a, b: _arithmetic("*", a, b), "divide": lambda a, b: _arithmetic("/", a, b),
    "negative": lambda a: -_operand(a), "positive": _operand, "power": _power,
    "square": lambda a: _power(a, 2), "matmul": _matmul,
    "maximum": _choose("max"), "minimum": _choose("min"),
    **{numpy_name: partial(_compare, op)
       for numpy_name, op in (("greater", ">"), ("greater_equal", ">="), ("less", "<"), ("less_equal", "<="))},
}
_FUNCTIONS: dict[str, Callable[..., Tracer]] = {
    "sum": _reducing("sum"), "mean": _reducing("mean"), "max": _reducing("max"), "amax": _reducing("max"),
    "min": _reducing("min"), "amin": _reducing("min"), "where": _where, "dot": _matmul,
    "transpose": lambda a: _operand(a).T, "clip": lambda a, low, high: _choose("min")(_choose("max")(a, low), high),
}
def _called(name: str) -> Callable[..., Tracer]:
    """One of `matrix_functions.CALLS` (leaky_relu(z, a), cross_entropy(z, y), mse(a, b), det(X)) on traced
    arrays: the value keeps the first argument's axes when it keeps its shape, else is a number."""
    counts, build = CALLS[name]

    def call(*values: Any) -> Tracer:
        traced = [_operand(v) for v in values]
        if len(traced) not in counts:
            raise Untraceable(f"{name} takes {' or '.join(map(str, counts))} arguments, got {len(traced)}")
        try:
            node = build(*(t.node for t in traced))
        except ValueError as why:
            raise CellError(str(why)) from None
        if node is None:
            raise Untraceable(f"{name}: its second argument is traced here; the array level takes a number")
        return Tracer(node, traced[0].ndim if node.shape == traced[0].node.shape else 0)
    return call


# jacmagic's own functions, offered to a def cell as in every other cell form
BUILTINS: dict[str, Callable[..., Tracer]] = {
    **{name: _elementwise(name) for name in ("sigmoid", "relu", "softplus", "gelu")},
    **{name: _called(name) for name in CALLS},
    "softmax": _softmax(log=False), "log_softmax": _softmax(log=True), "logsumexp": _reducing("logsumexp"),
    **{name: _image(name) for name in USAGE},
}
_FUNCTIONS.update({"trace": BUILTINS["trace"], "det": BUILTINS["det"], "inv": BUILTINS["inv"],  # np.linalg's too
                   "norm": _reducing("norm")})


def _covered() -> str:
    return ", ".join(sorted({*_UFUNCS, *_FUNCTIONS} - {"positive", "negative", "add", "subtract", "multiply",
                                                       "divide", "greater", "greater_equal", "less", "less_equal"}))


# -- lines: each assignment of the function's body -------------------------------------------------------------------

class _Lines:
    """Collects the chain's lines as the traced function assigns them."""

    def __init__(self, names: set[str]) -> None:
        self.lines: list[Line] = []
        self.taken = set(names)
        self.last = 0  # the line of the latest assignment or return

    def __call__(self, name: str, value: Any, number: int) -> Any:
        """Called with each assignment's value: a traced computation becomes a line named as assigned, and the
        name stands for its value from then on."""
        self.last = number
        if not isinstance(value, Tracer) or isinstance(value.node, Leaf):
            return value
        unique, k = name, 1
        while unique in self.taken:
            k += 1
            unique = f"{name}_{k}"
        self.taken.add(unique)
        self.lines.append(Line(unique, number, value.node, _leaves(value.node)))
        return Tracer(Leaf(unique, value.node.shape), value.ndim)


def _leaves(root: Node) -> tuple[Leaf, ...]:
    found: dict[str, Leaf] = {}

    def visit(node: Node) -> None:
        if isinstance(node, Leaf):
            found.setdefault(node.name, node)
        for child in node.children:
            visit(child)
    visit(root)
    return tuple(found.values())


class _Instrument(ast.NodeTransformer):
    """Wraps the value of every assignment `name = value` (and `name op= value`) and of `return value` in the
    function's own body in a call that records the line."""

    def __init__(self, function: str) -> None:
        self.function = function

    def _wrapped(self, name: str, value: ast.expr, line: int) -> ast.expr:
        call = ast.Call(ast.Name(_LINE, ast.Load()), [ast.Constant(name), value, ast.Constant(line)], [])
        return ast.copy_location(call, value)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:  # noqa: N802 - ast's name
        if node.name == self.function:
            node.body = [self.visit(statement) for statement in node.body]
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:  # noqa: N802
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            node.value = self._wrapped(node.targets[0].id, node.value, node.lineno)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:  # noqa: N802
        if not isinstance(node.target, ast.Name):
            return node
        value = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
        assign = ast.Assign([ast.Name(node.target.id, ast.Store())], self._wrapped(node.target.id, value,
                                                                                    node.lineno))
        return ast.copy_location(assign, node)

    def visit_Return(self, node: ast.Return) -> ast.AST:  # noqa: N802
        if node.value is not None:
            node.value = self._wrapped(self.function, node.value, node.lineno)
        return node


# -- the cell ---------------------------------------------------------------------------------------------------------

def _parameter(name: str, value: Any, declared: tuple[int, ...] | None) -> Tracer:
    """A parameter's tracer, shaped as declared in the cell or as its value at the point."""
    dims = declared if declared is not None else np.shape(value) if value is not None else ()  # never copied
    if len(dims) > 2:
        raise Untraceable(f"{name} has {len(dims)} axes; arrays of one or two are traced")
    rows, cols = (*dims, 1, 1)[:2]
    return Tracer(Leaf(name, (int(rows), int(cols))), len(dims))


def trace_network(text: str, namespace: Mapping[str, Any], point: Mapping[str, Any]) -> Network:
    """The def cell's last function as array operations; `Untraceable` (with the line) if it does something the
    tracer cannot follow."""
    if not is_def_cell(text):
        raise Untraceable("not a def cell")
    source, declarations = python_declarations(text)
    try:
        tree = ast.parse(source, CELL_FILENAME)
    except SyntaxError:
        raise Untraceable("the entry-level reader words a syntax error") from None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not defs:
        raise Untraceable("no function")
    name = defs[-1].name
    tree = ast.fix_missing_locations(_Instrument(name).visit(tree))
    parameters = [a.arg for a in defs[-1].args.args]
    lines = _Lines(set(parameters))
    scope: dict[str, Any] = {**BUILTINS, **namespace, "np": np, "numpy": np, "math": math, _LINE: lines}
    try:
        exec(compile(tree, CELL_FILENAME, "exec"), scope)  # noqa: S102 - a def cell is the user's own Python
    except Exception as err:  # noqa: BLE001 - the entry-level tracer runs it again and words the failure
        raise Untraceable(f"{type(err).__name__}: {err}") from None
    function = scope[name]
    if len(inspect.signature(function).parameters) != len(parameters) or defs[-1].args.vararg or \
            defs[-1].args.kwarg or defs[-1].args.kwonlyargs:
        raise Untraceable("parameters beyond plain positional ones")
    declared = {d.name: d.dims for d in declarations.values()}
    tracers = [_parameter(p, point.get(p), declared.get(p)) for p in parameters]
    try:
        value = function(*tracers)
    except Untraceable as why:
        raise Untraceable(why.reason, why.line or _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    except CellError as err:
        raise CellError(err.message, err.line or _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    except Exception as err:  # the user's code failed: the entry-level tracer words it, as it always has
        raise Untraceable(f"{type(err).__name__}: {err}", _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    if not isinstance(value, Tracer):
        raise Untraceable(f"{name} returns a {type(value).__name__}, not one traced array", lines.last or None)
    if not lines.lines:
        raise Untraceable(f"{name} returns one of its parameters unchanged")
    shapes = {t.node.name: t.node.shape for t in tracers if isinstance(t.node, Leaf)}
    computed = {line.name for line in lines.lines}
    used = [leaf.name for line in lines.lines for leaf in line.leaves]
    inputs = tuple(dict.fromkeys(n for n in used if n not in computed))
    outputs = tuple(line.name for line in lines.lines if line.name not in used)
    return Network({n: shapes[n] for n in inputs}, tuple(lines.lines), inputs, outputs)
