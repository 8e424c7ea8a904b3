"""Network + point -> the numbers of its walkthrough: the forward pass, reverse mode line by line (vector-Jacobian
products applied from each operation's structure), forward mode on request, the gradients in each array's own
shape, and a check against the Jacobian computed another way.

Rows of every gradient are the outputs' entries (one row for a loss); an array's gradient keeps the array's
shape behind that axis: (m, rows, cols).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial

import numpy as np

from jacmagic.chain.check import rounding
from jacmagic.chain.choices import Where
from jacmagic.chain.compiled_walk import CompiledNetwork, Undefined, seeds
from jacmagic.chain.directional import break_reason, compare, directional_check, outside_reason, set_aside
from jacmagic.chain.network import Line, Network, Values
from jacmagic.chain.operations import _broadcast_back
from jacmagic.chain.staged import chained
from jacmagic.chain.unjudged import edge_columns
from jacmagic.chain.verdict import Against, Verdict
from jacmagic.errors import OptionError
from jacmagic.notation import counted

# Forward mode along every input carries this many tangent numbers at most (one per value entry and direction).
MAX_TANGENT_NUMBERS = 20_000_000
_SHOWN_ROWS = 12  # render.SHOWN: the most rows of a local Jacobian a view forms at once


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



@dataclass(frozen=True, eq=False)
class LineStep:
    """One line seen from the output: the upstream gradient, and per operand what the product adds to it."""

    line: Line
    values: Values
    upstream: np.ndarray  # (m, r, c)
    products: dict[str, np.ndarray]  # operand -> (m, r', c') (0 for a constant: no gradient is needed)
    before: dict[str, np.ndarray | float]  # operand -> its gradient before this step (0 if none yet)

    def local_rows(self, operand: str, rows: Sequence[int]) -> np.ndarray:
        """These rows of the local Jacobian with respect to `operand` (one row per entry of the line's value,
        row-major): the line applied to unit rows, so the matrix is never built whole."""
        units = np.zeros((len(rows), self.line.root.size))
        units[np.arange(len(rows)), list(rows)] = 1.0
        local = self.line.pullback(units.reshape(len(rows), *self.line.shape), self.values)[operand]
        return local.reshape(len(rows), -1)


@dataclass(frozen=True, eq=False)
class ForwardLineStep:
    line: Line
    incoming: dict[str, np.ndarray]  # operand -> its tangents (r', c', p)
    product: np.ndarray  # (r, c, p): the tangents of the line's value


@dataclass(frozen=True, eq=False)
class NetworkForward:
    directions: np.ndarray  # (n, p)
    steps: tuple[ForwardLineStep, ...]
    tangent: np.ndarray  # (m, p)


@dataclass(frozen=True, eq=False)
class NetworkWalk:
    point: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    backward: tuple[LineStep, ...]
    gradients: dict[str, np.ndarray]  # per differentiated input: (m, r, c)
    joined: Callable[[], np.ndarray] = field(repr=False)  # `gradient`, joined once when first asked
    judge: Callable[[], Verdict] = field(repr=False)  # the check: run once, when first asked
    forward_pass: NetworkForward | None = None
    forward_agrees: bool | None = None

    @property
    def gradient(self) -> np.ndarray:
        """The Jacobian of the chain (m, n), inputs row-major in order: the gradients joined into one matrix when
        it is first read (for 784 -> 128 -> 10, 100,000 columns: a sixth of the walkthrough's numbers)."""
        return self.joined()

    @property
    def agrees(self) -> bool | None:
        """Does the walk match the Jacobian computed another way (None: that one overflowed here, so nothing can
        be said)? The check runs when this or `check` is first read: the numbers alone do not wait for its six
        forward passes."""
        return self.judge().agrees

    @property
    def check(self) -> Verdict:
        """The check (with why the value is undefined, where it is)."""
        return self.judge()

    @property
    def forward_check(self) -> Verdict:
        """Forward mode's tangents against the reverse-mode Jacobian (times the directions); an `OptionError` when
        the cell ran reverse mode only (there is nothing to check)."""
        if self.forward_pass is None:
            raise OptionError("forward mode did not run: add --mode forward, --mode both or --direction to the cell")
        directions = self.forward_pass.directions
        whole = directions.shape[0] == directions.shape[1] and bool((directions == np.eye(len(directions))).all())
        return Verdict(self.forward_agrees, "reverse", times_direction=not whole)


def outputs_at(network: Network, point: Mapping[str, np.ndarray]) -> np.ndarray:
    """The outputs' entries, flattened in order: the map itself."""
    known, _ = network.forward(point)
    return np.concatenate([known[o].ravel() for o in network.outputs])


def reverse(plan: CompiledNetwork, point: Mapping[str, np.ndarray]
              ) -> tuple[tuple[dict[str, np.ndarray], list[Values], list[LineStep], dict[str, np.ndarray]], bool]:
    """Every value by name, each line's operation values, each line's step (output first), the gradients of the
    differentiated inputs (m, rows, cols); and whether every number was finite (the compiled walk ran: the exact
    walk runs where something is not finite, and says where)."""
    try:
        known, per_line, records, gradients = plan.reverse(point)
    except Undefined:
        return exact_reverse(plan.network, point, plan.wrt), False
    return (known, per_line, [LineStep(*record) for record in records], gradients), True


def exact_reverse(network: Network, point: Mapping[str, np.ndarray], wrt: Sequence[str], kinks: float | None = None
                  ) -> tuple[dict[str, np.ndarray], list[Values], list[LineStep], dict[str, np.ndarray]]:
    """Reverse mode operation by operation, each value and slope guarded: a value with no finite number (nan)
    makes what flows through it undefined (a 0 flowing stays 0), and an undefined output entry (a domain error,
    not an overflow: `Network.undefined_outputs`) has no gradient at all. With `kinks`, so does what flows
    through a kink (`Line.pullback`): the check's way to find the entries that depend on one."""
    known, per_line = network.forward(point)
    m = cost(network, wrt).outputs
    gradients = seeds(network, m)
    steps = _pull(list(zip(network.lines, per_line)), gradients, m, _flowing(network, wrt), kinks)
    undefined = network.undefined_outputs(per_line)
    by_input = {name: _rows_undefined(gradients.get(name, np.zeros((m, *network.shape_of(name)))), undefined)
                for name in wrt}
    return known, per_line, steps, by_input


def _pull(lines: Sequence[tuple[Line, Values]], gradients: dict[str, np.ndarray], m: int, flowing: Collection[str],
          kinks: float | None) -> list[LineStep]:
    """Reverse mode through `lines` (each with its operation values), output first, adding into `gradients` (by
    name, m rows); only the `flowing` names get a gradient (constants need none)."""
    steps = []
    for line, values in reversed(lines):
        upstream = gradients.get(line.name, np.zeros((m, *line.shape)))
        products = line.pullback(upstream, values, flowing, kinks)
        before = {name: gradients.get(name, 0.0) for name in products}
        for name, part in products.items():
            gradients[name] = part if name not in gradients else gradients[name] + part
        steps.append(LineStep(line, values, upstream, products, before))
    return steps


def _flowing(network: Network, wrt: Sequence[str]) -> set[str]:
    """The names a gradient flows to: the differentiated inputs and the lines (constants need none)."""
    return set(wrt) | {line.name for line in network.lines}


def gradient(plan: CompiledNetwork, point: Mapping[str, np.ndarray], dims: Mapping[str, tuple[int, ...]] | None = None
             ) -> dict[str, np.ndarray]:
    """The gradients of the differentiated inputs (m, rows, cols), or in the inputs' numpy shapes `dims`
    (`CompiledNetwork.laid_out`), alone, without the walkthrough's records. In numpy shapes a number's gradient
    by one output is a number (np.float64), as the entry level and the walkthrough give it, not a 0-d array."""
    try:
        found = plan.gradients(point, dims)
    except Undefined:
        found = plan.laid_out(exact_reverse(plan.network, point, plan.wrt)[3].values(), dims)
    return found if dims is None else {name: g[()] if g.ndim == 0 else g for name, g in found.items()}


def _rows_undefined(gradient: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    """An undefined output entry (log(-1), 0/0: no value at all) has no derivative either: its rows undefined
    (the last axes: one row per output), as the entry level says. An overflowed one is not among them: exp(1000)
    has a value, too large for a double, and its derivative by an input it does not depend on is exactly 0."""
    if not undefined.any():
        return gradient
    return np.where(undefined.reshape(undefined.shape + (1,) * (gradient.ndim - 1)), np.nan, gradient)


def jacobian_at(plan: CompiledNetwork, point: Mapping[str, np.ndarray]) -> np.ndarray:
    """J (m x n) at a point by reverse mode."""
    gradients = gradient(plan, point)
    return np.concatenate([g.reshape(g.shape[0], -1) for g in gradients.values()], axis=1)


def forward_mode(network: Network, per_line: Sequence[Values], wrt: Sequence[str],
                 directions: np.ndarray) -> NetworkForward:
    """Tangents from the inputs on: each line's local Jacobians times its operands' tangents."""
    p = directions.shape[1]
    tangents: dict[str, np.ndarray] = {}
    start = 0
    for name in wrt:
        r, c = network.shape_of(name)
        tangents[name] = directions[start:start + r * c].reshape(r, c, p)
        start += r * c
    steps = []
    for line, values in zip(network.lines, per_line):
        incoming = {leaf.name: tangents.get(leaf.name, np.zeros((*leaf.shape, p))) for leaf in line.leaves}
        product = line.pushforward(tangents, values, p)
        tangents[line.name] = product
        steps.append(ForwardLineStep(line, incoming, product))
    tangent = np.concatenate([tangents[o].reshape(-1, p) for o in network.outputs], axis=0)
    if not np.isfinite(tangent).all() or not all(np.isfinite(v[id(line.root)]).all()
                                                  for line, v in zip(network.lines, per_line)):
        tangent = _rows_undefined(tangent, network.undefined_outputs(per_line))
    return NetworkForward(directions, tuple(steps), tangent)


def tangent_numbers(network: Network, directions: int) -> int:
    """How many numbers forward mode carries: every value's entries, once per direction."""
    sizes = list(network.declared.values()) + [line.shape for line in network.lines]
    return directions * sum(r * c for r, c in sizes)


def cost(network: Network, wrt: Sequence[str]) -> Cost:
    """Passes and multiply-adds of each mode for the whole Jacobian, from the lines' local Jacobians' shapes."""
    outputs = sum(network.shape_of(o)[0] * network.shape_of(o)[1] for o in network.outputs)
    inputs = sum(network.shape_of(n)[0] * network.shape_of(n)[1] for n in wrt)
    per_pass = sum(line.root.size * leaf.size for line in network.lines for leaf in line.leaves)
    return Cost(outputs, inputs, per_pass)


def memory_needed(network: Network, wrt: Sequence[str], directions: int = 0) -> int:
    """Bytes the walkthrough holds at its largest, from the shapes alone: every operation's value; in reverse mode
    one row per output entry of what each line keeps (its upstream, its products, the sums per name) and of what
    the line being pulled back forms, the seed and the Jacobian; the rows of a local Jacobian a view forms;
    forward mode's tangents; the check's three directions, scaled, and the two points it moves to (8 numbers an
    input)."""
    c = cost(network, wrt)
    formed = max(sum(node.size for node in line.order()) for line in network.lines)
    kept = sum(line.root.size + 2 * sum(leaf.size for leaf in line.leaves) for line in network.lines)
    values = sum(node.size for line in network.lines for node in line.order())
    tangents = 2 * tangent_numbers(network, directions) if directions else 0
    numbers = (2 * values + c.outputs * (kept + formed + c.outputs + c.inputs) + _SHOWN_ROWS * formed + tangents
               + 8 * c.inputs)
    return 10 * numbers  # 8 bytes each, and a quarter more for numpy's temporaries


def refuse_past_memory(network: Network, wrt: Sequence[str], gigabytes: float, directions: int = 0) -> None:
    """A clear error before any allocation when the walkthrough would hold more than `gigabytes` (--memory): the
    cell is refused, the kernel never killed."""
    needed = memory_needed(network, wrt, directions)
    limit = int(gigabytes * 2**30)
    if needed <= limit:
        return
    outputs = cost(network, wrt).outputs
    why = (f"reverse mode carries one row per output entry ({outputs:,}) through every value; reduce the outputs "
           "(e.g. sum(...) to a loss) or use smaller shapes" if outputs > 1 else "use smaller shapes")
    raise OptionError(f"this walkthrough would hold about {_gigabytes(needed)} of numbers, over the "
                      f"{_gigabytes(limit)} limit: {why} (or allow more with --memory GB)")


def _gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**29 else f"{count / 2**20:.0f} MB"


def breaks(network: Network, wrt: Sequence[str], per_line: Sequence[Values]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Which columns of J (inputs) reach an output through a break at this point, and why: a kink whose slope the
    walk takes by convention (ReLU at 0, a tie of max(a, b): `Node.kinks`) or a step (a tie of where(x > 0, 1, 0),
    whose branches differ: flat on each side, the derivative 0 there, while the map jumps). One reverse pass of
    one row, from the operation values at hand, only when there is a break: nan flows from each kink (`kinks`)
    and from the condition of each step, which no gradient flows to otherwise (a line of its own whose root is
    the condition's operand), and marks the columns that depend on one. The row weighs the outputs at random (no
    two cancel) and a kink counts where more than rounding flows through it: a tie of max(z) breaks max(z) itself,
    not the stable softmax exp(z - max(z)) / sum(...), whose outputs do not depend on the shift."""
    pairs: list[tuple[Line, Values]] = []
    seeded: dict[str, np.ndarray] = {}
    reasons: list[str] = []
    for line, values in zip(network.lines, per_line):
        pairs.append((line, values))
        for node in line.order():
            operands = [values[id(c)] for c in node.children]
            tied = np.broadcast_to(node.kinks(operands), node.shape) if operands else np.zeros(node.shape, bool)
            if not tied.any():
                continue
            jumps = tied & (np.broadcast_to(operands[0] != operands[1], node.shape) if isinstance(node, Where)
                            else False)
            reasons.append(break_reason(node, line, bool(jumps.any())))
            for operand in node.children[2:] if jumps.any() else ():
                condition = Line(f"{line.name} condition {len(seeded)}", line.number, operand, line.leaves)
                seeded[condition.name] = _broadcast_back(np.where(jumps, np.nan, 0.0)[None], operand.shape)
                pairs.append((condition, values))
    columns = sum(network.shape_of(n)[0] * network.shape_of(n)[1] for n in wrt)
    if not reasons:
        return np.zeros(columns, dtype=bool), ()
    weights = np.random.default_rng(0)
    seed = {o: weights.uniform(1.0, 2.0, (1, *network.shape_of(o))) for o in network.outputs}
    plain = dict(seed)
    _pull(list(zip(network.lines, per_line)), plain, 1, _flowing(network, wrt), kinks=None)
    sizes = [np.abs(g[np.isfinite(g)]).max(initial=0.0) for g in plain.values() if np.ndim(g)]
    gradients = {**seed, **seeded}
    _pull(pairs, gradients, 1, _flowing(network, wrt), kinks=1e-9 * max(sizes, default=0.0))
    marks = np.concatenate([gradients.get(n, np.zeros((1, *network.shape_of(n)))).ravel() for n in wrt])
    found = ~np.isfinite(marks)
    return found, tuple(dict.fromkeys(reasons)) if found.any() else ()


def _outputs(plan: CompiledNetwork, point: Mapping[str, np.ndarray]) -> np.ndarray:
    try:
        return plan.outputs_at(point)
    except Undefined:
        return outputs_at(plan.network, point)


def _outside(network: Network, point: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str | None]:
    """Which outputs have no value at `point` because an operation is applied outside its domain (not an
    overflow), and the first such operation in words."""
    _, per_line = network.forward(point)
    return network.undefined_outputs(per_line), outside_reason(network.lines, per_line)


def walk(plan: CompiledNetwork, point: Mapping[str, np.ndarray], direct: np.ndarray | None = None,
         directions: np.ndarray | None = None, against: Against = "direct") -> NetworkWalk:
    """The walkthrough's numbers at `point` (every input by name, as 2-D arrays the walk may keep: the check runs
    there when its verdict is first read), checked against `direct` (`against`: the entry-level symbolic Jacobian
    there, or central differences of the composed map at 50 digits) or else central differences along random
    directions."""
    network, wrt = plan.network, plan.wrt
    (known, per_line, steps, gradients), finite = reverse(plan, point)

    @cache
    def jacobian() -> np.ndarray:
        return np.concatenate([g.reshape(g.shape[0], -1) for g in gradients.values()], axis=1)

    @cache
    def values() -> np.ndarray:
        return np.concatenate([known[o].ravel() for o in network.outputs])

    @cache
    def error() -> float:
        """What rounding to doubles alone may leave in the walk's numbers: a steep chain (sin(50 u) seven times
        over) keeps only a few digits, right as they are, and is not called wrong for the rest; none at all (an
        infinite condition number) allows 100%. Undefined entries are not judged, so they do not count here."""
        found = values()
        return min(1.0, rounding(jacobian()[np.isfinite(jacobian())], np.concatenate([point[n].ravel() for n in wrt]),
                                 found[np.isfinite(found)]))

    @cache
    def judge() -> Verdict:
        # The reasons are asked for wherever a number is missing: a value (the compiled walk gave up) or only a
        # slope (√x at 0 has a value, and the compiled walk keeps the inf or nan it computes).
        reasons = () if finite and np.isfinite(jacobian()).all() else tuple(
            why for line, values in zip(network.lines, per_line) if (why := line.undefined(values)))
        broken, aside = breaks(network, wrt, per_line)
        outputs = values()
        if direct is not None:
            exact = against == "direct"  # else differences at 50 digits, to their step's truncation
            agrees, judged = set_aside(jacobian(), direct, broken, max(1e-8 if exact else 1e-6, error()),
                                       1e-10 if exact else 1e-8, ~np.isfinite(outputs))
        else:
            edges = partial(edge_columns, point, plan.shapes, wrt, np.isfinite(outputs),
                            outside=partial(_outside, network))
            found = directional_check(plan, point, jacobian(), error(), outputs, bool(reasons), broken,
                                      partial(_outputs, plan), edges)
            agrees, judged, aside = found.agrees, found.judged, aside + found.aside
        return Verdict(agrees, against if direct is not None else "directions", judged, undefined=reasons,
                       aside=aside)
    ahead, ahead_agrees = None, None
    if directions is not None:
        ahead = forward_mode(network, per_line, wrt, directions)
        expected = chained(jacobian(), directions)  # a 0 beside an overflow stays 0, as forward mode keeps it
        ahead_agrees = compare(ahead.tangent, expected, max(1e-8, error()), 1e-10)[0]
    return NetworkWalk(dict(point), known, tuple(steps), gradients, jacobian, judge, ahead, ahead_agrees)
