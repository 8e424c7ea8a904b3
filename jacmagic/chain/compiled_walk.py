"""A network's forward pass and reverse mode resolved once per cell into flat lists of numpy calls.

The exact walk (`network_walk`) sends every operation through its general interface on every call: the graph
order rebuilt, every value turned to nan where it is not finite, every slope checked, an `np.errstate` per
operation. Here the order, the slot of every value and gradient, the axes a broadcast operand sums over and which
operands need a gradient are found once; a call is a loop over prepared numpy calls under one
`np.errstate(all="raise")`. Anything not finite (an overflow, the log of a negative, a division by zero) raises
`Undefined`, and the caller runs the exact walk, which says which line and why: the domain checks cost numpy's
floating-point status check instead of an `isfinite` per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from jacmagic.chain.operations import Apply, Arithmetic, Leaf, MatMul, Negate, Node, Number, Transpose, Values
from jacmagic.chain.reductions import Reduce, Softmax, _along
from jacmagic.read.network import Line, Network

Part = np.ndarray | None
Pull = Callable[[np.ndarray, Sequence[np.ndarray], np.ndarray], Sequence[Part]]
# A line's record for the walkthrough: the line, its operation values, the upstream, the products per operand and
# each operand's gradient before them (0.0 if none yet).
Record = tuple[Line, Values, np.ndarray, dict[str, np.ndarray], dict[str, Any]]

# The random directions of the check are drawn once per cell when they hold at most this many numbers in all.
KEPT_DIRECTION_NUMBERS = 3_000_000
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
# Element-wise functions whose value and slope are plain numpy calls (no errstate of their own hides an overflow).
_PLAIN = frozenset({"exp", "log", "ln", "tanh", "sigmoid", "relu", "softplus", "sin", "cos", "sqrt", "abs", "Abs",
                    "sinh", "cosh", "atan", "arctan"})


class Undefined(Exception):
    """A value or gradient is not finite here: the exact walk finds where and says why."""


def seeds(network: Network, m: int) -> dict[str, np.ndarray]:
    """The seed of reverse mode: each output entry's gradient of itself, one row per output entry."""
    eye, found, start = np.eye(m), {}, 0
    for name in network.outputs:
        r, c = network.shape_of(name)
        found[name] = eye[:, start:start + r * c].reshape(m, r, c)
        start += r * c
    return found


# -- an operation's value and pullback as plain numpy calls --------------------------------------------------------

def _plain(node: Node) -> bool:
    """Is the operation computed here by numpy calls whose overflow numpy reports (not hidden by an errstate)?"""
    kind = type(node)
    if kind is Apply:
        return node.name in _PLAIN  # type: ignore[attr-defined]
    if kind is Reduce:
        return node.kind in ("sum", "mean")  # type: ignore[attr-defined]
    return kind in (Arithmetic, MatMul, Negate, Transpose) or (kind is Softmax and not node.log)  # type: ignore


def _evaluator(node: Node) -> Callable[..., np.ndarray]:
    if not _plain(node):
        return lambda *operands: _finite(node.evaluate(operands))
    if isinstance(node, Arithmetic):
        return _ARITHMETIC[node.op]  # type: ignore[return-value]
    if isinstance(node, MatMul):
        return np.matmul  # type: ignore[return-value]
    if isinstance(node, Apply):
        return node.function.value
    if isinstance(node, Negate):
        return np.negative  # type: ignore[return-value]
    if isinstance(node, Transpose):
        return np.transpose
    return lambda z: node.evaluate((z,))  # sum, mean, softmax: numpy reports their overflow


def _finite(value: np.ndarray) -> np.ndarray:
    """An operation's own value or product, checked: its errstate may hide an overflow."""
    if not np.isfinite(value).all():
        raise Undefined
    return value


def _summed_back(child: Node, node: Node) -> tuple[int, ...]:
    """The axes (from the end) an operand broadcast over `node`'s shape has its gradient summed over."""
    return tuple(axis for axis, size, full in zip((-2, -1), child.shape, node.shape) if size == 1 and full != 1)


def _arithmetic_pull(node: Arithmetic, mask: Sequence[bool]) -> Pull:
    axes = [_summed_back(child, node) for child in node.children]
    op = node.op

    def back(part: np.ndarray, k: int) -> Part:
        if not mask[k]:
            return None
        return part.sum(axis=axes[k], keepdims=True) if axes[k] else part

    def pull(up: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray) -> Sequence[Part]:
        a, b = operands
        if op == "+":
            return back(up, 0), back(up, 1)
        if op == "-":
            return back(up, 0), back(-up, 1) if mask[1] else None
        if op == "*":
            return back(up * b, 0) if mask[0] else None, back(up * a, 1) if mask[1] else None
        return back(up / b, 0) if mask[0] else None, back(-up * a / (b * b), 1) if mask[1] else None
    return pull


def _matmul_pull(node: MatMul, mask: Sequence[bool]) -> Pull:
    outer = node.right.shape[1] == 1  # U bᵀ for a column b: an outer product, not a matrix product with k = 1

    def pull(up: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray) -> Sequence[Part]:
        a, b = operands
        left = (up * b.T if outer else up @ b.T) if mask[0] else None
        return left, a.T @ up if mask[1] else None
    return pull


def _reduce_pull(node: Reduce) -> Pull:
    slope = np.full(node.child.shape, 1.0 if node.kind == "sum" else node.size / node.child.size)  # mean: 1/n
    return lambda up, operands, value: (up * slope,)


def _apply_pull(name: str, derivative: Callable[[np.ndarray], np.ndarray]) -> Pull:
    """U ⊙ f'(z), the slope from the value where that saves numpy calls."""
    if name in ("log", "ln"):
        return lambda up, operands, value: (up / operands[0],)
    if name == "exp":
        return lambda up, operands, value: (up * value,)
    if name == "tanh":
        return lambda up, operands, value: (up * (1 - value * value),)
    if name == "relu":
        return lambda up, operands, value: (up * (operands[0] > 0),)
    return lambda up, operands, value: (up * derivative(operands[0]),)


def _softmax_pull(node: Softmax) -> Pull:
    axes = _along(node.axis)

    def pull(up: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray) -> Sequence[Part]:
        return (value * (up - (up * value).sum(axis=axes, keepdims=True)),)
    return pull


def _checked_pull(node: Node, mask: Sequence[bool]) -> Pull:
    """An operation's own pullback, its products checked (its errstate may hide an overflow)."""
    def pull(up: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray) -> Sequence[Part]:
        parts = node.pullback(up, operands, value, mask)
        return [_finite(part) if wanted else None for part, wanted in zip(parts, mask)]
    return pull


def _puller(node: Node, mask: Sequence[bool]) -> Pull:
    if not _plain(node):
        return _checked_pull(node, mask)
    if isinstance(node, Arithmetic):
        return _arithmetic_pull(node, mask)
    if isinstance(node, MatMul):
        return _matmul_pull(node, mask)
    if isinstance(node, Apply):
        return _apply_pull(node.name, node.function.derivative)
    if isinstance(node, Negate):
        return lambda up, operands, value: (-up,)
    if isinstance(node, Transpose):
        return lambda up, operands, value: (np.swapaxes(up, -1, -2),)
    if isinstance(node, Reduce):
        return _reduce_pull(node)
    assert isinstance(node, Softmax)
    return _softmax_pull(node)


# -- the plan -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    """One operation's pullback: where its gradient is, where its operands' go, where their values are."""

    pull: Pull
    at: int
    children: tuple[int, ...]
    operands: tuple[int, ...]  # value slots
    value: int

    def run(self, gradients: list[Any], values: list[Any]) -> None:
        flow = gradients[self.at]
        if flow is None:
            return
        for k, part in zip(self.children, self.pull(flow, [values[i] for i in self.operands], values[self.value])):
            if part is not None:
                gradients[k] = part if gradients[k] is None else gradients[k] + part


@dataclass(frozen=True)
class _LinePlan:
    """One line's pullbacks with gradients by place in the line (for the walkthrough's records)."""

    line: Line
    nodes: tuple[Node, ...]
    slots: tuple[int, ...]  # each node's value slot
    root: int
    steps: tuple[_Step, ...]  # output first
    leaves: tuple[tuple[str, int, tuple[int, int]], ...]  # operand name, its place, its shape


class CompiledNetwork:
    """The network's walk for one choice of differentiated inputs, every per-call decision taken once. Values live
    in slots (the inputs first); an operand's slot is its name's, a line's name is its root's slot. For the
    gradient alone the pullbacks run as one flat list over the same slots, so a name's gradient adds up from
    every line that uses it; the walkthrough's records keep each line's products apart."""

    def __init__(self, network: Network, wrt: Sequence[str]) -> None:
        self.network, self.wrt = network, tuple(wrt)
        self.shapes = {name: network.shape_of(name) for name in (*network.inputs, *(l.name for l in network.lines))}
        self.outputs = sum(self.shapes[o][0] * self.shapes[o][1] for o in network.outputs)
        self.slots = {name: k for k, name in enumerate(network.inputs)}
        self.inputs = tuple(enumerate(network.inputs))
        template: list[Any] = [None] * len(network.inputs)
        self.forward_steps: list[tuple[Callable[..., np.ndarray], tuple[int, ...], int]] = []
        self.flat: list[_Step] = []
        self.lines = tuple(self._line(line, template) for line in network.lines)
        self.template = template
        self.output_slots = tuple(self.slots[o] for o in network.outputs)

    def _line(self, line: Line, template: list[Any]) -> _LinePlan:
        order = line.order()
        place = {id(node): k for k, node in enumerate(order)}
        slot: dict[int, int] = {}
        for node in order:
            if isinstance(node, Leaf):
                slot[id(node)] = self.slots[node.name]
                continue
            slot[id(node)] = len(template)
            template.append(np.full((1, 1), node.value) if isinstance(node, Number) else None)
            if node.children:
                self.forward_steps.append((_evaluator(node), tuple(slot[id(c)] for c in node.children),
                                           slot[id(node)]))
        self.slots[line.name] = slot[id(line.root)]
        wanted = set(self.wrt) | {other.name for other in self.network.lines}
        flows = {id(leaf) for leaf in line.leaves if leaf.name in wanted}
        for node in order:
            if any(id(child) in flows for child in node.children):
                flows.add(id(node))
        steps, flat = [], []
        for node in reversed(order):
            if id(node) in flows and node.children:
                pull = _puller(node, tuple(id(child) in flows for child in node.children))
                operands = tuple(slot[id(c)] for c in node.children)
                steps.append(_Step(pull, place[id(node)], tuple(place[id(c)] for c in node.children), operands,
                                   slot[id(node)]))
                flat.append(_Step(pull, slot[id(node)], operands, operands, slot[id(node)]))
        self.flat[:0] = flat  # the lines from the output back
        leaves = tuple((leaf.name, place[id(leaf)], leaf.shape) for leaf in line.leaves)
        return _LinePlan(line, tuple(order), tuple(slot[id(n)] for n in order), place[id(line.root)], tuple(steps),
                         leaves)

    # -- calls ---------------------------------------------------------------------------------------------------

    def forward(self, point: Mapping[str, np.ndarray]) -> list[Any]:
        """Every value slot filled at `point` (every input by name, 2-D); `Undefined` if one is not finite."""
        values = self.template.copy()
        for k, name in self.inputs:
            values[k] = point[name]
        with np.errstate(all="raise", under="ignore"):
            try:
                for call, operands, out in self.forward_steps:
                    values[out] = call(*[values[k] for k in operands])
            except (FloatingPointError, ZeroDivisionError):
                raise Undefined from None
        return values

    def outputs_at(self, point: Mapping[str, np.ndarray]) -> np.ndarray:
        """The outputs' entries, flattened in order."""
        return self._outputs(self.forward(point))

    def _outputs(self, values: list[Any]) -> np.ndarray:
        """The outputs' entries, checked once: nothing undefined reached them."""
        return _finite(np.concatenate([values[k].ravel() for k in self.output_slots]))

    def gradients(self, point: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The gradient of every output entry with respect to each differentiated input, (m, rows, cols)."""
        values = self.forward(point)
        self._outputs(values)
        one = self.outputs == 1  # one output entry: its gradients without the leading axis until the end
        gradients: list[Any] = [None] * len(values)
        start = {self.network.outputs[0]: np.ones((1, 1))} if one else seeds(self.network, self.outputs)
        for name, seed in start.items():
            k = self.slots[name]
            gradients[k] = seed if gradients[k] is None else gradients[k] + seed
        with np.errstate(all="raise", under="ignore"):
            try:
                for step in self.flat:
                    step.run(gradients, values)
            except (FloatingPointError, ZeroDivisionError):
                raise Undefined from None
        found: dict[str, np.ndarray] = {}
        memory: set[int] = set()
        for name in self.wrt:
            gradient = gradients[self.slots[name]]
            if gradient is None:
                gradient = np.zeros((self.outputs, *self.shapes[name]))
            elif one:
                gradient = gradient.reshape(1, *gradient.shape)
            if id(gradient.base) in memory or id(gradient) in memory:
                gradient = gradient.copy()  # one array reached two names
            memory.update((id(gradient), id(gradient.base)) if gradient.base is not None else (id(gradient),))
            found[name] = gradient
        return found

    def reverse(self, point: Mapping[str, np.ndarray]
                ) -> tuple[dict[str, np.ndarray], list[Values], list[Record], dict[str, np.ndarray]]:
        """`network_walk.reverse`'s numbers: every value by name, each line's operation values, each line's
        record (reverse order), the gradients of the differentiated inputs (m, rows, cols)."""
        values = self.forward(point)
        self._outputs(values)
        by_name, records = self._backward(values, seeds(self.network, self.outputs))
        known = {**point, **{line.name: values[self.slots[line.name]] for line in self.network.lines}}
        per_line = [{id(node): values[k] for node, k in zip(plan.nodes, plan.slots)} for plan in self.lines]
        gradients = {name: by_name[name] if name in by_name else np.zeros((self.outputs, *self.shapes[name]))
                     for name in self.wrt}
        return known, per_line, records, gradients

    def _backward(self, values: list[Any], start: dict[str, np.ndarray]
                  ) -> tuple[dict[str, np.ndarray], list[Record]]:
        """Line by line from the output, each line's upstream, products and the gradients before them kept."""
        by_name = dict(start)
        records: list[Record] = []
        with np.errstate(all="raise", under="ignore"):
            try:
                for plan in reversed(self.lines):
                    up = by_name.get(plan.line.name)
                    if up is None:
                        up = np.zeros((self.outputs, *plan.line.shape))
                    products = self._line_back(plan, values, up)
                    before = {name: by_name.get(name, 0.0) for name in products}
                    line_values = {id(node): values[k] for node, k in zip(plan.nodes, plan.slots)}
                    records.append((plan.line, line_values, up, products, before))
                    for name, part in products.items():
                        by_name[name] = part if name not in by_name else by_name[name] + part
            except (FloatingPointError, ZeroDivisionError):
                raise Undefined from None
        return by_name, records

    def _line_back(self, plan: _LinePlan, values: list[Any], up: np.ndarray) -> dict[str, np.ndarray]:
        """One line's vector-Jacobian products per operand (0 for an operand nothing flows to)."""
        gradients: list[Any] = [None] * len(plan.nodes)
        gradients[plan.root] = up
        for step in plan.steps:
            step.run(gradients, values)
        return {name: gradients[k] if gradients[k] is not None else np.zeros((self.outputs, *shape))
                for name, k, shape in plan.leaves}

    # -- the check's directions -------------------------------------------------------------------------------------

    @cached_property
    def kept_directions(self) -> np.ndarray | None:
        """The check's three random unit directions (seeded), drawn once per cell when small enough to keep."""
        count = sum(self.shapes[n][0] * self.shapes[n][1] for n in self.wrt)
        return directions(count) if 3 * count <= KEPT_DIRECTION_NUMBERS else None


def directions(count: int) -> np.ndarray:
    """Three random unit directions in `count` dimensions, the same every time (seed 0)."""
    rng = np.random.default_rng(0)
    found = np.empty((3, count))
    for row in found:
        row[:] = rng.standard_normal(count)
        row /= np.linalg.norm(row)
    return found
