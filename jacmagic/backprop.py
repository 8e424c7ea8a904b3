"""Result -> the numbers of a backprop walkthrough: the forward pass, then reverse mode stage by stage.

Reverse mode: the upstream gradient U (one row per output of the whole map, one column per output of the stage)
times the stage's local Jacobian J (rows: stage outputs, columns: stage inputs) gives the vector-Jacobian product
U J, which is added to the gradient of every value that fed the stage. A value used by several stages (a branch)
collects one contribution from each: the sum over paths. Every stage is compiled once per result; a walkthrough
at a new point only evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from .evaluate import Evaluator

if TYPE_CHECKING:
    from .model import Shape
    from .result import JacobianResult, Step


@dataclass(frozen=True)
class Contribution:
    """What one backward step adds to the gradient of one value: before + added = after."""

    symbol: sp.Symbol
    before: np.ndarray
    added: np.ndarray
    after: np.ndarray


@dataclass(frozen=True)
class BackwardStep:
    """One stage seen from the output: upstream gradient, local Jacobian, their product, what it adds where."""

    step: Step
    upstream: np.ndarray
    local: np.ndarray
    product: np.ndarray
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class Walkthrough:
    """The forward values and the backward steps of a chain at one point."""

    point: Mapping[str, float]
    forward: tuple[np.ndarray, ...]
    backward: tuple[BackwardStep, ...]
    gradient: np.ndarray
    direct: np.ndarray

    @property
    def agrees(self) -> bool:
        """Does the chain of local Jacobians give the Jacobian of the composed map, computed directly?"""
        both = np.isfinite(self.gradient) & np.isfinite(self.direct)
        return bool(np.allclose(self.gradient[both], self.direct[both], rtol=1e-9, atol=1e-12)
                    and (np.isfinite(self.gradient) == np.isfinite(self.direct)).all())


class CompiledChain:
    """Each step's values and local Jacobian compiled to numpy, built once per result."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = tuple(steps)
        self._compiled = []
        for step in self.steps:
            arguments = tuple(step.inputs) + tuple(sorted(
                set().union(*(e.free_symbols for e in step.expressions)) - set(step.inputs), key=lambda s: s.name))
            values = Evaluator(sp.Matrix(step.expressions), arguments)
            local = Evaluator(step.matrix, arguments)
            self._compiled.append((arguments, values, local))

    def walk(self, result: JacobianResult, point: Mapping[str, float]) -> Walkthrough:
        values: dict[sp.Symbol, float] = {s: float(point[s.name]) for s in result.arguments}
        forward = []
        feeds = []
        for step, (arguments, evaluate, _) in zip(self.steps, self._compiled):
            known = {**values, **{p: values[s] for p, s in zip(step.inputs, step.sources)}}
            args = [known[a] for a in arguments]
            out = evaluate.point(*args)[:, 0]
            forward.append(out)
            feeds.append(args)
            values.update(zip(step.outputs, out.tolist()))
        m = len(result.outputs)
        gradient: dict[sp.Symbol, np.ndarray] = {o: np.eye(m)[i] for i, o in enumerate(result.outputs)}
        backward = []
        for k in reversed(range(len(self.steps))):
            step = self.steps[k]
            _, _, local_of = self._compiled[k]
            upstream = np.column_stack([gradient.get(o, np.zeros(m)) for o in step.outputs])
            local = local_of.point(*feeds[k])
            with np.errstate(all="ignore"):
                product = upstream @ local
            contributions = []
            for j, source in enumerate(step.sources):
                before = gradient.get(source, np.zeros(m))
                after = before + product[:, j]
                gradient[source] = after
                contributions.append(Contribution(source, before, product[:, j], after))
            backward.append(BackwardStep(step, upstream, local, product, tuple(contributions)))
        total = np.column_stack([gradient.get(v, np.zeros(m)) for v in result.inputs])
        return Walkthrough(dict(point), tuple(forward), tuple(backward), total, result.at(**point))


def shaped_gradients(result: JacobianResult, gradient: np.ndarray) -> list[tuple[Shape, np.ndarray]]:
    """The gradient with respect to each declared matrix, back in that matrix's own shape (one per output).

    The Jacobian itself lays a matrix parameter out as columns in row-major order: w_11, w_12, ..., w_23."""
    column = {s: j for j, s in enumerate(result.inputs)}
    shaped = []
    for shape in result.shapes:
        if all(s in column for s in shape.symbols):
            picked = gradient[:, [column[s] for s in shape.symbols]]
            shaped.append((shape, picked.reshape(-1, shape.rows, shape.cols)))
    return shaped
