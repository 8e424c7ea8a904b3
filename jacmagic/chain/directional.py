"""The walk's Jacobian compared with the same Jacobian computed another way: entry by entry with a whole one, or
J v against central differences of the map along three random directions, with the columns no difference can
judge (`unjudged`) set aside and said why."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.compiled_walk import CompiledNetwork
from jacmagic.chain.network import Line
from jacmagic.chain.operations import Node, Values, short
from jacmagic.chain.unjudged import smooth_columns

Evaluate = Callable[[Mapping[str, np.ndarray]], np.ndarray]
# Columns along which a step leaves the map's domain (`unjudged.edge_columns`), and why, from the candidates.
Edges = Callable[[np.ndarray, float], tuple[np.ndarray, str | None]]


@dataclass(frozen=True)
class Judged:
    agrees: bool | None  # None: the other computation had no finite number where the walk has one
    judged: int | None  # how many entries were compared when some were not; None: all of them
    aside: tuple[str, ...] = ()  # why columns were set aside (a step out of the domain, found here)


def compare(got: np.ndarray, want: np.ndarray, rtol: float, atol: float,
            valueless: np.ndarray | None = None) -> tuple[bool | None, int | None]:
    """Does the walk's Jacobian (`got`) agree with the one computed another way (`want`)? Undefined entries (nan,
    inf) must be undefined in both and are not compared; the defined ones must be close. Where only `want`
    overflowed (inf beside a finite number) nothing can be said: None if the rest agree, not a false alarm; nor
    where only `got` has no number in a row whose output the walk's doubles have no value for (`valueless`: an
    overflow on the way, which the other computation may have simplified away, exp(u) * exp(-u) being 1). Also
    how many were judged when some were not (None: all of them)."""
    overflowed = np.isinf(want) & np.isfinite(got)
    if valueless is not None and valueless.any():
        overflowed |= valueless[:, None] & ~np.isfinite(got) & np.isfinite(want)
    if overflowed.any():
        agrees, judged = compare(got, np.where(overflowed, got, want), rtol, atol)
        return (None if agrees else False), judged
    defined = np.isfinite(want)
    same = bool((np.isfinite(got) == defined).all())
    magnitude = max(1.0, float(np.abs(want[defined]).max(initial=0.0)))
    agrees = same and bool(np.allclose(got[defined], want[defined], rtol=rtol, atol=atol * magnitude))
    count = int(defined.sum())
    return agrees, None if count == defined.size else count


def set_aside(got: np.ndarray, want: np.ndarray, aside: np.ndarray, rtol: float, atol: float,
              valueless: np.ndarray) -> tuple[bool | None, int | None]:
    """`compare` of every column but those `aside` (a break at the point: neither number is a derivative there),
    and how many entries were judged: the defined ones in the other columns."""
    if not aside.any():
        return compare(got, want, rtol, atol, valueless)
    agrees, _ = compare(np.where(aside, 0.0, got), np.where(aside, 0.0, want), rtol, atol, valueless)
    return agrees, int(np.isfinite(got[:, ~aside]).sum())


def directional_check(plan: CompiledNetwork, point: Mapping[str, np.ndarray], jacobian: np.ndarray, error: float,
                      outputs: np.ndarray, explained: bool, breaks: np.ndarray, evaluate: Evaluate,
                      edges: Edges) -> Judged:
    """J v against central differences of the map along three random directions (seeded, drawn once per cell
    when small enough to keep): a check of every column at the cost of six forward passes, allowing 1e-4
    relative or what rounding leaves in J (`error`), where that is more.

    A column the walk leaves undefined in a row whose output has a value (√x at 0, a norm at 0, a tied max: the
    map is continuous there, its derivative does not exist) would make J v undefined along every direction,
    while the map's differences are finite: not a mismatch, a place no difference can judge. When the walk
    names why (`explained`: an operation's `unsloped` or `undefined` reason) and the map's own values confirm it
    along that input (`unjudged.smooth_columns`: a kink or a vertical tangent there), the directions stay off
    those inputs (their components 0), so J v is defined and still checks every other column, and the verdict
    says how many entries were judged. Any other undefined entry is compared as it is: a walk that produces nan
    where the derivative exists DOES NOT match, even beside a real undefined one.

    Likewise for the defined columns that reach an output through a break (`breaks`: ReLU at 0 takes 0 as the
    ML frameworks do, while a central difference there averages the two sides' slopes; a step is flat on each
    side, while a difference across it is as steep as the step over the step's width): neither number is a
    derivative. And for the columns along which the point is at the edge of the map's domain (x^1.5 at 0: its
    derivative is one-sided, and a step to the other side has no value): found by `edges` only where a step
    along the directions lost a value, never an overflow."""
    wrt, shapes = plan.wrt, plan.shapes
    scale = max(1.0, *(max(float(point[n].max()), -float(point[n].min())) for n in wrt))
    step = 1e-6 * scale
    undefined = ~np.isfinite(jacobian[np.isfinite(outputs)]).all(axis=0)
    if explained and undefined.any():
        undefined &= ~smooth_columns(point, shapes, wrt, outputs, jacobian, undefined, evaluate)
    aside = (undefined if explained else np.zeros_like(undefined)) | (breaks & ~undefined)
    agrees, judged, lost = _along(plan, point, jacobian, error, step, aside, evaluate, outputs)
    if not lost:
        return Judged(agrees, judged)
    edge, why = edges(~aside, step)
    if not edge.any():
        return Judged(agrees, judged)  # an overflow on the way: nothing can be said, as `compare` has it
    agrees, judged, _ = _along(plan, point, jacobian, error, step, aside | edge, evaluate, outputs)
    return Judged(agrees, judged, (why,) if why else ())


def _along(plan: CompiledNetwork, point: Mapping[str, np.ndarray], jacobian: np.ndarray, error: float, step: float,
           aside: np.ndarray, evaluate: Evaluate, outputs: np.ndarray) -> tuple[bool | None, int | None, bool]:
    """The comparison along the three directions, off the columns `aside`; and whether a step lost a value the
    point has (a neighbour out of the domain, or past the largest double)."""
    wrt, shapes = plan.wrt, plan.shapes
    moves = plan.moves(step)  # (3, n): each direction times the step
    if aside.any():
        moves, jacobian = np.where(aside, 0.0, moves), np.where(aside, 0.0, jacobian)
    ahead, behind = plan.check_buffers
    with np.errstate(all="ignore"):
        exact = np.einsum("ij,kj->ki", jacobian, moves) / step  # not BLAS: waking its threads costs more here
    agrees: bool | None = True
    judged: int | None = None
    lost = False
    for move, along in zip(moves, exact):
        start = 0
        for name in wrt:
            size = shapes[name][0] * shapes[name][1]
            part = move[start:start + size].reshape(shapes[name])
            np.subtract(point[name], part, out=behind[name])
            np.add(point[name], part, out=ahead[name])
            start += size
        shifted = [evaluate({**point, **ahead}), evaluate({**point, **behind})]
        with np.errstate(all="ignore"):
            numeric = (shifted[0] - shifted[1]) / (2 * step)
        lost |= bool((np.isfinite(outputs) & ~np.isfinite(numeric)).any())
        # A neighbour past the largest double (nan in the guarded forward pass) leaves no difference to take: the
        # comparison sets it aside as an overflow, where the walk's own number is finite, never a mismatch.
        numeric[~np.isfinite(numeric)] = np.inf
        agrees_here, judged = compare(along, numeric, max(1e-4, error), 1e-6)
        agrees = False if False in (agrees, agrees_here) else agrees and agrees_here
    if aside.any():  # the entries judged: the defined ones in the columns the directions moved along
        judged = int(np.isfinite(jacobian[:, ~aside]).sum())
    return agrees, judged, lost


def break_reason(node: Node, line: Line, jumps: bool) -> str:
    """Why the columns through a break are not judged: a step (flat on each side, where(x > 0, 1, 0) at 0) or a
    kink whose slope the walk takes from one side by convention (ReLU at 0, a tie of max(a, b))."""
    shown = f"{short(node.show().text)} (line {line.number})"
    if jumps:
        return (f"{shown} jumps here: its slope is 0 on each side, while a central difference across the step is "
                "the step over the step's width")
    return (f"{shown} has a kink here: the walk takes one side's slope by convention, while a central difference "
            "averages the two sides")


def outside_reason(lines: Sequence[Line], per_line: Sequence[Values]) -> str | None:
    """The first operation applied outside its domain at a point, in words: "x^1.5 has no value on one side
    (line 1)"."""
    for line, values in zip(lines, per_line):
        for node in line.order():
            operands = [values[id(c)] for c in node.children]
            if operands and all(np.isfinite(o).all() for o in operands) and np.isnan(values[id(node)]).any():
                with np.errstate(all="ignore"):
                    if np.any(node.outside_domain(operands, values[id(node)])):
                        return f"{short(node.show().text)} has no value on one side (line {line.number})"
    return None
