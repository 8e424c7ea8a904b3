"""exp(z − M) / sum(exp(z − M)) read as softmax(z), and its log as log_softmax(z): one rewrite of a traced graph.

A numpy def writes the stable softmax by hand (`e = np.exp(z - np.max(z))`, then `e / e.sum()`). Any M shared by
the entries normalised together (a number: max(z), a mean, a constant; or one per column or row along the sum's
axis) cancels, so the quotient is softmax(z) exactly, with the textbook's local Jacobian diag(s) − s sᵀ: the
walkthrough and the closed form then see softmax + cross-entropy = p − y, not the quotient rule through the max's
one-hot slope (a formula nobody reads). A line the rewrite leaves unused (e itself) is dropped, its words kept in
the softmax's; a rewrite that would drop an input, or change the outputs, is not made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from jacmagic.chain.elementwise import Apply
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Arithmetic, Leaf, Node
from jacmagic.chain.reductions import Axis, Reduce, ShiftedSoftmax, reduced


def recognise(lines: Sequence[Line]) -> tuple[Line, ...]:
    """The lines with each hand-written shifted softmax (and its log) as one softmax node; unchanged when there
    is none, or when dropping the lines it leaves unused would change the inputs or the outputs."""
    roots = {line.name: line.root for line in lines}
    rewriter = _Rewriter(roots)
    rewritten = [dataclasses.replace(line, root=root) if (root := rewriter.node(line.root)) is not line.root
                 else line for line in lines]
    if not rewriter.made:
        return tuple(lines)
    kept = _live(rewritten, _outputs(lines))
    return kept if _inputs(kept) == _inputs(lines) and _outputs(kept) == _outputs(lines) else tuple(lines)


class _Rewriter:
    """Rebuilds the nodes bottom-up, keeping every unchanged node (and its sharing) as it was."""

    def __init__(self, roots: Mapping[str, Node]) -> None:
        self.roots = roots
        self.done: dict[int, Node] = {}
        self.made: set[int] = set()  # the softmax nodes this rewrite built

    def node(self, node: Node) -> Node:
        if id(node) not in self.done:
            self.done[id(node)] = self._softmax(node, self._rebuilt(node))
        return self.done[id(node)]

    def _rebuilt(self, node: Node) -> Node:
        changes: dict[str, Node | tuple[Node, ...]] = {}
        for field in dataclasses.fields(node):  # type: ignore[arg-type]
            value = getattr(node, field.name)
            new: Node | tuple[Node, ...]
            if isinstance(value, Node):
                new = self.node(value)
            elif isinstance(value, tuple) and value and all(isinstance(v, Node) for v in value):
                new = tuple(self.node(v) for v in value)
            else:
                continue
            if new != value:
                changes[field.name] = new
        return dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]

    def _softmax(self, written: Node, node: Node) -> Node:
        """`node` (rebuilt from `written`) as a softmax when it is one: e / sum(e) with e = exp(z ∓ M), or the log
        of such a softmax."""
        if isinstance(node, Apply) and node.name == "log" and id(node.child) in self.made:
            inner = node.child
            assert isinstance(inner, ShiftedSoftmax)
            return self._made(ShiftedSoftmax(inner.child, True, inner.axis, written.show().text, inner.where))
        if not (isinstance(node, Arithmetic) and node.op == "/" and isinstance(node.right, Reduce)
                and node.right.kind == "sum"):
            return node
        axis = node.right.axis
        z = self._shifted(node.left, axis)
        if z is None or not self._same(node.left, node.right.child) or (axis is None and min(z.shape) > 1):
            return node  # a softmax over every entry of a matrix: not one the walk and closed form write
        e = node.left
        where = f"{e.name} = {self.roots[e.name].show().text}" if isinstance(e, Leaf) and e.name in self.roots \
            else ""
        return self._made(ShiftedSoftmax(z, False, axis, written.show().text, where))

    def _made(self, node: ShiftedSoftmax) -> Node:
        self.made.add(id(node))
        return node

    def _shifted(self, e: Node, axis: Axis) -> Node | None:
        """z when e is exp(z ∓ M₁ ∓ M₂ ...), each M shared by the entries normalised together (a number, or one
        per column or row along `axis`), e and z of one shape; also through an earlier line's name."""
        exp = self._resolved(e)
        if not (isinstance(exp, Apply) and exp.name == "exp"):
            return None
        z, shifted = self._resolved(exp.child), False
        while isinstance(z, Arithmetic) and z.op in "+-" and z.left.shape == exp.shape and \
                (z.right.shape == (1, 1) or (axis is not None and z.right.shape == reduced(exp.shape, axis))):
            z, shifted = z.left, True
        return z if shifted else None

    def _resolved(self, node: Node) -> Node:
        """An earlier line's name as the operations it stands for."""
        return self.roots.get(node.name, node) if isinstance(node, Leaf) else node

    def _same(self, a: Node, b: Node) -> bool:
        """Do a and b compute the same (the one node, one line's name, or the same operations written twice)?"""
        a, b = self._resolved(a), self._resolved(b)
        if a is b:
            return True
        if type(a) is not type(b) or not dataclasses.is_dataclass(a):
            return False
        for field in dataclasses.fields(a):
            x, y = getattr(a, field.name), getattr(b, field.name)
            if isinstance(x, Node) and isinstance(y, Node):
                if not self._same(x, y):
                    return False
            elif not isinstance(x, (str, int, float, bool, type(None), tuple)) or x != y or \
                    (isinstance(x, tuple) and any(isinstance(v, Node) for v in x)):
                return False
        return not isinstance(a, Leaf) or a.name == b.name  # type: ignore[attr-defined]


def _live(lines: Sequence[Line], outputs: tuple[str, ...]) -> tuple[Line, ...]:
    """The lines something still uses, or that are outputs: each line the rewrite left unused dropped."""
    kept = list(lines)
    while True:
        used = {leaf.name for line in kept for leaf in leaves_of(line.root)}
        alive = [line for line in kept if line.name in used or line.name in outputs]
        if len(alive) == len(kept):
            return tuple(_relisted(line) for line in alive)
        kept = alive


def _relisted(line: Line) -> Line:
    """The line with its operands as they now are (a softmax reads z, no longer e)."""
    leaves = leaves_of(line.root)
    return line if leaves == line.leaves else dataclasses.replace(line, leaves=leaves)


def leaves_of(root: Node) -> tuple[Leaf, ...]:
    """A line's operands, in first-use order (each shared node visited once)."""
    found: dict[str, Leaf] = {}
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, Leaf):
            found.setdefault(node.name, node)
        for child in node.children:
            visit(child)
    visit(root)
    return tuple(found.values())


def _inputs(lines: Sequence[Line]) -> set[str]:
    computed = {line.name for line in lines}
    return {leaf.name for line in lines for leaf in leaves_of(line.root)} - computed


def _outputs(lines: Sequence[Line]) -> tuple[str, ...]:
    used = {leaf.name for line in lines for leaf in leaves_of(line.root)}
    return tuple(line.name for line in lines if line.name not in used)

