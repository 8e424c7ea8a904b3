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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from jacmagic import points
from jacmagic.chain.array_code import (
    Undefined,
    evaluator,
    finite,
    fused_loss,
    proven_leaves,
    pullback_code,
    puller,
)
from jacmagic.chain.flat_code import Fused, Step, flat_function
from jacmagic.chain.network import Line, Network
from jacmagic.chain.operations import Leaf, Node, Number, Values
from jacmagic.options import shapes_taken

# A line's record for the walkthrough: the line, its operation values, the upstream, the products per operand and
# each operand's gradient before them (0.0 if none yet).
Record = tuple[Line, Values, np.ndarray, dict[str, np.ndarray], dict[str, Any]]

# The check's random directions and its buffers are kept with the cell when they hold at most this many numbers.
KEPT_DIRECTION_NUMBERS = 8_000_000


def seeds(network: Network, m: int) -> dict[str, np.ndarray]:
    """The seed of reverse mode: each output entry's gradient of itself, one row per output entry."""
    eye, found, start = np.eye(m), {}, 0
    for name in network.outputs:
        r, c = network.shape_of(name)
        found[name] = eye[:, start:start + r * c].reshape(m, r, c)
        start += r * c
    return found


# -- the plan -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _LinePlan:
    """One line's pullbacks with gradients by place in the line (for the walkthrough's records)."""

    line: Line
    nodes: tuple[Node, ...]
    slots: tuple[int, ...]  # each node's value slot
    root: int
    steps: tuple[Step, ...]  # output first
    leaves: tuple[tuple[str, int, tuple[int, int]], ...]  # operand name, its place, its shape


class CompiledNetwork:
    """The network's walk for one choice of differentiated inputs, every per-call decision taken once. Values live
    in slots (the inputs first); an operand's slot is its name's, a line's name is its root's slot. For the
    gradient alone the pullbacks run as one flat list over the same slots, so a name's gradient adds up from
    every line that uses it; the walkthrough's records keep each line's products apart."""

    def __init__(self, network: Network, wrt: Sequence[str]) -> None:
        self.network, self.wrt = network, tuple(wrt)
        names = (*network.inputs, *(line.name for line in network.lines))
        self.shapes = {name: network.shape_of(name) for name in names}
        self.outputs = sum(self.shapes[o][0] * self.shapes[o][1] for o in network.outputs)
        self.slots = {name: k for k, name in enumerate(network.inputs)}
        self.inputs = tuple(enumerate(network.inputs))
        template: list[Any] = [None] * len(network.inputs)
        self.forward_steps: list[tuple[Callable[..., np.ndarray], tuple[int, ...], int]] = []
        self.flat: list[Step] = []
        self.fused: list[Fused] = []
        self.lines = tuple(self._line(line, template) for line in network.lines)
        self.template = template
        self.output_slots = tuple(self.slots[o] for o in network.outputs)
        self.one = self.outputs == 1  # one output entry: its gradients without the leading axis until the end
        start = [self.network.outputs[0]] if self.one else list(network.outputs)
        self.flat_function, self.fresh = flat_function(self, template, [self.slots[name] for name in start])

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
                self.forward_steps.append((evaluator(node), tuple(slot[id(c)] for c in node.children),
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
                mask = tuple(id(child) in flows for child in node.children)
                pull, code = puller(node, mask), pullback_code(node, mask, self.outputs == 1)
                operands = tuple(slot[id(c)] for c in node.children)
                steps.append(Step(pull, place[id(node)], tuple(place[id(c)] for c in node.children), operands,
                                   slot[id(node)], mask, None))  # the records call `pull`
                flat.append(Step(pull, slot[id(node)], operands, operands, slot[id(node)], mask, code))
        self.flat[:0] = flat  # the lines from the output back
        self._fuse(order, slot, flows, template)
        leaves = tuple((leaf.name, place[id(leaf)], leaf.shape) for leaf in line.leaves)
        return _LinePlan(line, tuple(order), tuple(slot[id(n)] for n in order), place[id(line.root)], tuple(steps),
                         leaves)

    def _fuse(self, order: list[Node], slot: dict[int, int], flows: set[int], template: list[Any]) -> None:
        """Find the line's softmax cross-entropies (`array_code.fused_loss`) for the flat gradient."""
        parents: dict[int, int] = {}
        for node in order:
            for child in node.children:
                parents[id(child)] = parents.get(id(child), 0) + 1
        inside: set[int] = set()
        for node in reversed(order):
            found = None if id(node) in inside else fused_loss(node, parents)
            if found is None:
                continue
            inside.update(id(n) for n in found.inner)
            template += [None, None]
            self.fused.append(Fused(found, slot[id(node)], slot[id(found.logits)], slot[id(found.labels)],
                                     len(template) - 2, len(template) - 1,
                                     frozenset(slot[id(n)] for n in found.inner),
                                     (id(found.logits) in flows, id(found.labels) in flows)))

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
        return finite(np.concatenate([values[k].ravel() for k in self.output_slots]))

    def gradients(self, point: Mapping[str, np.ndarray], dims: Mapping[str, tuple[int, ...]] | None = None
                  ) -> dict[str, np.ndarray]:
        """The gradient of every output entry with respect to each differentiated input, (m, rows, cols), or in
        the inputs' numpy shapes `dims` (`laid_out`), each in memory of its own."""
        return self.laid_out(self._flat([point[name] for name in self.network.inputs]), dims)

    def given_gradient(self, values: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """`gradients` in the shapes given, straight from `values` when they give every input as an array of
        doubles in a shape its name takes, all finite (`points.arrays_in_order`: no dictionary of the point, no
        copy); None for anything else or where a value is undefined: the caller reads the point, refuses it naming
        the value, or walks exactly, saying where."""
        arrays = points.arrays_in_order(self.taken, values, self.proven)
        if arrays is None:
            return None
        try:
            found = self._flat(arrays)
        except Undefined:
            return None
        return self._shaped(found, [values[name].shape for name in self.wrt])

    @cached_property
    def proven(self) -> frozenset[int]:
        """The inputs (places) a fused softmax cross-entropy's checked value proves finite: its labels, and what
        reaches its logits only through + and - (`array_code.proven_leaves`). A nan or an infinity in one makes
        the loss not finite or raises on the way, so the flat function raises and the point is read by name."""
        lines = {line.name: line.root for line in self.network.lines}
        return frozenset(self.slots[leaf.name] for fused in self.fused for leaf in proven_leaves(fused.loss, lines)
                         if self.slots[leaf.name] < len(self.inputs))

    @cached_property
    def taken(self) -> dict[str, dict[tuple[int, ...], tuple[int, int]]]:
        """The numpy shapes each input's value may come in, each to its working shape (`options.shapes_taken`),
        in the network's order."""
        return {name: shapes_taken(self.shapes[name], self.network.stack_of(name)) for name in self.network.inputs}

    def _flat(self, arrays: Sequence[np.ndarray]) -> Sequence[Any]:
        """The flat function on the inputs in order: the gradients (rows, cols) for one output entry, else
        (m, rows, cols), each in memory of its own; `Undefined` where a value is not finite."""
        try:
            gradients = self.flat_function(self._seeds if self.fresh else self._new_seeds(), *arrays)
        except (FloatingPointError, ZeroDivisionError):
            raise Undefined from None
        if self.fresh:  # each a new array (`flat_function`)
            return gradients
        memory = {id(g if g.base is None else g.base) for g in gradients if g is not None}
        # one array reached two names, or a name has no gradient
        return self._apart(gradients) if len(memory) < len(gradients) else gradients

    @cached_property
    def _seeds(self) -> tuple[np.ndarray, ...]:
        """The seeds kept, read-only, where no gradient handed out can be one of them or a view of one (`fresh`)."""
        kept = self._new_seeds()
        for seed in kept:
            seed.flags.writeable = False
        return kept

    def _new_seeds(self) -> tuple[np.ndarray, ...]:
        return (np.ones((1, 1)),) if self.one else tuple(seeds(self.network, self.outputs).values())

    def laid_out(self, gradients: Iterable[Any], dims: Mapping[str, tuple[int, ...]] | None = None
                 ) -> dict[str, np.ndarray]:
        """The differentiated inputs' gradients in order, each (rows, cols) or (m, rows, cols), by name as
        (m, rows, cols), or with `dims` each in its input's numpy shape with the leading axis only for several
        output entries (as `result.own_shape`): one reshape each, no copy."""
        if dims is None:
            return {name: g.reshape(self.outputs, *self.shapes[name]) for name, g in zip(self.wrt, gradients)}
        return self._shaped(gradients, [dims[name] for name in self.wrt])

    def _shaped(self, gradients: Iterable[Any], shapes: Sequence[tuple[int, ...]]) -> dict[str, np.ndarray]:
        """Each gradient in its input's numpy shape, behind a leading axis for several output entries."""
        if self.one:  # mostly in that shape already: a new view costs more than the comparison
            return {name: g if g.shape == shape else g.reshape(shape)
                    for name, g, shape in zip(self.wrt, gradients, shapes)}
        return {name: g.reshape(self.outputs, *shape) for name, g, shape in zip(self.wrt, gradients, shapes)}

    def _apart(self, gradients: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """The gradients each in memory of its own (a copy where one array reached two names), zeros for a name
        nothing reaches."""
        found: list[np.ndarray] = []
        memory: set[int] = set()
        for name, gradient in zip(self.wrt, gradients):
            if gradient is None:
                gradient = np.zeros((self.outputs, *self.shapes[name]))
            held = id(gradient if gradient.base is None else gradient.base)
            found.append(gradient.copy() if held in memory else gradient)
            memory.add(held)
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

    def moves(self, step: float) -> np.ndarray:
        """The check's three random unit directions (seeded) times `step`, (3, n): kept with the cell when small
        enough, and scaled again only when the step changes (it follows the size of the point's entries)."""
        if not self._kept:
            return directions(self._count) * step
        kept = self._moves
        if kept[0] != step:
            np.multiply(self._directions, step, out=kept[1])
            self._moves = (step, kept[1])
        return kept[1]

    @cached_property
    def _directions(self) -> np.ndarray:
        return directions(self._count)

    @cached_property
    def _moves(self) -> tuple[float, np.ndarray]:
        return (0.0, np.empty((3, self._count)))

    @property
    def check_buffers(self) -> tuple[dict[str, np.ndarray], ...]:
        """Two arrays per differentiated input that the check fills in place (the point ahead and behind): kept
        with the directions, since a fresh large array costs more to allocate (page faults) than to
        fill. (One walkthrough at a time per cell: a kernel runs one cell at a time.)"""
        return self._buffers if self._kept else self._new_buffers()

    @cached_property
    def _buffers(self) -> tuple[dict[str, np.ndarray], ...]:
        return self._new_buffers()

    def _new_buffers(self) -> tuple[dict[str, np.ndarray], ...]:
        return tuple({name: np.empty(self.shapes[name]) for name in self.wrt} for _ in range(2))

    @property
    def _count(self) -> int:
        return sum(self.shapes[n][0] * self.shapes[n][1] for n in self.wrt)

    @property
    def _kept(self) -> bool:
        return 8 * self._count <= KEPT_DIRECTION_NUMBERS


def directions(count: int) -> np.ndarray:
    """Three random unit directions in `count` dimensions, the same every time (seed 0)."""
    rng = np.random.default_rng(0)
    found = np.empty((3, count))
    for row in found:
        row[:] = rng.standard_normal(count)
        row /= np.linalg.norm(row)
    return found
