"""A layer cell as a graph of array operations: its lines, each a tree of operations, and what flows through them
(values forward, vector-Jacobian products back, Jacobian-vector products forward) line by line.

`read.network` and `read.array_trace` build it from cell text and from a traced numpy def; the walk
(`network_walk`) and the closed forms work on it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.choices import Where
from jacmagic.chain.images import IMAGE_NODES
from jacmagic.chain.operations import Arithmetic, Factor, Leaf, Node, Number, Shape, Values
from jacmagic.chain.reductions import Reduce, Softmax


def _undefined_where(flow: np.ndarray, value: np.ndarray, flow_axis: bool) -> np.ndarray:
    """A gradient (..., r, c) or tangents (r, c, p) at an operation: undefined where its value is undefined and
    something flows through it (a 0 flowing stays 0: what does not depend on the value is not made undefined)."""
    missing = np.isnan(value)
    if not missing.any():
        return flow
    return np.where((missing[..., None] if flow_axis else missing) & (flow != 0), np.nan, flow)


def _inherited(node: Node, operands: Sequence[np.ndarray], marks: Sequence[np.ndarray]) -> np.ndarray:
    """Which entries of an operation's value are computed from an undefined entry of its operands (`marks`):
    nan where the operation is applied with those entries nan (the rest as they are, and 1 for a value with no
    finite number), beside the same with none nan. Where that stand-in alone leaves no value (1/(1 - 1), a
    singular matrix), every such entry counts, as when the operation fails: undefined is never lost."""
    if not any(mark.any() for mark in marks):
        return np.zeros(node.shape, dtype=bool)
    clean = [np.where(np.isfinite(o), o, 1.0) for o in operands]
    try:
        with np.errstate(all="ignore"):
            alone = np.isnan(node.evaluate(clean))
            spread = np.isnan(node.evaluate([np.where(m, np.nan, c) for m, c in zip(marks, clean)]))
    except (ArithmeticError, ValueError):
        return np.ones(node.shape, dtype=bool)
    return np.broadcast_to(alone | spread, node.shape)


@dataclass(eq=False)
class Line:
    """One assignment line: its name, its operation tree, and its operands (the leaves), in first-use order."""

    name: str
    number: int
    root: Node
    leaves: tuple[Leaf, ...]

    @property
    def shape(self) -> Shape:
        return self.root.shape

    def order(self) -> list[Node]:
        """The nodes, operands before what uses them."""
        seen: dict[int, Node] = {}

        def visit(node: Node) -> None:
            if id(node) in seen:
                return
            for child in node.children:
                visit(child)
            seen[id(node)] = node
        visit(self.root)
        return list(seen.values())

    def evaluate(self, known: Mapping[str, np.ndarray]) -> Values:
        values: Values = {}
        for node in self.order():
            if isinstance(node, Leaf):
                values[id(node)] = known[node.name]
            else:
                with np.errstate(all="ignore"):
                    value = node.evaluate([values[id(c)] for c in node.children])
                # No finite value (log(-1), 1/0, overflow) is nan, whatever follows: exp(log(0)) is not 0. Which of
                # them are undefined rather than overflowed, `Network.undefined_outputs` says where it matters.
                values[id(node)] = value if np.isfinite(value).all() else np.where(np.isfinite(value), value, np.nan)
        return values

    def undefined_entries(self, values: Values, earlier: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which entries of this line's value are undefined (an operation applied outside its domain, here or in
        what the entry is computed from: `earlier` says it for the lines before), rather than finite or merely
        too large for a double. Both are nan in `values`; only an undefined entry has no derivative at all."""
        marks: dict[int, np.ndarray] = {}
        for node in self.order():
            value = values[id(node)]
            if isinstance(node, Leaf):
                marks[id(node)] = np.asarray(earlier.get(node.name, np.zeros(value.shape, dtype=bool)))
                continue
            if np.isfinite(value).all():
                marks[id(node)] = np.zeros(value.shape, dtype=bool)
                continue
            operands = [values[id(c)] for c in node.children]
            with np.errstate(all="ignore"):
                own = node.outside_domain(operands, value)
            inherited = _inherited(node, operands, [marks[id(c)] for c in node.children])
            marks[id(node)] = np.isnan(value) & (own | inherited)
        return marks[id(self.root)]

    def undefined(self, values: Values) -> str | None:
        """Why this line's value (or, where the value is finite, its derivative) is undefined at the point: the
        first operation with no finite value, or no derivative, from finite operands; None if there is none."""
        for node in self.order():
            operands = [values[id(c)] for c in node.children]
            if not operands or not all(np.isfinite(o).all() for o in operands):
                continue
            why = node.undefined(operands) if np.isnan(values[id(node)]).any() else node.unsloped(operands)
            if why:
                return f"{why} (line {self.number})"
        return None

    def pullback(self, upstream: np.ndarray, values: Values, wanted: Collection[str] | None = None,
                 kinks: float | None = None) -> dict[str, np.ndarray]:
        """The vector-Jacobian product: upstream (..., r, c) times this line's local Jacobian, per operand name
        (only the `wanted` operands, when given: the rest get 0 without their products being formed). With
        `kinks` (a size), what flows through a kink (`Node.kinks`) beyond that size is undefined: which gradients
        depend on one (less is rounding left by a cancellation: the shift by max(z) in the stable softmax)."""
        order = self.order()
        flows = {id(leaf) for leaf in self.leaves if wanted is None or leaf.name in wanted}
        for node in order:
            if any(id(child) in flows for child in node.children):
                flows.add(id(node))
        gradients: dict[int, np.ndarray] = {id(self.root): upstream}
        for node in reversed(order):
            if not node.children or id(node) not in gradients:
                continue
            mask = [id(child) in flows for child in node.children]
            operands = [values[id(c)] for c in node.children]
            flow = _undefined_where(gradients[id(node)], values[id(node)], flow_axis=False)
            if kinks is not None:
                flow = np.where(node.kinks(operands) & (np.abs(flow) > kinks), np.nan, flow)
            with np.errstate(all="ignore"):
                parts = node.pullback(flow, operands, values[id(node)], mask)
            for child, part, needed in zip(node.children, parts, mask):
                if needed:
                    gradients[id(child)] = gradients[id(child)] + part if id(child) in gradients else part
        batch = upstream.shape[:-2]
        return {leaf.name: gradients[id(leaf)] if id(leaf) in gradients else np.zeros(batch + leaf.shape)
                for leaf in self.leaves}

    def pushforward(self, tangents: Mapping[str, np.ndarray], values: Values, directions: int) -> np.ndarray:
        """The Jacobian-vector product: this line's local Jacobians times its operands' tangents (r', c', p)."""
        found: dict[int, np.ndarray] = {}
        for node in self.order():
            if isinstance(node, Leaf):
                found[id(node)] = tangents.get(node.name, np.zeros((*node.shape, directions)))
            elif isinstance(node, Number):
                found[id(node)] = np.zeros((1, 1, directions))
            else:
                with np.errstate(all="ignore"):
                    pushed = node.pushforward([found[id(c)] for c in node.children],
                                              [values[id(c)] for c in node.children], values[id(node)])
                found[id(node)] = _undefined_where(pushed, values[id(node)], flow_axis=True)
        return found[id(self.root)]

    def factors(self, leaf: Leaf) -> list[list[Factor]]:
        """The local Jacobian with respect to one operand, as products of factors from the output down, one
        product per place the operand is used (they add up). A factor between two numbers is shown as one."""
        paths: list[list[Factor]] = []

        def walk(node: Node, above: list[Factor]) -> None:
            if node is leaf:
                paths.append(above)
            for k, child in enumerate(node.children):
                if node.flows(k):
                    factor = node.factor(k)
                    walk(child, above + [factor.as_number() if node.size == child.size == 1 else factor])
        walk(self.root, [])
        return paths


@dataclass(eq=False)
class Network:
    """A layer cell read as array operations: its declared arrays, its lines, and the names the lines leave
    unused (the outputs)."""

    declared: dict[str, Shape]
    lines: tuple[Line, ...]
    inputs: tuple[str, ...]  # every operand name that is not computed, in first-use order
    outputs: tuple[str, ...]

    def nodes(self) -> list[Node]:
        return [node for line in self.lines for node in line.order()]

    @property
    def batched(self) -> bool:
        """Does a line broadcast a column or a row over a matrix, work along an axis, use an image operation, or
        read a batch of images? (The entry-level reader does none of these: such a cell is checked by central
        differences.)"""
        if any(self.stack_of(name) > 1 for name in self.inputs):
            return True
        return any(getattr(node, "axis", None) is not None or isinstance(node, IMAGE_NODES) or
                   (isinstance(node, (Arithmetic, Where)) and any(c.size > 1 and c.shape != node.shape
                                                                  for c in node.children))
                   for node in self.nodes())

    def batch_words(self) -> str | None:
        """What the walkthrough says when the lines work on a batch in the columns (a column added to every
        column, a softmax or sum per column), None otherwise."""
        widths: set[int] = set()
        spread: dict[str, None] = {}
        along = [node for node in self.nodes() if isinstance(node, (Reduce, Softmax)) and node.axis == 0]
        widths.update(node.child.shape[1] for node in along)
        for node in self.nodes():
            if isinstance(node, (Arithmetic, Where)) and node.shape[1] > 1:
                for child in node.children:
                    if child.shape[1] == 1 and child.shape[0] > 1:
                        widths.add(node.shape[1])
                        if isinstance(child, Leaf):
                            spread[child.name] = None
        if len(widths) != 1:
            return None
        said = f"a batch: each of the {widths.pop()} columns is one example"
        if spread:
            names, one = ", ".join(spread), len(spread) == 1
            said += (f"; {names} ({'a column' if one else 'columns'}) {'goes' if one else 'go'} with every column, "
                     f"so {'its gradient sums' if one else 'their gradients sum'} over the examples")
        return said + ("; axis=0 works example by example" if along else "")

    def stack_of(self, name: str) -> int:
        """How many images an input holds (a batch `x: 32x8x8`), stacked along its rows; 1 for any other."""
        return next((leaf.stack for line in self.lines for leaf in line.leaves if leaf.name == name), 1)

    def shape_of(self, name: str) -> Shape:
        computed = {line.name: line.shape for line in self.lines}
        return computed.get(name) or self.declared.get(name, (1, 1))

    def undefined_outputs(self, per_line: Sequence[Values]) -> np.ndarray:
        """For each output entry, flattened in order: is its value undefined (a domain error, `Line.evaluate`'s
        nan for log(-1), 0/0, ...), as the entry level's guards say, rather than finite or an overflow? An
        undefined output has no derivative by any input; an overflowed one (exp(1000): a value, just too large
        for a double) keeps the derivatives that are exactly 0, by the inputs it does not depend on."""
        marks: dict[str, np.ndarray] = {}
        for line, values in zip(self.lines, per_line):
            if not np.isfinite(values[id(line.root)]).all():  # a finite value is never undefined
                marks[line.name] = line.undefined_entries(values, marks)
        return np.concatenate([marks.get(o, np.zeros(self.shape_of(o), dtype=bool)).ravel() for o in self.outputs])

    def forward(self, point: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[Values]]:
        """Every value by name, and every line's operation values."""
        known = dict(point)
        per_line = []
        for line in self.lines:
            values = line.evaluate(known)
            known[line.name] = values[id(line.root)]
            per_line.append(values)
        return known, per_line
