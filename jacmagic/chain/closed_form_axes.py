"""The closed forms of the reductions along an axis (each column for axis 0, each row for axis 1) and of max and min
of all entries, as a textbook writes them per column:

- sum(Z, axis=0): the upstream row copied down each column, 𝟏g (along axis 1, g𝟏ᵀ); a mean divides by the count;
- logsumexp(Z, axis=0): ∂logsumexp(z)/∂z = softmax(z)ᵀ per column, so 𝟏g ⊙ softmax(Z, axis=0);
- norm(Z, axis=0): ∂‖z‖/∂z = zᵀ/‖z‖ per column, so 𝟏g ⊙ Z/norm(Z, axis=0), undefined at a zero column (0/0, as
  the walk is); under a square the norm cancels, ‖z‖·z/‖z‖ = z, so ∂‖z‖²/∂z = 2z, also at a zero column;
- max(Z, axis=0) and max(X): the upstream goes to the largest entry, 𝟏g ⊙ 𝟙[Z = max(Z, axis=0)], the indicator of
  the argmax; where the largest entry is tied, the first of the tied (np.argmax's) takes it: exactly the walk's
  convention (`reductions.Reduce.row`). The same for min with the smallest entry.

Each rule is named as it fires; `to_max` and `to_min` are the numpy the generated code defines and calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form_more import Along, Composer, SoftmaxAlong
from jacmagic.chain.closed_form_source import called_helpers
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Node
from jacmagic.chain.reductions import Reduce

Expr = t.Expr


def to_max(g: np.ndarray | float, z: np.ndarray, axis: int | None = None) -> np.ndarray:
    """g at the largest entry of z (of each column for axis=0, each row for axis=1), 0 elsewhere; where that entry
    is tied, at the first of them (np.argmax's), as the walk gives it."""
    hits = z == z.max(axis=axis, keepdims=True)
    first = hits & (np.cumsum(hits, axis=axis).reshape(hits.shape) == 1)
    return np.where(first, g, 0.0 * g)


def to_min(g: np.ndarray | float, z: np.ndarray, axis: int | None = None) -> np.ndarray:
    """g at the smallest entry of z: to_max of -z."""
    return to_max(g, -z, axis)


_TO = {"max": to_max, "min": to_min}
_HELPERS = {f.__name__: inspect.getsource(f) for f in (to_max, to_min)}


def helpers(body: str) -> str:
    """The helpers `body` calls (to_min calls to_max), each followed by two blank lines."""
    return called_helpers(body, _HELPERS)


@dataclass(frozen=True)
class Extreme(Expr):
    """𝟙[Z = max(Z, axis=0)]: 1 at the largest (min: smallest) entry of each column, row or of all entries, 0
    elsewhere, undefined (nan) at a tie."""

    kind: str
    arg: Expr
    axis: int | None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arg.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        z, top = self.arg.show(form, names), Along(self.kind, self.arg, self.axis).show(form, names)
        return {"latex": rf"\mathbb{{1}}\left[{z} = {top}\right]", "text": f"𝟙[{z} = {top}]",
                "python": f"to_{self.kind}(1.0, {z}, axis={self.axis})"}[form]

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(_TO[self.kind](1.0, self.arg.evaluate(values), self.axis), dtype=float)


@dataclass(frozen=True)
class ToExtreme(Expr):
    """G ⊙ 𝟙[Z = max(Z, axis=0)], G the upstream spread over Z's shape: the upstream routed to the largest entries,
    undefined at a tie unless 0 flows there (so not a plain ⊙, whose 0·nan is nan)."""

    upstream: Expr
    mask: Extreme

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 9 if t.is_ones(self.upstream) else 2

    @property
    def shape(self) -> tuple[int, ...]:
        return self.mask.shape

    def _show(self, form: str, names: t.Forms | None) -> str:
        if form == "python":
            g, z = self.upstream.show(form, names), self.mask.arg.show(form, names)
            return f"to_{self.mask.kind}({g}, {z}, axis={self.mask.axis})"
        if t.is_ones(self.upstream):
            return self.mask.show(form, names)
        return t.Hadamard(self.upstream, self.mask).show(form, names)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        mask = self.mask
        g, z = self.upstream.evaluate(values), mask.arg.evaluate(values)
        return np.asarray(_TO[mask.kind](g, z, mask.axis), dtype=float)


# -- the forward values -------------------------------------------------------------------------------------------

def convert(node: Node, parts: Sequence[Expr]) -> Expr | None:
    """A reduction along an axis, or max / min of all entries, as a formula; None for anything else."""
    if isinstance(node, Reduce) and (node.axis is not None or node.kind in _TO):
        return Along(node.kind, parts[0], node.axis)
    return None


# -- reverse mode -------------------------------------------------------------------------------------------------

_PER = {0: "per column", 1: "per row", None: "of all entries"}


def _words(axis: int | None, slope: str) -> str:
    """The rule as a textbook writes it for Z: the upstream spread (𝟏g, g𝟏ᵀ or the number g) times `slope`, whose @
    is Z's reduction along the axis."""
    along = "" if axis is None else f", axis={axis}"
    spread = {0: "𝟏g ⊙ ", 1: "g𝟏ᵀ ⊙ ", None: "g·"}[axis]
    return spread + slope.replace("@", f"Z{along}").replace("Z", "X" if axis is None else "Z")


def back(c: Composer, line: Line, node: Node, g: Expr) -> Expr | None:
    """The upstream g through a reduction along an axis (or max / min of all entries), to its operand; None for
    anything else."""
    if not isinstance(node, Reduce) or (node.axis is None and node.kind not in _TO):
        return None
    z, axis, per = c.convert(node.child, line), node.axis, _PER[node.axis]
    if node.kind in ("sum", "mean"):
        spread = _spread(c, g, node, f"{node.kind} along axis {axis}: ")
        return c.scale(1 / node.child.shape[axis or 0], spread) if node.kind == "mean" else spread
    factor, inner = (g.factor, g.inner) if isinstance(g, t.Scale) else (1.0, g)
    if node.kind == "norm" and inner == (value := t.Name(line.name, line.shape) if node is line.root else
                                         c.known(Along(node.kind, z, axis), line)):
        c.rule(f"‖z‖ · z/‖z‖ = z {per}: ∂‖z‖²/∂z = 2z")
        return c.scale(factor, z)
    if not t.is_ones(inner):
        factor, upstream = 1.0, _spread(c, g, node)
    else:  # ones spread are ones, which ⊙ leaves out
        upstream = t.ones(node.child.shape)
    if node.kind in _TO:
        which = "largest" if node.kind == "max" else "smallest"
        c.rule(f"∂{node.kind}(z)/∂z = e_arg{node.kind}ᵀ {per}: {_words(axis, f'𝟙[Z = {node.kind}(@)]')} "
               f"(the first of tied {which} entries takes it)")
        return c.scale(factor, ToExtreme(upstream, Extreme(node.kind, z, axis)))
    if node.kind == "logsumexp":
        c.rule(f"∂logsumexp(z)/∂z = softmax(z)ᵀ {per}: {_words(axis, 'softmax(@)')}")
        return c.scale(factor, c.hadamard(upstream, c.known(SoftmaxAlong(z, int(axis or 0), False), line)))
    c.rule(f"∂‖z‖/∂z = zᵀ/‖z‖ {per}: {_words(axis, 'Z/norm(@)')} (undefined at a zero {per.split()[1]})")
    return c.scale(factor, c.hadamard(upstream, c.quotient(z, value)))


def _spread(c: Composer, g: Expr, node: Reduce, named: str = "") -> Expr:
    """The upstream copied over what was reduced: 𝟏g down each column (axis 0), g𝟏ᵀ along each row (axis 1), g
    itself (a number) for all entries; the rule named when `named` (what the spread is the whole rule of)."""
    rows, cols = node.child.shape
    if node.axis is None:
        return g
    if node.axis == 0:
        if named:
            c.rule(f"{named}the upstream row copied down each column, 𝟏g")
        return c.matmul(t.ones((rows, 1)), g)
    if named:
        c.rule(f"{named}the upstream column copied along each row, g𝟏ᵀ")
    return c.matmul(g, t.ones((1, cols)))
