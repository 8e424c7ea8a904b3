"""A map too large to write out whole, numbered through its stages: each stage's values and local Jacobian
compiled to numpy, multiplied from the output side. It gives the numbers of a plain cell (`R.at`, the panel, the
check) whose composition is too large to differentiate; every `--chain` walkthrough is the graph's walk
(`network_walk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sympy as sp

from jacmagic.chain.evaluate import Domain, Evaluator
from jacmagic.lazy import np

if TYPE_CHECKING:
    from jacmagic.model import Step


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

    def backward(self, locals_: Sequence[np.ndarray], inputs: Sequence[sp.Symbol]) -> np.ndarray:
        """Reverse mode from the outputs: the Jacobian (..., m, n) with respect to `inputs`; a value used by
        several stages collects one contribution from each."""
        m = len(self.outputs)
        zero = np.zeros(m)
        gradient: dict[sp.Symbol, np.ndarray] = {o: np.eye(m)[i] for i, o in enumerate(self.outputs)}
        for step, local in zip(reversed(self.steps), reversed(locals_)):
            upstream = np.stack(np.broadcast_arrays(*(gradient.get(o, zero) for o in step.outputs)), axis=-1)
            product = chained(upstream, local)
            for j, source in enumerate(step.sources):
                gradient[source] = gradient.get(source, zero) + product[..., j]
        return np.stack(np.broadcast_arrays(*(gradient.get(v, zero) for v in inputs)), axis=-1)

    def jacobian(self, inputs: Sequence[sp.Symbol], *values: Any) -> np.ndarray:
        """The Jacobian at points through the chain, without recording the steps."""
        outputs, feeds, _ = self.forward(*values)
        return self.backward(self.local_jacobians(outputs, feeds), inputs)


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
