"""Element-wise functions (exp, log, tanh, σ, ReLU, ... with their derivatives as textbooks write them) applied
entry by entry, whose local Jacobian is diag(f'(z)); and the classifier pieces built on them: leaky ReLU, GELU,
cross-entropy on logits and mean squared error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jacmagic.chain.functions import LEAKY_SLOPE
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
    times,
    wrap,
)

# -- element-wise functions: value, derivative, and the derivative as textbooks write it -------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


@dataclass(frozen=True)
class Elementwise:
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    show: tuple[str, str]  # f(@)
    derivative_show: tuple[str, str]  # f'(@)


FUNCTIONS: dict[str, Elementwise] = {
    "exp": Elementwise(np.exp, np.exp, (r"e^{@}", "exp(@)"), (r"e^{@}", "exp(@)")),
    "log": Elementwise(np.log, lambda z: 1 / z, (r"\log\left(@\right)", "log(@)"),
                       (r"\frac{1}{@}", "1/(@)")),
    "ln": Elementwise(np.log, lambda z: 1 / z, (r"\log\left(@\right)", "log(@)"), (r"\frac{1}{@}", "1/(@)")),
    "tanh": Elementwise(np.tanh, lambda z: 1 - np.tanh(z) ** 2, (r"\tanh\left(@\right)", "tanh(@)"),
                        (r"1 - \tanh^{2}\left(@\right)", "1 − tanh²(@)")),
    "sigmoid": Elementwise(_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)), (r"\sigma\left(@\right)", "σ(@)"),
                           (r"\sigma\left(@\right)\left(1 - \sigma\left(@\right)\right)", "σ(@)(1 − σ(@))")),
    "relu": Elementwise(lambda z: np.maximum(z, 0), lambda z: np.heaviside(z, 0.0),
                        (r"\operatorname{ReLU}\left(@\right)", "ReLU(@)"),
                        (r"\operatorname{H}\left(@\right)", "H(@)")),
    "softplus": Elementwise(lambda z: np.logaddexp(0, z), _sigmoid, (r"\operatorname{softplus}\left(@\right)",
                                                                      "softplus(@)"),
                            (r"\sigma\left(@\right)", "σ(@)")),
    "sin": Elementwise(np.sin, np.cos, (r"\sin\left(@\right)", "sin(@)"), (r"\cos\left(@\right)", "cos(@)")),
    "cos": Elementwise(np.cos, lambda z: -np.sin(z), (r"\cos\left(@\right)", "cos(@)"),
                       (r"-\sin\left(@\right)", "−sin(@)")),
    "sqrt": Elementwise(np.sqrt, lambda z: 0.5 / np.sqrt(z), (r"\sqrt{@}", "√(@)"),
                        (r"\frac{1}{2\sqrt{@}}", "1/(2√(@))")),
    "abs": Elementwise(np.abs, np.sign, (r"\left|@\right|", "|@|"),  # 0 at the kink, as sign(0) and the frameworks
                       (r"\operatorname{sign}\left(@\right)", "sign(@)")),
    "sinh": Elementwise(np.sinh, np.cosh, (r"\sinh\left(@\right)", "sinh(@)"), (r"\cosh\left(@\right)", "cosh(@)")),
    "cosh": Elementwise(np.cosh, np.sinh, (r"\cosh\left(@\right)", "cosh(@)"), (r"\sinh\left(@\right)", "sinh(@)")),
    "atan": Elementwise(np.arctan, lambda z: 1 / (1 + z * z), (r"\operatorname{atan}\left(@\right)", "atan(@)"),
                        (r"\frac{1}{1 + \left(@\right)^{2}}", "1/(1 + (@)²)")),
}
FUNCTIONS["Abs"] = FUNCTIONS["abs"]
FUNCTIONS["arctan"] = FUNCTIONS["atan"]


def _function(latex: str, text: str) -> tuple[str, str]:
    return rf"\operatorname{{{latex}}}\left(@\right)", f"{text}(@)"


# The rest of the entry level's functions, so that no line needs the entry level for one of them.
FUNCTIONS.update({
    "tan": Elementwise(np.tan, lambda z: 1 / np.cos(z) ** 2, (r"\tan\left(@\right)", "tan(@)"),
                       (r"\sec^{2}\left(@\right)", "sec²(@)")),
    "sec": Elementwise(lambda z: 1 / np.cos(z), lambda z: np.sin(z) / np.cos(z) ** 2, (r"\sec\left(@\right)",
                                                                                    "sec(@)"),
                       (r"\sec\left(@\right)\tan\left(@\right)", "sec(@)tan(@)")),
    "csc": Elementwise(lambda z: 1 / np.sin(z), lambda z: -np.cos(z) / np.sin(z) ** 2, (r"\csc\left(@\right)",
                                                                                     "csc(@)"),
                       (r"-\csc\left(@\right)\cot\left(@\right)", "−csc(@)cot(@)")),
    "cot": Elementwise(lambda z: np.cos(z) / np.sin(z), lambda z: -1 / np.sin(z) ** 2, (r"\cot\left(@\right)",
                                                                                     "cot(@)"),
                       (r"-\csc^{2}\left(@\right)", "−csc²(@)")),
    "asin": Elementwise(np.arcsin, lambda z: 1 / np.sqrt(1 - z * z), _function("asin", "asin"),
                        (r"\frac{1}{\sqrt{1 - \left(@\right)^{2}}}", "1/√(1 − (@)²)")),
    "acos": Elementwise(np.arccos, lambda z: -1 / np.sqrt(1 - z * z), _function("acos", "acos"),
                        (r"-\frac{1}{\sqrt{1 - \left(@\right)^{2}}}", "−1/√(1 − (@)²)")),
    "asinh": Elementwise(np.arcsinh, lambda z: 1 / np.sqrt(z * z + 1), _function("asinh", "asinh"),
                         (r"\frac{1}{\sqrt{\left(@\right)^{2} + 1}}", "1/√((@)² + 1)")),
    "acosh": Elementwise(np.arccosh, lambda z: 1 / np.sqrt(z * z - 1), _function("acosh", "acosh"),
                         (r"\frac{1}{\sqrt{\left(@\right)^{2} - 1}}", "1/√((@)² − 1)")),
    "atanh": Elementwise(np.arctanh, lambda z: 1 / (1 - z * z), _function("atanh", "atanh"),
                         (r"\frac{1}{1 - \left(@\right)^{2}}", "1/(1 − (@)²)")),
    "log2": Elementwise(np.log2, lambda z: 1 / (z * np.log(2)), (r"\log_{2}\left(@\right)", "log₂(@)"),
                        (r"\frac{1}{@ \log 2}", "1/((@)·log 2)")),
    "log10": Elementwise(np.log10, lambda z: 1 / (z * np.log(10)), (r"\log_{10}\left(@\right)", "log₁₀(@)"),
                         (r"\frac{1}{@ \log 10}", "1/((@)·log 10)")),
    "cbrt": Elementwise(np.cbrt, lambda z: 1 / (3 * np.cbrt(z) ** 2), (r"\sqrt[3]{@}", "∛(@)"),
                        (r"\frac{1}{3\sqrt[3]{@}^{2}}", "1/(3∛(@)²)")),
    "erf": Elementwise(lambda z: _erf(z), lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z),
                       (r"\operatorname{erf}\left(@\right)", "erf(@)"),
                       (r"\frac{2}{\sqrt{\pi}} e^{-\left(@\right)^{2}}", "2/√π·exp(−(@)²)")),
})
FUNCTIONS.update({"arc" + name[1:]: FUNCTIONS[name] for name in ("asin", "acos", "asinh", "acosh", "atanh")})


def _jump(z: np.ndarray) -> np.ndarray:
    """The slope of a step: 0 on each side, none at 0 itself, where it jumps (the entry level's Dirac delta)."""
    return np.where(z == 0, np.nan, 0.0)


def _heaviside(z: np.ndarray) -> np.ndarray:
    return np.heaviside(z, 0.0)  # H(0) = 0, as the entry level's Heaviside(z, 0)


_STEP_SHOW = (r"\operatorname{H}\left(@\right)", "H(@)")
FUNCTIONS.update({
    "sign": Elementwise(np.sign, _jump, (r"\operatorname{sign}\left(@\right)", "sign(@)"), ("0", "0")),
    "heaviside": Elementwise(_heaviside, _jump, _STEP_SHOW, ("0", "0")),
    "step": Elementwise(_heaviside, _jump, _STEP_SHOW, ("0", "0")),
})
# Steps: flat on each side of 0, jumping at 0. Their local Jacobian is 0 there, and undefined at the jump.
FLAT = frozenset({"sign", "heaviside", "step"})



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

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        return no_real_value(self) if self.name in _WITH_DOMAIN else super().undefined(operands)

    def unsloped(self, operands: Sequence[np.ndarray]) -> str | None:
        if self.name in FLAT and (operands[0] == 0).any():
            return f"{short(self.show().text)} jumps at 0 and has no derivative there"
        return None


# Finite operands outside their domain: no real value.
_WITH_DOMAIN = frozenset({"log", "ln", "sqrt", "log2", "log10", "asin", "acos", "acosh", "atanh", "arcsin", "arccos",
                          "arccosh", "arctanh"})



# -- classifier pieces: leaky ReLU, GELU, cross-entropy on logits, mean squared error ------------------------------

def _leaky(slope: float) -> Elementwise:
    """leaky_relu with slope a below 0: a at the kink itself, the left side, as ReLU's H(0) = 0."""
    a = f"{slope:g}"
    return Elementwise(lambda z: np.where(z > 0, z, slope * z), lambda z: np.where(z > 0, 1.0, slope),
                       (rf"\operatorname{{leaky\_ReLU}}\left(@, {a}\right)", f"leaky_ReLU(@, {a})"),
                       (rf"\operatorname{{H}}\left(@\right) + {a} \left(1 - \operatorname{{H}}\left(@\right)\right)",
                        f"H(@) + {a}(1 − H(@))"))


def _erf(z: np.ndarray) -> np.ndarray:
    from jacmagic.chain.evaluate import jacmagic_erf

    return np.asarray(jacmagic_erf(z), dtype=float)


def _gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + _erf(z / np.sqrt(2.0)))


def _gelu_slope(z: np.ndarray) -> np.ndarray:
    """Φ(z) + z φ(z)."""
    with np.errstate(all="ignore"):
        return 0.5 * (1.0 + _erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


FUNCTIONS["gelu"] = Elementwise(_gelu, _gelu_slope, (r"\operatorname{GELU}\left(@\right)", "GELU(@)"),
                                (r"\Phi\left(@\right) + \left(@\right) \varphi\left(@\right)", "Φ(@) + (@)·φ(@)"))
FUNCTIONS["leaky_relu"] = _leaky(LEAKY_SLOPE)  # leaky_relu(z): the ML frameworks' default slope


@dataclass(eq=False)
class LeakyApply(Apply):
    """leaky_relu(z, a) for a number a: local Jacobian diag(1 above 0, a at and below)."""

    slope: float = LEAKY_SLOPE

    def __post_init__(self) -> None:
        super().__post_init__()
        self.function = _leaky(self.slope)


@dataclass(eq=False)
class StepApply(Apply):
    """np.heaviside(z, h) for a number h, its value at 0 (heaviside(z) takes h = 0): flat on each side, as H."""

    at_zero: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        h, at_zero = f"{self.at_zero:g}", self.at_zero
        self.function = Elementwise(lambda z: np.heaviside(z, at_zero), _jump,
                                    (rf"\operatorname{{H}}\left(@, {h}\right)", f"H(@, {h})"), ("0", "0"))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    top = z.max()
    return z - top - np.log(np.exp(z - top).sum())


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
        return np.reshape(-(y * _log_softmax(z)).sum(), (1, 1))

    def _slopes(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.exp(_log_softmax(z)) * y.sum() - y, -_log_softmax(z)

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


# Calls of more than one argument, by name: the argument counts, and the node they build (None: not at this level;
# a ValueError says the user's shape mistake).
CALLS: dict[str, tuple[tuple[int, ...], Callable[..., Node | None]]] = {
    "leaky_relu": ((1, 2), _leaky_call),
    "cross_entropy": ((2,), CrossEntropy),
    "mse": ((2,), MeanSquaredError),
}
