"""Element-wise functions (exp, log, tanh, σ, ReLU, ... with their derivatives as textbooks write them, from the
function table `chain.functions`) applied entry by entry, whose local Jacobian is diag(f'(z)); and the classifier
pieces built on them: leaky ReLU with a slope, cross-entropy on logits and mean squared error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.activations import LEAKY_SLOPE
from jacmagic.chain.functions import FLAT, FUNCTIONS, WITH_DOMAIN, Elementwise, calls, jump, leaky
from jacmagic.chain.operations import (
    Factor,
    Node,
    Number,
    Shape,
    Shown,
    bracket,
    diagonal,
    no_real_value,
    short,
    steep,
    times,
    wrap,
)
from jacmagic.chain.reductions import along_values


@dataclass(eq=False)
class Apply(Node):
    """f(z) entry by entry: local Jacobian diag(f'(z))."""

    name: str
    child: Node

    def __post_init__(self) -> None:
        self.shape, self.children = self.child.shape, (self.child,)
        self.function = FUNCTIONS[self.name]
        if self.function.show[0].startswith("e^"):  # e^{x} is a power: (e^{x})^{2}, never e^{x}^{2}
            self.precedence = 3

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return self.function.value(operands[0])

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, self.function.derivative(operands[0]))]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return times(tangents[0], self.function.derivative(operands[0])[..., None])

    def factor(self, k: int) -> Factor:
        if self.name in FLAT:
            return Factor(Shown("0", "0"), f"zero: {self.name} is flat on each side of 0 (at 0 it jumps and has no "
                                           "derivative: undefined there)")
        inner = wrap(self.child.show(), self.function.derivative_show)
        return diagonal(inner)

    def show(self) -> Shown:
        return wrap(self.child.show(), self.function.show)

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        return ~np.isfinite(value) if self.name in WITH_DOMAIN else False

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        return no_real_value(self) if self.name in WITH_DOMAIN else super().undefined(operands)

    def kinks(self, operands: Sequence[np.ndarray]) -> np.ndarray | bool:
        return operands[0] == 0 if self.name in ("relu", "leaky_relu") else False

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        if self.name in FLAT and (operands[0] == 0).any():
            return f"{short(self.show().text)} jumps at 0 and has no derivative there"
        with np.errstate(all="ignore"):
            return steep(self, operands[0], self.evaluate(operands), self.function.derivative(operands[0]),
                         lambda z: self.evaluate([z]))


# -- classifier pieces: leaky ReLU with a slope, cross-entropy on logits, mean squared error ---------------------

@dataclass(eq=False)
class LeakyApply(Apply):
    """leaky_relu(z, a) for a number a: local Jacobian diag(1 above 0, a at and below)."""

    slope: float = LEAKY_SLOPE

    def __post_init__(self) -> None:
        super().__post_init__()
        self.function = leaky(self.slope)


@dataclass(eq=False)
class StepApply(Apply):
    """np.heaviside(z, h) for a number h, its value at 0 (heaviside(z) takes h = 0): flat on each side, as H."""

    at_zero: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        h, at_zero = f"{self.at_zero:g}", self.at_zero
        self.function = Elementwise(lambda z: np.heaviside(z, at_zero), jump,
                                    (rf"\operatorname{{H}}\left(@, {h}\right)", f"H(@, {h})"), ("0", "0"))


def _pair(what: str, a: Node, b: Node) -> tuple[Node, Node]:
    if a.shape != b.shape:
        raise ValueError(f"{what} needs two arrays of one shape, got {a.shape[0]} x {a.shape[1]} and {b.shape[0]} x "
                         f"{b.shape[1]}")
    return a, b


def row(slopes: Sequence[np.ndarray], tangents: Sequence[np.ndarray]) -> np.ndarray:
    """A number's tangents (1, 1, p): its local Jacobian rows (in the operands' shapes) times their tangents."""
    return sum(np.einsum("ij,ijp->p", s, t) for s, t in zip(slopes, tangents)).reshape(1, 1, -1)  # type: ignore[union-attr]


@dataclass(eq=False)
class CrossEntropy(Node):
    """cross_entropy(z, y) = -yᵀ log_softmax(z) of logits z, max-shifted (finite at z = 1000): logsumexp(z) - yᵀz
    for one-hot or probability y. Local Jacobians: (softmax(z) 1ᵀy - y)ᵀ, which is (softmax(z) - y)ᵀ when y
    sums to 1, and -log_softmax(z)ᵀ."""

    logits: Node
    targets: Node
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = _pair("cross_entropy(z, y)", self.logits, self.targets)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        z, y = operands
        return np.reshape(-(y * along_values("log_softmax", z, None)).sum(), (1, 1))

    def _slopes(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logs = along_values("log_softmax", z, None)
        return np.exp(logs) * y.sum() - y, -logs

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, slope) for slope in self._slopes(*operands)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return row(self._slopes(*operands), tangents)

    def factor(self, k: int) -> Factor:
        z, y = self.logits.show(), bracket(self.targets, 9)
        if k == 1:
            return Factor(Shown(rf"-\operatorname{{log\_softmax}}\left({z.latex}\right)^{{T}}",
                                f"−log_softmax({z.text})ᵀ"))
        return Factor(Shown(rf"\left(\operatorname{{softmax}}\left({z.latex}\right) \mathbf{{1}}^{{T}} {y.latex} - "
                            rf"{y.latex}\right)^{{T}}", f"(softmax({z.text})·1ᵀ{y.text} − {y.text})ᵀ"),
                      f"(softmax({z.text}) − {y.text})ᵀ when {y.text} sums to 1 (one-hot or probabilities)")

    def show(self) -> Shown:
        z, y = self.logits.show(), self.targets.show()
        return Shown(rf"\operatorname{{cross\_entropy}}\left({z.latex}, {y.latex}\right)",
                     f"cross_entropy({z.text}, {y.text})")


@dataclass(eq=False)
class MeanSquaredError(Node):
    """mse(a, b) = mean((a - b)²): local Jacobians (2/n)(a - b)ᵀ and its negative."""

    left: Node
    right: Node
    shape: Shape = (1, 1)

    def __post_init__(self) -> None:
        self.children = _pair("mse(a, b)", self.left, self.right)

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        a, b = operands
        return np.reshape(np.mean((a - b) ** 2), (1, 1))

    def _slopes(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slope = 2.0 * (a - b) / a.size
        return slope, -slope

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        return [times(upstream, slope) for slope in self._slopes(*operands)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        return row(self._slopes(*operands), tangents)

    def factor(self, k: int) -> Factor:
        a, b = self.left.show(), bracket(self.right, 2)
        sign = "-" if k else ""
        return Factor(Shown(rf"{sign}\tfrac{{2}}{{{self.left.size}}}\left({a.latex} - {b.latex}\right)^{{T}}",
                            f"{'−' if k else ''}(2/{self.left.size})({a.text} − {b.text})ᵀ"))

    def show(self) -> Shown:
        a, b = self.left.show(), self.right.show()
        return Shown(rf"\operatorname{{mse}}\left({a.latex}, {b.latex}\right)", f"mse({a.text}, {b.text})")


def _leaky_call(z: Node, slope: Node | None = None) -> Node | None:
    """leaky_relu(z) or leaky_relu(z, a) for a number a (another slope: the entry-level reader's)."""
    if slope is None:
        return Apply("leaky_relu", z)
    return LeakyApply("leaky_relu", z, slope.value) if isinstance(slope, Number) else None


# Calls of more than one argument, by the table's name: the argument counts, and the node they build (None: not
# at this level; a ValueError says the user's shape mistake).
CALLS = calls({"LeakyApply": _leaky_call, "CrossEntropy": CrossEntropy, "MeanSquaredError": MeanSquaredError})
