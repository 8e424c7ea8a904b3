"""The traced array of a numpy `def`: numpy hands it every ufunc and array function it meets, and it records the
array operation with its shapes instead of computing numbers (as JAX and autograd trace Python).

This module holds the array type and the operations its arithmetic, comparisons, indexing and reductions build;
`numpy_rules` fills the tables that map numpy's other functions (and jacmagic's own) to operations, which need the
type first; `array_trace` runs the cell's function on one tracer per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from jacmagic.chain.binary import Binary
from jacmagic.chain.images import Flatten, stack_of
from jacmagic.chain.linear import Entry, MatMul, Transpose
from jacmagic.chain.operations import Arithmetic, Negate, Node, Number, Power
from jacmagic.chain.reductions import Reduce
from jacmagic.errors import CellError
from jacmagic.read.names import STEP_FUNCTIONS, step_refusal
from jacmagic.read.untraceable import CodeFailed, Untraceable, untraced_method, untraced_ufunc

# numpy's ufuncs and array functions by name -> the rule that traces them: filled in by `numpy_rules` (imported by
# the cell tracer), whose rules are built from the operations below
UFUNCS: dict[str, Callable[..., Any]] = {}
FUNCTIONS: dict[str, Callable[..., Any]] = {}
METHODS: dict[str, Callable[..., Any]] = {}  # array methods beyond the class's own (`array_methods`): x.var(), ...
_ARITHMETIC = {"positive", "negative", "add", "subtract", "multiply", "divide", "greater", "greater_equal", "less",
               "less_equal", "equal", "not_equal"}


def covered() -> str:
    """The traced numpy functions, for a refusal's message (the arithmetic ones go without saying)."""
    return ", ".join(sorted({*UFUNCS, *FUNCTIONS} - _ARITHMETIC))


def _combining(how: str, reflected: bool = False) -> Callable[[Condition, Any], Condition]:
    def combine(self: Condition, other: Any) -> Condition:
        return Condition(how, *((tested(other, how), self) if reflected else (self, tested(other, how))))
    return combine


class Condition:
    """A test of traced values entry by entry, only np.where can use: a comparison (`op` one of > >= < <= == !=,
    `parts` its two sides, tracers) or numpy's & | ^ ~ of tests (`parts` the tests)."""

    __array_priority__ = 1000

    def __init__(self, op: str, *parts: Any) -> None:
        self.op, self.parts = op, parts

    def __array_function__(self, function: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """np.where(x > 0, 1.0, 0.0) (numpy asks the condition when no branch is traced)."""
        return traced_call(function, args, kwargs)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return traced_ufunc(ufunc, method, inputs, kwargs)  # np.logical_and(x > 0, y < 1) and its kin

    def __bool__(self) -> bool:
        raise Untraceable("an if, while, and/or or Python max() on a comparison of traced arrays: its outcome "
                          "differs entry by entry; write it with np.where(cond, a, b) or np.maximum(a, b)")

    __and__, __rand__ = _combining("&"), _combining("&", reflected=True)
    __or__, __ror__ = _combining("|"), _combining("|", reflected=True)
    __xor__, __rxor__ = _combining("^"), _combining("^", reflected=True)

    def __invert__(self) -> Condition:
        return Condition("~", self)

    def sides(self) -> list[Tracer]:
        """The traced values its comparisons compare, in order."""
        combined = self.op in ("&", "|", "^", "~")
        return [side for part in self.parts for side in part.sides()] if combined else list(self.parts)


def tested(value: Any, how: str) -> Condition:
    """A test for & | ^: a comparison or a boolean, as numpy's & takes (np.logical_and any number: `truth`)."""
    if isinstance(value, (Condition, bool, np.bool_)):
        return truth(value)
    raise Untraceable(f"{how} of a comparison and a number that is not a boolean, which numpy refuses; compare it "
                      "(x != 0) or use np.logical_and, np.logical_or, np.logical_xor or np.logical_not")


def truth(value: Any) -> Condition:
    """A value as a test, as numpy reads it: a number (a traced one too) holds where it is not 0."""
    if isinstance(value, Condition):
        return value
    return compare("!=", float(value) if isinstance(value, (bool, np.bool_)) else value, 0.0)


def _stepping(name: str) -> Callable[..., Any]:
    """The method behind `x // 2`, `x % 2`, round(x) of a traced value: Python would run them, but they jump."""
    def refuse(self: Tracer, *_: Any) -> Any:
        raise Untraceable(step_refusal(name))
    return refuse


class Tracer:
    """A traced array: the operation that computes it, and its numpy number of dimensions (a vector (n,) is kept
    as an n x 1 column, a number as 1 x 1, a batch of images (k, h, w) as their stack along the rows, kh x w, as a
    layer cell's `X: kxhxw`)."""

    __array_priority__ = 1000

    def __init__(self, node: Node, ndim: int) -> None:
        self.node, self.ndim = node, ndim

    # -- what numpy asks of an array ------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        rows, cols = self.node.shape
        if self.ndim == 3:
            stack = stack_of(self.node)
            return (stack, rows // stack, cols)
        return ((), (rows,), (rows, cols))[self.ndim]

    @property
    def size(self) -> int:
        return self.node.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a number")
        return self.shape[0]

    @property
    def T(self) -> Tracer:  # noqa: N802 - numpy's name
        refuse_batch("transposing", self)
        return Tracer(Transpose(self.node), 2) if self.ndim == 2 else self

    def __bool__(self) -> bool:
        raise Untraceable("an if or while on a traced value: its outcome would be fixed at one point; write it "
                          "with np.where(cond, a, b)")

    def __float__(self) -> float:
        raise Untraceable("float() or a math-module function of a traced value; use numpy functions, which are "
                          "traced")

    __int__ = __index__ = __float__  # type: ignore[assignment]

    __floordiv__ = __rfloordiv__ = _stepping("//")
    __mod__ = __rmod__ = _stepping("%")
    __round__, __trunc__ = _stepping("round"), _stepping("trunc")
    __floor__, __ceil__ = _stepping("floor"), _stepping("ceil")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise Untraceable("a traced array was converted to plain numbers (np.array of it, or a library outside "
                          "numpy); only numpy operations on the parameters are traced")

    def __iter__(self) -> Any:
        raise Untraceable("iterating over a traced array (a for loop or unpacking over its entries)")

    # -- arithmetic -------------------------------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tracer:
        return arithmetic("+", self, other)

    def __radd__(self, other: Any) -> Tracer:
        return arithmetic("+", other, self)

    def __sub__(self, other: Any) -> Tracer:
        return arithmetic("-", self, other)

    def __rsub__(self, other: Any) -> Tracer:
        return arithmetic("-", other, self)

    def __mul__(self, other: Any) -> Tracer:
        return arithmetic("*", self, other)

    def __rmul__(self, other: Any) -> Tracer:
        return arithmetic("*", other, self)

    def __truediv__(self, other: Any) -> Tracer:
        return arithmetic("/", self, other)

    def __rtruediv__(self, other: Any) -> Tracer:
        return arithmetic("/", other, self)

    def __neg__(self) -> Tracer:
        return Tracer(Negate(self.node), self.ndim)

    def __pos__(self) -> Tracer:
        return self

    def __pow__(self, exponent: Any) -> Tracer:
        return raised(self, exponent)

    def __rpow__(self, base: Any) -> Tracer:
        return raised(base, self)

    def __matmul__(self, other: Any) -> Tracer:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tracer:
        return matmul(other, self)

    def __gt__(self, other: Any) -> Condition:
        return compare(">", self, other)

    def __ge__(self, other: Any) -> Condition:
        return compare(">=", self, other)

    def __lt__(self, other: Any) -> Condition:
        return compare("<", self, other)

    def __le__(self, other: Any) -> Condition:
        return compare("<=", self, other)

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return compare("==", self, other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return compare("!=", self, other)

    __hash__ = object.__hash__  # kept by identity, as numpy's == compares values

    def __getitem__(self, index: Any) -> Tracer:
        return entry(self, index)

    # -- methods numpy arrays have ----------------------------------------------------------------------------------

    def sum(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return reduction("sum", self, axis, kwargs)

    def mean(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return reduction("mean", self, axis, kwargs)

    def max(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return reduction("max", self, axis, kwargs)

    def min(self, axis: Any = None, **kwargs: Any) -> Tracer:
        return reduction("min", self, axis, kwargs)

    def dot(self, other: Any) -> Tracer:
        return matmul(self, other)

    def flatten(self) -> Tracer:
        return reshaped(self, (-1,))

    ravel = flatten

    def reshape(self, *shape: Any, **options: Any) -> Tracer:
        return reshaped(self, shape[0] if len(shape) == 1 else shape, options)

    def __abs__(self) -> Tracer:
        return UFUNCS["absolute"](self)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # numpy's protocols, asked with hasattr
            raise AttributeError(name)
        if name in METHODS:
            return partial(METHODS[name], self)
        raise untraced_method(name)

    # -- numpy's dispatch -------------------------------------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return traced_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, function: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return traced_call(function, args, kwargs)


def traced_ufunc(ufunc: np.ufunc, method: str, inputs: Any, kwargs: Any) -> Any:
    """A numpy ufunc (np.sin, np.add, np.logical_and, ...) called on a traced array or condition: its rule;
    np.add.reduce is np.sum along axis 0 (numpy's default for .reduce), np.maximum.reduce np.max, ..."""
    kind = {"add": "sum", "maximum": "max", "minimum": "min"}.get(ufunc.__name__) if method == "reduce" else None
    if kind:
        return reduction(kind, inputs[0], kwargs.get("axis", 0), {k: v for k, v in kwargs.items() if k != "axis"})
    if method != "__call__" or kwargs:
        raise untraced_ufunc(ufunc.__name__, method, kwargs)
    rule = UFUNCS.get(ufunc.__name__)
    if ufunc.__name__ in STEP_FUNCTIONS:
        raise Untraceable(step_refusal(f"np.{ufunc.__name__}"))
    if rule is None:
        raise Untraceable(f"np.{ufunc.__name__} is not among the traced numpy functions ({covered()})")
    return rule(*inputs)


def traced_call(function: Any, args: Any, kwargs: Any) -> Any:
    """A numpy function (np.where, np.sum, ...) called on a traced array or condition: the rule that traces it."""
    rule = FUNCTIONS.get(function.__name__)
    if function.__name__ in STEP_FUNCTIONS:
        raise Untraceable(step_refusal(f"np.{function.__name__}"))
    if rule is None:
        raise Untraceable(f"np.{function.__name__} is not among the traced numpy functions ({covered()})")
    return rule(*args, **kwargs)


# -- the operations --------------------------------------------------------------------------------------------------

def operand(value: Any) -> Tracer:
    """A traced array, or a number as a 1 x 1 constant; an array of numbers from outside is refused."""
    if isinstance(value, Tracer):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise Untraceable("a boolean used as a number")
    if isinstance(value, (int, float, np.integer, np.floating)) or (isinstance(value, np.ndarray) and value.size == 1
                                                                    and value.dtype.kind in "iuf"):
        number = float(np.asarray(value).reshape(-1)[0])
        if not np.isfinite(number):  # 1e999 is inf: worded by the entry-level tracer ("undefined for every input")
            raise CodeFailed(f"the number {number} meets a traced array; numbers must be finite")
        return Tracer(Number(number), 0)
    raise Untraceable(f"a {type(value).__name__} that is not a parameter of the function meets a traced array; "
                      "pass arrays as parameters (the point gives their values), numbers may stay as they are")


def refuse_batch(what: str, *operands: Tracer) -> None:
    """A batch of images is worked on image by image (conv2d, maxpool2d, flatten, entry by entry, a sum or mean of
    every entry): what would mix its images or axes is refused, naming the shape."""
    batch = next((t for t in operands if t.ndim == 3), None)
    if batch is not None:
        raise CellError(f"{what} a batch of images of shape {batch.shape} is not traced: a batch goes through "
                        "conv2d, maxpool2d and flatten image by image (flatten gives each image as a column, for "
                        "W @ flatten(q)), entry-by-entry functions and arithmetic with numbers or batches of its "
                        "shape, and sums or means of all its entries")


def broadcast(what: str, *operands: Tracer) -> tuple[list[Node], int]:
    """Operands of an entry-by-entry operation as numpy broadcasts them, and the result's number of dimensions.
    numpy aligns shapes from the right, so a vector (n,) beside a matrix (k, n) is a ROW used in every row: it
    becomes xᵀ (1 x n) here; a column (n, 1) goes with every column, a number with every entry. A batch of images
    goes with numbers and batches of its shape."""
    shapes = [t.shape for t in operands]
    try:
        ndim = len(np.broadcast_shapes(*shapes))
    except ValueError:
        raise CellError(f"{what} of shapes {' and '.join(map(str, shapes))}: numpy cannot broadcast them (each "
                        "dimension, counted from the right, must be equal or 1; a vector (n,) goes with every row "
                        "of a (k, n) matrix, a column (n, 1) with every column of an (n, k) one)") from None
    if ndim == 3 and len({s for s in shapes if s}) > 1:
        refuse_batch(f"{what} of shapes {' and '.join(map(str, shapes))}: broadcasting", *operands)
    return [Transpose(t.node) if ndim == 2 and t.ndim == 1 and t.size > 1 else t.node for t in operands], ndim


def arithmetic(op: str, a: Any, b: Any) -> Tracer:
    nodes, ndim = broadcast(op, operand(a), operand(b))
    return Tracer(Arithmetic(op, *nodes), ndim)


def raised(base: Any, exponent: Any) -> Tracer:
    """a ** k for a number k; a ** b (2 ** x, x ** y) with a traced exponent entry by entry, broadcast."""
    traced, power = operand(base), operand(exponent)
    if isinstance(power.node, Number):
        return Tracer(Power(traced.node, power.node.value), traced.ndim)
    return two_place("**", "np.power", traced, power)


def two_place(name: str, what: str, a: Any, b: Any) -> Tracer:
    """atan2, hypot or a power of two arrays entry by entry (`binary`), broadcast as numpy does."""
    nodes, ndim = broadcast(what, operand(a), operand(b))
    return Tracer(Binary(name, *nodes), ndim)


def matmul(a: Any, b: Any) -> Tracer:
    """@ with numpy's rules for vectors: (m, n) @ (n,) is (m,), (n,) @ (n, k) is (k,), (n,) @ (n,) a number."""
    left, right = operand(a), operand(b)
    refuse_batch("@ of", left, right)
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


def compare(op: str, a: Any, b: Any) -> Condition:
    left, right = operand(a), operand(b)
    broadcast("a comparison", left, right)
    return Condition(op, left, right)


def axis_of(kind: str, value: Tracer, axis: Any) -> int | None:
    """numpy's axis as the operations count it (0 per column, 1 per row), None over every entry; a vector has
    one axis, so axis=0 of a vector is all of it."""
    if axis is None or (value.ndim == 1 and axis in (0, -1)):
        return None
    refuse_batch(f"{kind} along axis={axis!r} of", value)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -value.ndim <= axis < value.ndim:
        raise CellError(f"{kind}: axis={axis!r} does not fit an array of shape {value.shape} (axis=0 works per "
                        "column, axis=1 per row)")
    return int(axis) % 2


def reduction(kind: str, value: Any, axis: Any = None, options: Mapping[str, Any] | None = None) -> Tracer:
    """A reduction with numpy's result: a number over every entry; along axis 0 of a matrix a vector (n,), kept
    as the column that the row of column results is transposed into, along axis 1 the column of row results
    (keepdims=True keeps the row or the column, 2-D)."""
    keep = dict(options or {}).pop("keepdims", False)
    if set(options or {}) - {"keepdims"} or not isinstance(keep, bool):
        raise Untraceable(f"{kind} with options beyond axis= and keepdims=")
    traced = operand(value)
    along = axis_of(kind, traced, axis)
    node = Reduce(kind, traced.node, along)
    if keep:
        return Tracer(node, traced.ndim)
    if along is None:
        return Tracer(node, 0)
    return Tracer(Transpose(node) if along == 0 and node.size > 1 else node, 1)


def entry(value: Tracer, index: Any) -> Tracer:
    """x[i] of a vector, W[i, j] of a matrix, X[k, i, j] of a batch of images (negative indices count from the
    end); slices are not traced."""
    indices = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices) or \
            len(indices) != value.ndim:
        raise Untraceable("indexing other than one entry (x[i] of a vector, W[i, j] of a matrix) is not traced")
    sizes = value.shape
    numbers = [int(i) for i in indices]
    if any(not -size <= n < size for n, size in zip(numbers, sizes)):
        raise CellError(f"index {', '.join(map(str, numbers))} is out of range for the shape {sizes}")
    place = int(np.ravel_multi_index([n % size for n, size in zip(numbers, sizes)], sizes))  # row-major, as stored
    return Tracer(Entry(value.node, place, ", ".join(map(str, numbers))), 0)


def reshaped(value: Any, shape: Any, options: dict[str, Any] | None = None) -> Tracer:
    """x.flatten(), x.ravel(), np.reshape(x, shape) to a vector (n,), a column (n, 1) or a row (1, n): the entries
    row-major, as numpy's default order; other shapes (and order=) would mix axes and are refused."""
    traced = operand(value)
    refuse_batch("reshaping", traced)
    sizes = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if options or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
        raise Untraceable("reshape with options beyond the shape, or a shape that is not whole numbers")
    try:
        target = np.empty(traced.shape).reshape(sizes).shape
    except ValueError:
        raise CellError(f"cannot reshape an array of shape {traced.shape} into {sizes}") from None
    if target == traced.shape:
        return traced
    column = Flatten(traced.node) if traced.ndim == 2 else traced.node
    if len(target) == 1 or target[1] == 1:
        return Tracer(column, len(target))
    if target[0] == 1:
        return Tracer(Transpose(column), 2)
    raise Untraceable(f"reshaping {traced.shape} into {target} is not traced: a reshape to a vector (n,), a column "
                      "(n, 1) or a row (1, n) is (and .flatten(), .ravel())")
