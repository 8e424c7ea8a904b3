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
    FusedLoss,
    Pull,
    Template,
    Undefined,
    compiled,
    evaluator,
    finite,
    fused_forward,
    fused_loss,
    fused_pullback,
    pullback_code,
    puller,
    written,
)
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
class _Step:
    """One operation's pullback: where its gradient is, where its operands' go, where their values are."""

    pull: Pull
    at: int
    children: tuple[int, ...]
    operands: tuple[int, ...]  # value slots
    value: int
    wanted: tuple[bool, ...]  # which operands get a part (the rest: None)
    code: Template | None  # the pullback as code, for a plain operation

    def run(self, gradients: list[Any], values: list[Any]) -> None:
        flow = gradients[self.at]
        if flow is None:
            return
        for k, part in zip(self.children, self.pull(flow, [values[i] for i in self.operands], values[self.value])):
            if part is not None:
                gradients[k] = part if gradients[k] is None else gradients[k] + part


@dataclass(frozen=True)
class _Fused:
    """A softmax cross-entropy the flat gradient computes and pulls back in one piece: its slots."""

    loss: FusedLoss
    top: int
    logits: int
    labels: int
    s: int  # softmax(z), a slot of its own
    logs: int  # log_softmax(z)
    inner: frozenset[int]  # the values the flat gradient does not compute
    wanted: tuple[bool, bool]  # gradients by z, by y


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
        names = (*network.inputs, *(line.name for line in network.lines))
        self.shapes = {name: network.shape_of(name) for name in names}
        self.outputs = sum(self.shapes[o][0] * self.shapes[o][1] for o in network.outputs)
        self.slots = {name: k for k, name in enumerate(network.inputs)}
        self.inputs = tuple(enumerate(network.inputs))
        template: list[Any] = [None] * len(network.inputs)
        self.forward_steps: list[tuple[Callable[..., np.ndarray], tuple[int, ...], int]] = []
        self.flat: list[_Step] = []
        self.fused: list[_Fused] = []
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
                pull, code = puller(node, mask), pullback_code(node, mask)
                operands = tuple(slot[id(c)] for c in node.children)
                steps.append(_Step(pull, place[id(node)], tuple(place[id(c)] for c in node.children), operands,
                                   slot[id(node)], mask, code))
                flat.append(_Step(pull, slot[id(node)], operands, operands, slot[id(node)], mask, code))
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
            self.fused.append(_Fused(found, slot[id(node)], slot[id(found.logits)], slot[id(found.labels)],
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
        arrays = points.arrays_in_order(self.taken, values)
        if arrays is None:
            return None
        try:
            found = self._flat(arrays)
        except Undefined:
            return None
        return self._shaped(found, [values[name].shape for name in self.wrt])

    @cached_property
    def taken(self) -> dict[str, dict[tuple[int, ...], tuple[int, int]]]:
        """The numpy shapes each input's value may come in, each to its working shape (`options.shapes_taken`),
        in the network's order."""
        return {name: shapes_taken(self.shapes[name], self.network.stack_of(name)) for name in self.network.inputs}

    def _flat(self, arrays: Sequence[np.ndarray]) -> Sequence[Any]:
        """The flat function on the inputs in order: the gradients (rows, cols) for one output entry, else
        (m, rows, cols), each in memory of its own; `Undefined` where a value is not finite."""
        start = (np.ones((1, 1)),) if self.one else tuple(seeds(self.network, self.outputs).values())
        try:
            gradients = self.flat_function(start, *arrays)
        except (FloatingPointError, ZeroDivisionError):
            raise Undefined from None
        if self.fresh:  # each a new array (`flat_function`)
            return gradients
        memory = {id(g if g.base is None else g.base) for g in gradients if g is not None}
        # one array reached two names, or a name has no gradient
        return self._apart(gradients) if len(memory) < len(gradients) else gradients

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


def flat_function(plan: CompiledNetwork, template: list[Any], seeded: list[int]
                  ) -> tuple[Callable[..., tuple[np.ndarray | None, ...]], bool]:
    """The forward pass, the check of the outputs and every pullback as one Python function of numpy calls, run
    under errstate(all="raise"):
    `(seeds, *inputs) -> the gradients of the differentiated inputs in order` (None for one nothing reaches), e.g.
    `v7 = f3(v2, v5)` forward and `g2 = g2 + g7 * v5` back, plain operations' pullbacks written in line. Also
    whether every gradient it returns is sure to be a new array of its own: none is the upstream passed on as it
    is, a view of it (a transpose), a seed or another operation's part, and every one is reached."""
    bound: dict[str, Any] = {"check": _finite_outputs}
    body = []
    for k, value in enumerate(template):
        if value is not None:  # a number of the cell
            bound[f"n{k}"] = value
            body.append(f"    v{k} = n{k}")
    fused = {f.top: f for f in plan.fused}
    skipped = set().union(*(f.inner for f in plan.fused)) - set(fused)
    used = {k for _, operands, out in plan.forward_steps if out not in skipped for k in operands} | {
        k for step in plan.flat if step.at not in skipped and step.at not in fused for k in step.operands}
    for j, (call, operands, out) in enumerate(plan.forward_steps):
        if out in fused:
            bound[f"f{j}"] = fused_forward(fused[out].loss, out in used)
            body.append(f"    v{out}, v{fused[out].s}, v{fused[out].logs} = f{j}(v{fused[out].logits}, "
                        f"v{fused[out].labels})")
        elif out not in skipped:
            bound[f"f{j}"] = call
            body.append(f"    v{out} = f{j}({', '.join(f'v{k}' for k in operands)})")
    unchecked = [k for k in plan.output_slots if k not in fused]  # a fused loss checks its own value
    if unchecked:
        body.append(f"    check({', '.join(f'v{k}' for k in unchecked)})")
    reached: set[int] = set()
    shared: set[int] = set()  # gradients that may be an array another slot also holds
    unit = set(seeded) if plan.one else set()  # gradients that are the seed 1 alone

    def add(slot: int, part: str, new: bool = True) -> None:
        body.append(f"    g{slot} = g{slot} + {part}" if slot in reached else f"    g{slot} = {part}")
        unit.difference_update({slot} if slot in reached else set())
        (shared.discard if slot in reached or new else shared.add)(slot)
        reached.add(slot)
    for j, slot in enumerate(seeded):
        add(slot, f"s[{j}]", new=False)
    for j, step in enumerate(plan.flat):
        if step.at not in reached or step.at in skipped:
            continue  # nothing flows into this operation, or it is inside a fused loss
        if step.at in fused:
            _pull_fused(fused[step.at], step.at in unit, add)
            continue
        if step.code is None:
            bound[f"b{j}"] = step.pull
            body.append(f"    p = b{j}(g{step.at}, ({''.join(f'v{k}, ' for k in step.operands)}), v{step.value})")
        forms, constants = step.code or ((None,) * len(step.children), {})
        names = {name: f"c{j}_{name}" for name in constants}
        bound.update({names[name]: value for name, value in constants.items()})
        for i, (child, wanted, form) in enumerate(zip(step.children, step.wanted, forms)):
            if wanted:
                add(child, f"p[{i}]" if form is None else
                    f"({written(form, f'g{step.at}', [f'v{k}' for k in step.operands], f'v{step.value}', names)})",
                    new=form is not None and form != "{up}" and not form.startswith("{swapaxes}"))
    slots = [plan.slots[name] for name in plan.wrt]
    body.append(f"    return ({''.join(f'g{k}, ' if k in reached else 'None, ' for k in slots)})")
    head = f"def flat(s, {''.join(f'v{k}, ' for k in range(len(plan.inputs)))}):\n"
    flat = compiled(head + "\n".join(body) + "\n", bound)["flat"]
    fresh = len(set(slots)) == len(slots) and all(k in reached and k not in shared for k in slots)
    return np.errstate(all="raise", under="ignore")(flat), fresh  # per call, thread-safe


def _pull_fused(loss: _Fused, unit: bool, add: Callable[[int, str], None]) -> None:
    """A fused softmax cross-entropy's gradients by its logits and labels, added to theirs."""
    for slot, wanted, form in zip((loss.logits, loss.labels), loss.wanted, fused_pullback(loss.loss, unit)):
        if wanted:
            add(slot, "(" + form.format(up=f"g{loss.top}", y=f"v{loss.labels}", s=f"v{loss.s}",
                                        logs=f"v{loss.logs}") + ")")


def _finite_outputs(*outputs: np.ndarray) -> None:
    """The one check of the outputs: nothing undefined reached them."""
    for output in outputs:
        finite(output)


def directions(count: int) -> np.ndarray:
    """Three random unit directions in `count` dimensions, the same every time (seed 0)."""
    rng = np.random.default_rng(0)
    found = np.empty((3, count))
    for row in found:
        row[:] = rng.standard_normal(count)
        row /= np.linalg.norm(row)
    return found
