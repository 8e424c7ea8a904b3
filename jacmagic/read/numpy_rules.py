"""numpy's functions and jacmagic's own (sigmoid, softmax, conv2d, det...) as rules on tracers: each builds the
array operation of a call, with numpy's result shape."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from jacmagic.chain import elementwise
from jacmagic.chain import functions as table
from jacmagic.chain.choices import Where, chosen
from jacmagic.chain.elementwise import Apply, StepApply
from jacmagic.chain.images import USAGE, image_operation
from jacmagic.chain.matrix_functions import CALLS
from jacmagic.chain.operations import Node, Number
from jacmagic.chain.reductions import Softmax
from jacmagic.errors import CellError
from jacmagic.read.array_methods import FUNCTION_RULES, METHOD_RULES
from jacmagic.read.tracer import (
    FUNCTIONS,
    METHODS,
    UFUNCS,
    Condition,
    Tracer,
    Untraceable,
    arithmetic,
    axis_of,
    broadcast,
    compare,
    matmul,
    operand,
    raised,
    reduction,
    refuse_batch,
    reshaped,
    truth,
    two_place,
)


def _where(condition: Any, then: Any, otherwise: Any) -> Tracer:
    """np.where(cond, a, b) entry by entry, for every condition numpy takes: comparisons (== and != too), & | ^ ~
    and np.logical_* of them, a number (traced or not) meaning not 0. The condition's values get no gradient."""
    test = truth(condition)
    sides = test.sides()
    nodes, ndim = broadcast("np.where", *sides, operand(then), operand(otherwise))
    placed = dict(zip(map(id, sides), nodes))  # each side as broadcast beside the others and the branches
    return Tracer(_decide(test, placed, nodes[-2], nodes[-1]), ndim)


def _decide(test: Condition, placed: dict[int, Node], then: Node, otherwise: Node) -> Node:
    """`then` where `test` holds, else `otherwise`, as choices on one comparison each, nested (a & b is
    where(a, where(b, p, q), q)); a == b holds where neither a < b nor a > b."""
    op, parts = test.op, test.parts
    if op == "~":
        return _decide(parts[0], placed, otherwise, then)
    if op == "&":
        return _decide(parts[0], placed, _decide(parts[1], placed, then, otherwise), otherwise)
    if op == "|":
        return _decide(parts[0], placed, then, _decide(parts[1], placed, then, otherwise))
    if op == "^":
        return _decide(parts[0], placed, _decide(parts[1], placed, otherwise, then),
                       _decide(parts[1], placed, then, otherwise))
    left, right = placed[id(parts[0])], placed[id(parts[1])]
    if op in ("==", "!="):
        equal, unequal = (then, otherwise) if op == "==" else (otherwise, then)
        return Where("<", left, right, unequal, Where(">", left, right, unequal, equal))
    return Where(op, left, right, then, otherwise)


def _logical(how: str) -> Callable[..., Condition]:
    """np.logical_and, _or, _xor and _not: of any numbers, each read as numpy reads it (not 0 holds)."""
    def combined(*values: Any) -> Condition:
        return Condition(how, *(truth(v) for v in values))
    return combined


def _choose(kind: str) -> Callable[[Any, Any], Tracer]:
    def choose(a: Any, b: Any) -> Tracer:
        nodes, ndim = broadcast(f"np.{'maximum' if kind == 'max' else 'minimum'}", operand(a), operand(b))
        return Tracer(chosen(kind, *nodes), ndim)
    return choose


def _reducing(kind: str) -> Callable[..., Tracer]:
    def reduced(value: Any, axis: Any = None, **options: Any) -> Tracer:
        return reduction(kind, value, axis, options)
    return reduced


def _elementwise(name: str) -> Callable[[Any], Tracer]:
    def apply(value: Any) -> Tracer:
        traced = operand(value)
        return Tracer(Apply(name, traced.node), traced.ndim)
    return apply


def _heaviside(value: Any, at_zero: Any) -> Tracer:
    """np.heaviside(z, h): h, the value at 0, is a number (0 gives heaviside(z), as a layer line writes it)."""
    traced, given = operand(value), operand(at_zero)
    if not isinstance(given.node, Number):
        raise CellError("np.heaviside's second argument is its value at 0, a number; got a traced array")
    h = given.node.value
    return Tracer(Apply("heaviside", traced.node) if h == 0 else StepApply("heaviside", traced.node, h), traced.ndim)


def _softmax(log: bool) -> Callable[..., Tracer]:
    def softmax(value: Any, axis: Any = None) -> Tracer:
        traced = operand(value)
        name = "log_softmax" if log else "softmax"
        refuse_batch(f"{name} of", traced)
        if axis is None and traced.ndim == 2 and min(traced.node.shape) > 1:
            raise CellError(f"{name} of a matrix of shape {traced.shape} needs an axis: axis=0 normalises each "
                            "column (a batch with one example per column), axis=1 each row")
        return Tracer(Softmax(traced.node, log=log, axis=axis_of(name, traced, axis)), traced.ndim)
    return softmax


def _image(name: str) -> Callable[..., Tracer]:
    """conv2d(x, K), maxpool2d(x, s) (a matrix, of a batch (k, h, w) a batch) and flatten(q) (a vector, row-major;
    of a batch the matrix of its images as columns)."""
    def apply(*operands: Any) -> Tracer:
        traced = [operand(o) for o in operands]
        node = image_operation(name, [t.node for t in traced])
        batch = bool(traced) and traced[0].ndim == 3
        return Tracer(node, (1 if name == "flatten" else 2) + batch)
    return apply


def _called(name: str) -> Callable[..., Tracer]:
    """One of `matrix_functions.CALLS` (leaky_relu(z, a), cross_entropy(z, y), mse(a, b), det(X)) on traced
    arrays: the value keeps the first argument's axes when it keeps its shape, else is a number."""
    counts, build = CALLS[name]

    def call(*values: Any) -> Tracer:
        traced = [operand(v) for v in values]
        if name not in elementwise.CALLS:  # tr, det, inv: of one matrix
            refuse_batch(f"{name} of", *traced)
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


def table_ufuncs() -> dict[str, Callable[[Any], Tracer]]:
    """numpy's ufuncs that are the function table's element-wise functions under their own name (np.sin, np.log,
    np.arctan; not np.asin, numpy's second name of np.arcsin, whose __name__ the tracer looks up)."""
    return {name: _elementwise(name) for name in table.FUNCTIONS
            if isinstance(ufunc := getattr(np, name, None), np.ufunc) and ufunc.__name__ == name}


# numpy's names
UFUNCS.update({
    **table_ufuncs(),
    "absolute": _elementwise("abs"), "fabs": _elementwise("abs"),
    "heaviside": _heaviside,  # np.heaviside(z, h) takes its value at 0, not the table's heaviside(z)
    "arctan2": partial(two_place, "atan2", "np.arctan2"),
    "hypot": partial(two_place, "hypot", "np.hypot"),
    "add": lambda a, b: arithmetic("+", a, b), "subtract": lambda a, b: arithmetic("-", a, b),
    "multiply": lambda a, b: arithmetic("*", a, b), "divide": lambda a, b: arithmetic("/", a, b),
    "negative": lambda a: -operand(a), "positive": operand, "power": raised,
    "square": lambda a: raised(a, 2), "matmul": matmul,
    "maximum": _choose("max"), "minimum": _choose("min"),
    **{numpy_name: partial(compare, op)
       for numpy_name, op in (("greater", ">"), ("greater_equal", ">="), ("less", "<"), ("less_equal", "<="),
                              ("equal", "=="), ("not_equal", "!="))},
    **{f"logical_{how}": _logical(mark) for how, mark in (("and", "&"), ("or", "|"), ("xor", "^"), ("not", "~"))},
})
def _bounded(a: Any, bound: Any, kind: str) -> Any:
    """np.clip's one side: the max with a lower bound or the min with an upper one; none where it is None."""
    return a if bound is None else _choose(kind)(a, bound)


FUNCTIONS.update({
    "sum": _reducing("sum"), "mean": _reducing("mean"), "max": _reducing("max"), "amax": _reducing("max"),
    "min": _reducing("min"), "amin": _reducing("min"), "where": _where, "dot": matmul,
    "transpose": lambda a: operand(a).T,
    "clip": lambda a, low=None, high=None: _bounded(_bounded(a, low, "max"), high, "min"),
    "ravel": lambda a: reshaped(a, (-1,)), "reshape": lambda a, shape=None, **options: reshaped(a, shape, options),
})

# jacmagic's own functions, offered to a def cell as in every other cell form
BUILTINS: dict[str, Callable[..., Tracer]] = {
    **{name: _elementwise(name) for name in ("sigmoid", "relu", "softplus", "gelu")},
    **{name: _called(name) for name in CALLS},
    "softmax": _softmax(log=False), "log_softmax": _softmax(log=True), "logsumexp": _reducing("logsumexp"),
    **{name: _image(name) for name in USAGE},
}
FUNCTIONS.update({"det": BUILTINS["det"], "inv": BUILTINS["inv"], "norm": _reducing("norm"),  # np.linalg's too
                  **FUNCTION_RULES})
METHODS.update(METHOD_RULES)
