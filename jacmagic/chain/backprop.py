"""Result -> the numbers of a backprop walkthrough: the forward pass, then the chain of local Jacobians multiplied
from the output side (reverse mode) and, on request, from the input side (forward mode).

Reverse mode: the upstream gradient U (one row per output of the whole map, one column per output of the stage)
times the stage's local Jacobian J (rows: stage outputs, columns: stage inputs) gives the vector-Jacobian product
U J, which is added to the gradient of every value that fed the stage. A value used by several stages (a branch)
collects one contribution from each: the sum over paths.

Forward mode: the tangent of the stage's inputs T (one row per input of the stage, one column per direction)
gives J T, the Jacobian-vector product: how the stage's outputs change along each direction. With one direction
per input (the identity) the tangents of the map's outputs are its whole Jacobian.

Every stage is compiled once per result; a walkthrough at a new point only evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from jacmagic.chain.check import rounding
from jacmagic.chain.evaluate import Domain, Evaluator
from jacmagic.chain.verdict import Verdict
from jacmagic.notation import counted

if TYPE_CHECKING:
    from jacmagic.model import Shape, Step


@dataclass(frozen=True, eq=False)
class Contribution:
    """What one backward step adds to the gradient of one value: before + added = after."""

    symbol: sp.Symbol
    before: np.ndarray
    added: np.ndarray
    after: np.ndarray


@dataclass(frozen=True, eq=False)
class BackwardStep:
    """One stage seen from the output: upstream gradient, local Jacobian, their product, what it adds where."""

    step: Step
    upstream: np.ndarray
    local: np.ndarray
    product: np.ndarray
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True, eq=False)
class ForwardStep:
    """One stage seen from the inputs: the tangents of what feeds it, its local Jacobian, their product (the
    tangents of its outputs)."""

    step: Step
    incoming: np.ndarray
    local: np.ndarray
    product: np.ndarray


@dataclass(frozen=True, eq=False)
class ForwardPass:
    """Forward mode along the columns of `directions` (n x p; the identity: one pass per input): the steps, and
    the tangents of the map's outputs, J times the directions (m x p)."""

    directions: np.ndarray
    steps: tuple[ForwardStep, ...]
    tangent: np.ndarray


@dataclass(frozen=True)
class Cost:
    """What each mode needs for the whole Jacobian (m x n): reverse mode one pass per output, forward mode one
    per input, and each pass multiplies a vector by every stage's local Jacobian (rows x columns multiply-adds)."""

    outputs: int
    inputs: int
    per_pass: int

    @property
    def reverse(self) -> int:
        return self.outputs * self.per_pass

    @property
    def forward(self) -> int:
        return self.inputs * self.per_pass

    @property
    def cheaper(self) -> str:
        if self.outputs == self.inputs:
            return "neither: as many outputs as inputs, so both modes cost the same"
        ratio = max(self.outputs, self.inputs) / min(self.outputs, self.inputs)
        factor = f"{ratio:,.0f}" if ratio == round(ratio) else f"{ratio:,.3g}"
        return ("reverse mode" if self.outputs < self.inputs else "forward mode") + f", by a factor of {factor}"

    def words(self, directions: int = 0) -> str:
        """The counts side by side, in every view; with `directions`, what forward mode needs for just those."""
        said = (f"for the whole {self.outputs:,} x {self.inputs:,} Jacobian, reverse mode needs "
                f"{counted(self.outputs, 'pass', 'passes')} (one per output), {self.reverse:,} multiply-adds; forward "
                f"mode {counted(self.inputs, 'pass', 'passes')} (one per input), {self.forward:,} multiply-adds; "
                f"cheaper: {self.cheaper}")
        if directions:
            said += (f"; J times the {'direction' if directions == 1 else counted(directions, 'direction')} alone "
                     f"takes forward mode {counted(directions, 'pass', 'passes')}, {directions * self.per_pass:,} "
                     "multiply-adds")
        return said


def cost(steps: Sequence[Step], outputs: int, inputs: int) -> Cost:
    """The counts of `Cost`, from the shapes of the stages' local Jacobians."""
    return Cost(outputs, inputs, sum(len(step.outputs) * len(step.inputs) for step in steps))


@dataclass(frozen=True, eq=False)
class Walkthrough:
    """The forward values and the backward steps of a chain at one point, and the check against a direct
    computation: the composed map's symbolic Jacobian, or (for a chain too large to compose) central finite
    differences of the forward pass."""

    point: Mapping[str, float]
    forward: tuple[np.ndarray, ...]
    backward: tuple[BackwardStep, ...]
    gradient: np.ndarray
    direct: np.ndarray
    direct_by: str
    shaped: tuple[tuple[sp.Symbol, Shape, np.ndarray], ...] = ()  # per output and declared matrix: its gradient
    scale: float = 1.0  # the largest number the products passed through: rounding errors are relative to it
    forward_pass: ForwardPass | None = None  # with --mode forward or both
    rounding: float = 0.0  # the relative error rounding to doubles may leave in the chain's numbers (check.rounding)

    @property
    def agrees(self) -> bool | None:
        """Does the chain of local Jacobians give the Jacobian of the composed map, computed directly? None when
        finite differences could not tell (they overflowed where the chain did not)."""
        return self._compare(self.gradient, self.direct)

    @property
    def forward_agrees(self) -> bool | None:
        """Does forward mode give the direct Jacobian times the directions? (`agrees`, for the tangents.)"""
        assert self.forward_pass is not None
        with np.errstate(all="ignore"):
            expected = self.direct @ self.forward_pass.directions
        return self._compare(self.forward_pass.tangent, expected)

    def _compare(self, computed: np.ndarray, direct: np.ndarray) -> bool | None:
        exact = self.direct_by == "symbolic"
        if not exact and (np.isfinite(computed) & ~np.isfinite(direct)).any():
            return None
        both = np.isfinite(computed) & np.isfinite(direct)
        return bool(np.allclose(computed[both], direct[both], rtol=max(1e-8 if exact else 1e-5, self.rounding),
                                atol=(1e-10 if exact else 1e-6) * self.scale)
                    and (np.isfinite(computed) == np.isfinite(direct)).all())

    @property
    def check(self) -> Verdict:
        """The check of reverse mode against the composed map's Jacobian, computed directly or by differences."""
        return Verdict(self.agrees, "direct" if self.direct_by == "symbolic" else "central")

    @property
    def forward_check(self) -> Verdict:
        assert self.forward_pass is not None
        directions = self.forward_pass.directions
        whole = directions.shape[0] == directions.shape[1] and bool((directions == np.eye(len(directions))).all())
        return Verdict(self.forward_agrees, "direct" if self.direct_by == "symbolic" else "central",
                       times_direction=not whole)


class CompiledChain:
    """Each step's values and local Jacobian compiled to numpy, built once per result. Points may be numbers
    or arrays of one shape (then every value, Jacobian and gradient gains those leading axes)."""

    def __init__(self, steps: Sequence[Step], arguments: Sequence[sp.Symbol], outputs: Sequence[sp.Symbol]) -> None:
        self.steps = tuple(steps)
        self.arguments = tuple(arguments)
        self.outputs = tuple(outputs)
        self._compiled = []
        for step in self.steps:
            names = tuple(step.inputs) + tuple(sorted(
                set().union(*(e.free_symbols for e in step.expressions)) - set(step.inputs), key=lambda s: s.name))
            self._compiled.append((names, Evaluator(sp.Matrix(step.expressions), names),
                                   Evaluator(step.matrix, names), Domain(step.guards, names)))

    def forward(self, *values: Any) -> tuple[list[np.ndarray], list[list[Any]], dict[sp.Symbol, Any]]:
        """Each step's outputs (..., k), the arguments it was fed, and every value by symbol."""
        known: dict[sp.Symbol, Any] = dict(zip(self.arguments, values))
        outputs, feeds = [], []
        for step, (names, evaluate, _, domain) in zip(self.steps, self._compiled):
            fed = {**known, **{p: known[source] for p, source in zip(step.inputs, step.sources)}}
            args = [fed[n] for n in names]
            out = evaluate(*args)[..., 0]
            defined = domain.defined(*args)
            if defined is not None:  # an output undefined by the stage's own formula, even if simplified away
                out = np.where(defined, out, np.nan)
            outputs.append(out)
            feeds.append(args)
            known.update((o, out[..., j]) for j, o in enumerate(step.outputs))
        return outputs, feeds, known

    def outputs_at(self, *values: Any) -> np.ndarray:
        """The map itself through the forward pass, shape (..., m): for finite differences."""
        _, _, known = self.forward(*values)
        return np.stack(np.broadcast_arrays(*(known[o] for o in self.outputs)), axis=-1)

    def local_jacobians(self, outputs: Sequence[np.ndarray], feeds: Sequence[Sequence[Any]]) -> list[np.ndarray]:
        """Each stage's local Jacobian (..., k_out, k_in) at the fed values; a stage output that the forward pass
        found undefined has an undefined row."""
        return [np.where(np.isnan(out)[..., :, None], np.nan, compiled[2](*fed))
                for out, fed, compiled in zip(outputs, feeds, self._compiled)]

    def backward(self, locals_: Sequence[np.ndarray], inputs: Sequence[sp.Symbol],
                 record: bool) -> tuple[np.ndarray, list[BackwardStep]]:
        """Reverse mode from the outputs: the Jacobian (..., m, n) with respect to `inputs`, and the steps."""
        m = len(self.outputs)
        zero = np.zeros(m)
        constants = set(self.arguments) - set(inputs)
        gradient: dict[sp.Symbol, np.ndarray] = {o: np.eye(m)[i] for i, o in enumerate(self.outputs)}
        steps: list[BackwardStep] = []
        for step, local in zip(reversed(self.steps), reversed(locals_)):
            upstream = np.stack(np.broadcast_arrays(*(gradient.get(o, zero) for o in step.outputs)), axis=-1)
            product = chained(upstream, local)
            contributions = []
            for j, source in enumerate(step.sources):
                before = gradient.get(source, zero)
                gradient[source] = before + product[..., j]
                if source not in constants:  # a constant's gradient was not asked for
                    contributions.append(Contribution(source, before, product[..., j], gradient[source]))
            if record:
                steps.append(BackwardStep(step, upstream, local, product, tuple(contributions)))
        columns = np.broadcast_arrays(*(gradient.get(v, zero) for v in inputs))
        return np.stack(columns, axis=-1), steps

    def tangents(self, locals_: Sequence[np.ndarray], inputs: Sequence[sp.Symbol],
                 directions: np.ndarray) -> ForwardPass:
        """Forward mode from the inputs along the columns of `directions` (n x p, rows in the order of `inputs`):
        a constant's tangent is 0, an input's is its row of the directions."""
        zero = np.zeros(directions.shape[1])
        tangent: dict[sp.Symbol, np.ndarray] = dict(zip(inputs, directions))
        steps = []
        for step, local in zip(self.steps, locals_):
            fed = [tangent.get(s, zero) for s in step.sources]
            incoming = np.stack(np.broadcast_arrays(*fed), axis=-2) if fed else np.zeros((0, len(zero)))
            product = chained(local, incoming)
            tangent.update((o, product[..., i, :]) for i, o in enumerate(step.outputs))
            steps.append(ForwardStep(step, incoming, local, product))
        result = np.stack(np.broadcast_arrays(*(tangent.get(o, zero) for o in self.outputs)), axis=-2)
        return ForwardPass(directions, tuple(steps), result)

    def jacobian(self, inputs: Sequence[sp.Symbol], *values: Any) -> np.ndarray:
        """The Jacobian at points through the chain, without recording the steps."""
        outputs, feeds, _ = self.forward(*values)
        return self.backward(self.local_jacobians(outputs, feeds), inputs, record=False)[0]

    def walk(self, point: Mapping[str, float], inputs: Sequence[sp.Symbol], direct: np.ndarray,
             direct_by: str, shapes: Sequence[Shape] = (), directions: np.ndarray | None = None) -> Walkthrough:
        """The forward and backward passes at `point` (a value per argument by name), recorded step by step, with
        the Jacobian computed directly (`direct`, by `direct_by`) to check the chain against; forward mode too
        when `directions` are given."""
        values = [float(point[s.name]) for s in self.arguments]
        outputs, feeds, known = self.forward(*values)
        locals_ = self.local_jacobians(outputs, feeds)
        gradient, steps = self.backward(locals_, inputs, record=True)
        error = rounding(gradient, np.array([point[s.name] for s in inputs], dtype=float),
                         np.array([known[o] for o in self.outputs], dtype=float))
        forward_pass = None if directions is None else self.tangents(locals_, inputs, directions)
        with np.errstate(all="ignore"):  # a term 0 * inf is nan here, and left out of the scale below
            magnitudes = [np.abs(a) for back in steps for a in (back.product, back.upstream[..., None] * back.local)]
            if forward_pass is not None:
                magnitudes += [np.abs(a) for ahead in forward_pass.steps
                               for a in (ahead.product, ahead.local[..., None] * ahead.incoming[None])]
        scale = max([1.0, *(float(np.max(m[np.isfinite(m)], initial=0.0)) for m in magnitudes)])
        shaped = tuple((output, shape, grid[k]) for shape, grid in shaped_gradients(inputs, shapes, gradient)
                       for k, output in enumerate(self.outputs))
        return Walkthrough(dict(point), tuple(outputs), tuple(steps), gradient, direct, direct_by, shaped, scale,
                           forward_pass, error)


def chained(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right where a term with an exact 0 in it is 0, even beside an overflow: a value that does not
    depend on another (a 0 in a Jacobian, an upstream gradient or a tangent) stays independent of it, rather
    than 0 * inf = undefined."""
    with np.errstate(all="ignore"):
        product = left @ right
        if np.isfinite(left).all() and np.isfinite(right).all():
            return product
        terms = left[..., :, :, None] * right[..., None, :, :]
        zero = (left[..., :, :, None] == 0) | (right[..., None, :, :] == 0)
        return np.where(zero, 0.0, terms).sum(axis=-2)


def shaped_gradients(inputs: Sequence[sp.Symbol], shapes: Sequence[Shape],
                     gradient: np.ndarray) -> list[tuple[Shape, np.ndarray]]:
    """The gradient with respect to each declared matrix, back in that matrix's own shape (one per output).

    The Jacobian itself lays a matrix parameter out as columns in row-major order: W_1,1, W_1,2, ..., W_2,3."""
    column = {s: j for j, s in enumerate(inputs)}
    shaped = []
    for shape in shapes:
        if all(s in column for s in shape.symbols):
            picked = gradient[:, [column[s] for s in shape.symbols]]
            shaped.append((shape, picked.reshape(-1, shape.rows, shape.cols)))
    return shaped
