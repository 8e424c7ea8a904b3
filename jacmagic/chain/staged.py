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


# A stage Jacobian is multiplied through its nonzero entries when at most this share of it is nonzero (numpy's
# element-wise products cost about this many times a dense product's multiply-adds); a denser one as a matrix.
_SPARSE = 1 / 8
# Elements of the temporary products in one block of a sparse product: memory stays bounded, however large.
_BLOCK = 1 << 22


class _Stage:
    """One step compiled once per cell: its values, its local Jacobian's nonzero entries and where they sit, its
    domain, and the slots (places in a list of every value) that it reads and writes."""

    def __init__(self, step: Step, slots: dict[sp.Symbol, int]) -> None:
        names = tuple(step.inputs) + tuple(sorted(
            set().union(*(e.free_symbols for e in step.expressions)) - set(step.inputs), key=lambda s: s.name))
        fed = {**{n: slots[n] for n in names if n not in step.inputs},
               **{p: slots[source] for p, source in zip(step.inputs, step.sources)}}
        self.reads = [fed[n] for n in names]
        self.values = Evaluator(sp.Matrix(step.expressions), names)
        self.local = Evaluator(step.matrix, names)
        self.domain = Domain(step.guards, names)
        self.rows, self.columns = self.local.nonzero
        self.sparse = len(self.rows) <= _SPARSE * self.local.shape[0] * self.local.shape[1]
        for o in step.outputs:
            slots.setdefault(o, len(slots))
        self.writes = np.array([slots[o] for o in step.outputs], dtype=int)
        self.sources = np.array([slots[s] for s in step.sources], dtype=int)
        self.repeated = len(set(step.sources)) < len(step.sources)


class CompiledChain:
    """Each step's values and local Jacobian compiled to numpy, built once per result. Points may be numbers
    or arrays of one shape (then every value, Jacobian and gradient gains those leading axes)."""

    def __init__(self, steps: Sequence[Step], arguments: Sequence[sp.Symbol], outputs: Sequence[sp.Symbol]) -> None:
        self.steps = tuple(steps)
        self.arguments = tuple(arguments)
        self.outputs = tuple(outputs)
        self._slots: dict[sp.Symbol, int] = {}
        for a in self.arguments:
            self._slots.setdefault(a, len(self._slots))
        self._stages = [_Stage(step, self._slots) for step in self.steps]
        # The last stage's upstream gradient is the identity when it gives the outputs in order: its product is
        # its own local Jacobian, not a multiplication by the identity.
        self._seeded = bool(self.steps) and tuple(self.steps[-1].outputs) == self.outputs and \
            len(set(self.outputs)) == len(self.outputs)

    def forward(self, *values: Any) -> tuple[list[np.ndarray], list[list[Any]], list[Any]]:
        """Each step's outputs (..., k), the arguments it was fed, and every value by slot."""
        known: list[Any] = [None] * len(self._slots)
        for a, v in zip(self.arguments, values):
            known[self._slots[a]] = v
        outputs, feeds = [], []
        for stage in self._stages:
            args = [known[k] for k in stage.reads]
            out = stage.values(*args)[..., 0]
            defined = stage.domain.defined(*args)
            if defined is not None:  # an output undefined by the stage's own formula, even if simplified away
                out = np.where(defined, out, np.nan)
            outputs.append(out)
            feeds.append(args)
            for j, k in enumerate(stage.writes):
                known[k] = out[..., j]
        return outputs, feeds, known

    def outputs_at(self, *values: Any) -> np.ndarray:
        """The map itself through the forward pass, shape (..., m): for finite differences."""
        _, _, known = self.forward(*values)
        return np.stack(np.broadcast_arrays(*(known[self._slots[o]] for o in self.outputs)), axis=-1)

    def backward(self, outputs: Sequence[np.ndarray], feeds: Sequence[Sequence[Any]],
                 inputs: Sequence[sp.Symbol]) -> np.ndarray:
        """Reverse mode from the outputs: the Jacobian (..., m, n) with respect to `inputs`, the gradient of every
        value held as one column of one array; a value used by several stages collects one contribution from
        each. A stage output that the forward pass found undefined has an undefined row in its local Jacobian."""
        m = len(self.outputs)
        points = np.broadcast_shapes(*(np.shape(out)[:-1] for out in outputs))
        gradient = np.zeros(points + (m, len(self._slots) + 1))  # one past the last: a value never given, 0
        gradient[..., np.arange(m), [self._slots.get(o, len(self._slots)) for o in self.outputs]] = 1.0
        for index, (stage, out, fed) in enumerate(zip(reversed(self._stages), reversed(outputs), reversed(feeds))):
            entries = stage.local.entries(*fed)
            undefined = np.isnan(out)
            if index == 0 and self._seeded:
                product = np.broadcast_to(_placed(entries, stage), points + stage.local.shape).copy()
                product[np.broadcast_to(undefined, points + undefined.shape[-1:])] = np.nan
            else:
                upstream = gradient[..., stage.writes]
                product = (_sparse_product if stage.sparse else _dense_product)(upstream, entries, undefined, stage)
            if stage.repeated:  # one source feeding several inputs: each adds its own column, in turn
                for j, k in enumerate(stage.sources):
                    gradient[..., k] += product[..., j]
            else:
                gradient[..., stage.sources] += product
        return gradient[..., [self._slots.get(v, len(self._slots)) for v in inputs]]

    def jacobian(self, inputs: Sequence[sp.Symbol], *values: Any) -> np.ndarray:
        """The Jacobian at points through the chain, without recording the steps."""
        outputs, feeds, _ = self.forward(*values)
        return self.backward(outputs, feeds, inputs)


def _placed(entries: np.ndarray, stage: _Stage) -> np.ndarray:
    """A stage's local Jacobian written out (..., k_out, k_in) from its nonzero entries."""
    full = np.zeros(entries.shape[:-1] + stage.local.shape)
    full[..., stage.rows, stage.columns] = entries
    return full


def _poisoned(upstream: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    """The rows (..., m) of a product that meet an undefined row of the stage Jacobian with a nonzero gradient."""
    return ((upstream != 0) & undefined[..., None, :]).any(axis=-1)


def _dense_product(upstream: np.ndarray, entries: np.ndarray, undefined: np.ndarray, stage: _Stage) -> np.ndarray:
    """upstream @ the stage Jacobian written out, an undefined row of it undefined whole (as `chained` says)."""
    local = np.where(undefined[..., :, None], np.nan, _placed(entries, stage))
    return chained(upstream, local)


def _sparse_product(upstream: np.ndarray, entries: np.ndarray, undefined: np.ndarray, stage: _Stage) -> np.ndarray:
    """upstream @ the stage Jacobian through its nonzero entries only, in blocks of the upstream's rows: a cost in
    proportion to rows x nonzero entries. A term with an exact 0 in it is 0 (as `chained` says), and a row of
    the product meeting an undefined stage output with a nonzero gradient is undefined whole."""
    points = np.broadcast_shapes(upstream.shape[:-2], entries.shape[:-1])
    m, n = upstream.shape[-2], stage.local.shape[1]
    order = np.argsort(stage.columns, kind="stable")
    columns = stage.columns[order]
    starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]]) if len(columns) else columns
    values = np.where(undefined[..., stage.rows], 0.0, entries)[..., order]
    product = np.zeros(points + (m, n))
    step = max(1, _BLOCK // max(1, len(columns) * int(np.prod(points, dtype=int))))
    with np.errstate(all="ignore"):
        for begin in range(0, m, step):
            left = upstream[..., begin:begin + step, stage.rows[order]]
            terms = left * values[..., None, :]
            if not np.isfinite(terms).all():
                terms = np.where((left == 0) | (values[..., None, :] == 0), 0.0, terms)
            if len(columns):
                product[..., begin:begin + step, columns[starts]] = np.add.reduceat(terms, starts, axis=-1)
    if undefined.any():
        product = np.where(_poisoned(upstream, undefined)[..., :, None], np.nan, product)
    return product


def chained(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right where a term with an exact 0 in it is 0, even beside an overflow: a value that does not
    depend on another (a 0 in a Jacobian, an upstream gradient or a tangent) stays independent of it, rather
    than 0 * inf = undefined. Where an operand holds inf or nan, the product of the finite entries gains, entry by
    entry, what its other terms add: ±inf, or nan for a nan term or for +inf beside -inf. Those terms are found by
    products of masks over the places holding inf or nan, so that memory stays a few times the operands' and the
    product's, known from their shapes before anything is allocated: every term written out was m x k x n numbers
    (3.6 GB at 784 x 784 x 784)."""
    with np.errstate(all="ignore"):
        if np.isfinite(left).all() and np.isfinite(right).all():
            return left @ right
        finite = np.where(np.isfinite(left), left, 0.0) @ np.where(np.isfinite(right), right, 0.0)
        places = _places_not_finite(left, right)
        a, b = left[..., places], right[..., places, :]
        up = _meets((a == np.inf, b > 0), (a == -np.inf, b < 0), (a > 0, b == np.inf), (a < 0, b == -np.inf))
        down = _meets((a == np.inf, b < 0), (a == -np.inf, b > 0), (a > 0, b == -np.inf), (a < 0, b == np.inf))
        undefined = _meets((np.isnan(a), b != 0), (a != 0, np.isnan(b)))
        return np.where(undefined, np.nan, finite + np.where(up, np.inf, 0.0) - np.where(down, np.inf, 0.0))


def _places_not_finite(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The places k of left @ right's terms (left's columns, right's rows) where either holds inf or nan, at any
    point: the only terms that may be other than a finite number."""
    k = left.shape[-1]
    held = ~np.isfinite(left).reshape(-1, k).all(axis=0)
    held |= ~np.isfinite(np.swapaxes(right, -1, -2)).reshape(-1, k).all(axis=0)
    return np.flatnonzero(held)


def _meets(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Where a @ b has a term whose two factors are marked by one of the pairs of masks (over a's and b's
    entries): a row of the first and a column of the second marked at one place. Counted by a product of 0/1 in
    float32, half a double's memory (a positive count stays positive however it rounds)."""
    count = sum(a.astype(np.float32) @ b.astype(np.float32) for a, b in pairs)
    return np.asarray(count) > 0
