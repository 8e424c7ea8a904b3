"""The one table of the functions a cell may call: one record per function, with what each level needs.

The entry level builds a sympy expression (`formula`); the array level applies numpy's value and slope entry by
entry (`numeric`: an `Elementwise`, or a `TwoPlace` for a function of two arrays) or builds the array operation
named by `node`. Every other table (KNOWN_FUNCTIONS, FUNCTIONS, WHOLE_ARRAY, the array reader's COVERED and
CALLS, the domains) is derived from `TABLE`, so that a function is added, renamed or aliased in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from jacmagic.chain import whole_formulas as whole
from jacmagic.chain.activations import LEAKY_SLOPE, Abs, cbrt, gelu, leaky_relu, relu, sigmoid, sign, softplus
from jacmagic.chain.extremes import ReducedMax, ReducedMin, maximum, minimum
from jacmagic.chain.shown import Shown
from jacmagic.lazy import later, np

Pair = tuple["np.ndarray", "np.ndarray"]


@dataclass(frozen=True)
class Elementwise:
    """A function applied entry by entry at array level: numpy's value and slope, and both as written."""

    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    show: tuple[str, str]  # f(@): LaTeX, text
    derivative_show: tuple[str, str]  # f'(@)


@dataclass(frozen=True)
class TwoPlace:
    """One function of two arrays: its value, its two partial derivatives (from the operands and the value), and
    how it and they are written (`a`, `b`: the operands as shown, bracketed where they are not atoms)."""

    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    slopes: Callable[[np.ndarray, np.ndarray, np.ndarray], Pair]
    show: Callable[[Shown, Shown, Shown, Shown], Shown]  # plain a, plain b, bracketed a, bracketed b
    slope_shows: tuple[Callable[[Shown, Shown], Shown], Callable[[Shown, Shown], Shown]]  # bracketed a, b


@dataclass(frozen=True)
class Function:
    """One function a cell may call, at both levels.

    `arities`: the argument counts (None: one or more, as max and min). `node`: the array operation built when
    `numeric` is not how the array level computes it (a reduction, a loss, a matrix function; for leaky_relu its
    call with a slope). `domain`: "" defined on every real, "poles" undefined at points the entry level guards
    (tan, inv), "part" real only on part of the line (log, sqrt, asin: no real value outside). `whole`: of a whole
    array at the entry level, not entry by entry. `flat`: a step, with slope 0 on each side of its jump at 0."""

    formula: Callable[..., Any]
    arities: tuple[int, ...] | None
    numeric: Elementwise | TwoPlace | None = None
    node: str = ""
    aliases: tuple[str, ...] = ()  # other names at both levels (arctan for atan, Abs for abs)
    array_aliases: tuple[str, ...] = ()  # other names only the array level takes (trace for tr)
    domain: str = ""
    whole: bool = False
    flat: bool = False

    def names(self, name: str, array: bool) -> tuple[str, ...]:
        return (name, *self.aliases, *(self.array_aliases if array else ()))


# -- numpy's side ---------------------------------------------------------------------------------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


def _erf(z: np.ndarray) -> np.ndarray:
    from jacmagic.chain.evaluate import jacmagic_erf

    return np.asarray(jacmagic_erf(z), dtype=float)


def _gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + _erf(z / np.sqrt(2.0)))


def _gelu_slope(z: np.ndarray) -> np.ndarray:
    """Φ(z) + z φ(z)."""
    with np.errstate(all="ignore"):
        return 0.5 * (1.0 + _erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def jump(z: np.ndarray) -> np.ndarray:
    """The slope of a step: 0 on each side, none at 0 itself, where it jumps (the entry level's Dirac delta)."""
    return np.where(z == 0, np.nan, 0.0)


def _heaviside(z: np.ndarray) -> np.ndarray:
    return np.heaviside(z, 0.0)  # H(0) = 0, as the entry level's Heaviside(z, 0)


def leaky(slope: float) -> Elementwise:
    """leaky_relu with slope a below 0: a at the kink itself, the left side, as ReLU's H(0) = 0."""
    a = f"{slope:g}"
    return Elementwise(lambda z: np.where(z > 0, z, slope * z), lambda z: np.where(z > 0, 1.0, slope),
                       (rf"\operatorname{{leaky\_ReLU}}\left(@, {a}\right)", f"leaky_ReLU(@, {a})"),
                       (rf"\operatorname{{H}}\left(@\right) + {a} \left(1 - \operatorname{{H}}\left(@\right)\right)",
                        f"H(@) + {a}(1 − H(@))"))


def _atan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """numpy's arctan2, undefined (nan) at y = x = 0 as sympy's atan2 and the entry level are."""
    return np.where((y == 0) & (x == 0), np.nan, np.arctan2(y, x))


def _atan2_slopes(y: np.ndarray, x: np.ndarray, value: np.ndarray) -> Pair:
    squares = x * x + y * y
    return x / squares, -y / squares


def _hypot_slopes(a: np.ndarray, b: np.ndarray, value: np.ndarray) -> Pair:
    return a / value, b / value  # 0/0 at the origin: no derivative there (a cone's tip)


def called(name: str) -> Callable[[Shown, Shown, Shown, Shown], Shown]:
    """name(a, b) as written."""
    return lambda a, b, _, __: Shown(rf"\operatorname{{{name}}}\left({a.latex}, {b.latex}\right)",
                                     f"{name}({a.text}, {b.text})")


def _named(name: str) -> tuple[str, str]:
    """A function LaTeX has a command for: \\sin\\left(@\\right), sin(@)."""
    return rf"\{name}\left(@\right)", f"{name}(@)"


def _operator(name: str) -> tuple[str, str]:
    return rf"\operatorname{{{name}}}\left(@\right)", f"{name}(@)"


def _minus(shown: tuple[str, str]) -> tuple[str, str]:
    return f"-{shown[0]}", f"−{shown[1]}"


_LOG = Elementwise(later.log, lambda z: 1 / z, _named("log"), (r"\frac{1}{@}", "1/(@)"))
_STEP = Elementwise(_heaviside, jump, _operator("H"), ("0", "0"))
_ONE, _TWO = (1,), (2,)


def _step(z: sp.Expr) -> sp.Expr:
    return sp.Heaviside(z, 0)


def _log_base(base: int) -> Callable[[sp.Expr], sp.Expr]:
    return lambda z: sp.log(z, base)


def _leaky_relu(z: sp.Expr, a: Any = LEAKY_SLOPE) -> sp.Expr:
    return leaky_relu(z, sp.sympify(a))


def _reciprocal_root(inside: str, text: str, minus: str = "") -> tuple[str, str]:
    """1/√(inside) of asin's, acosh's, ... slope."""
    return rf"{minus}\frac{{1}}{{\sqrt{{{inside}}}}}", f"{'−' if minus else ''}1/√({text})"


# -- the table ------------------------------------------------------------------------------------------------------

TABLE: dict[str, Function] = {
    "sin": Function(sp.sin, _ONE, Elementwise(later.sin, later.cos, _named("sin"), _named("cos"))),
    "cos": Function(sp.cos, _ONE, Elementwise(later.cos, lambda z: -np.sin(z), _named("cos"), _minus(_named("sin")))),
    "tan": Function(sp.tan, _ONE, Elementwise(later.tan, lambda z: 1 / np.cos(z) ** 2, _named("tan"),
                                              (r"\sec^{2}\left(@\right)", "sec²(@)")), domain="poles"),
    "sec": Function(sp.sec, _ONE, Elementwise(lambda z: 1 / np.cos(z), lambda z: np.sin(z) / np.cos(z) ** 2,
                                              _named("sec"), (r"\sec\left(@\right)\tan\left(@\right)",
                                                              "sec(@)tan(@)")), domain="poles"),
    "csc": Function(sp.csc, _ONE, Elementwise(lambda z: 1 / np.sin(z), lambda z: -np.cos(z) / np.sin(z) ** 2,
                                              _named("csc"), (r"-\csc\left(@\right)\cot\left(@\right)",
                                                              "−csc(@)cot(@)")), domain="poles"),
    "cot": Function(sp.cot, _ONE, Elementwise(lambda z: np.cos(z) / np.sin(z), lambda z: -1 / np.sin(z) ** 2,
                                              _named("cot"), (r"-\csc^{2}\left(@\right)", "−csc²(@)")),
                    domain="poles"),
    "asin": Function(sp.asin, _ONE, Elementwise(later.arcsin, lambda z: 1 / np.sqrt(1 - z * z), _operator("asin"),
                                                _reciprocal_root(r"1 - \left(@\right)^{2}", "1 − (@)²")),
                     aliases=("arcsin",), domain="part"),
    "acos": Function(sp.acos, _ONE, Elementwise(later.arccos, lambda z: -1 / np.sqrt(1 - z * z), _operator("acos"),
                                                _reciprocal_root(r"1 - \left(@\right)^{2}", "1 − (@)²", "-")),
                     aliases=("arccos",), domain="part"),
    "atan": Function(sp.atan, _ONE, Elementwise(later.arctan, lambda z: 1 / (1 + z * z), _operator("atan"),
                                                (r"\frac{1}{1 + \left(@\right)^{2}}", "1/(1 + (@)²)")),
                     aliases=("arctan",)),
    "atan2": Function(sp.atan2, _TWO, TwoPlace(_atan2, _atan2_slopes, called("atan2"), (
        lambda y, x: Shown(rf"\frac{{{x.latex}}}{{{x.latex}^{{2}} + {y.latex}^{{2}}}}",
                           f"{x.text}/({x.text}² + {y.text}²)"),
        lambda y, x: Shown(rf"-\frac{{{y.latex}}}{{{x.latex}^{{2}} + {y.latex}^{{2}}}}",
                           f"−{y.text}/({x.text}² + {y.text}²)"))), aliases=("arctan2",)),
    "sinh": Function(sp.sinh, _ONE, Elementwise(later.sinh, later.cosh, _named("sinh"), _named("cosh"))),
    "cosh": Function(sp.cosh, _ONE, Elementwise(later.cosh, later.sinh, _named("cosh"), _named("sinh"))),
    "tanh": Function(sp.tanh, _ONE, Elementwise(later.tanh, lambda z: 1 - np.tanh(z) ** 2, _named("tanh"),
                                                (r"1 - \tanh^{2}\left(@\right)", "1 − tanh²(@)"))),
    "asinh": Function(sp.asinh, _ONE, Elementwise(later.arcsinh, lambda z: 1 / np.sqrt(z * z + 1), _operator("asinh"),
                                                  _reciprocal_root(r"\left(@\right)^{2} + 1", "(@)² + 1")),
                      aliases=("arcsinh",)),
    "acosh": Function(sp.acosh, _ONE, Elementwise(later.arccosh, lambda z: 1 / np.sqrt(z * z - 1), _operator("acosh"),
                                                  _reciprocal_root(r"\left(@\right)^{2} - 1", "(@)² − 1")),
                      aliases=("arccosh",), domain="part"),
    "atanh": Function(sp.atanh, _ONE, Elementwise(later.arctanh, lambda z: 1 / (1 - z * z), _operator("atanh"),
                                                  (r"\frac{1}{1 - \left(@\right)^{2}}", "1/(1 − (@)²)")),
                      aliases=("arctanh",), domain="part"),
    "exp": Function(sp.exp, _ONE, Elementwise(later.exp, later.exp, (r"e^{@}", "exp(@)"), (r"e^{@}", "exp(@)"))),
    "log": Function(sp.log, (1, 2), _LOG, domain="part"),  # log(x, base) too
    "ln": Function(sp.log, _ONE, _LOG, domain="part"),  # not an alias of log: one argument only
    "log2": Function(_log_base(2), _ONE, Elementwise(later.log2, lambda z: 1 / (z * np.log(2)),
                                                     (r"\log_{2}\left(@\right)", "log₂(@)"),
                                                     (r"\frac{1}{@ \log 2}", "1/((@)·log 2)")), domain="part"),
    "log10": Function(_log_base(10), _ONE, Elementwise(later.log10, lambda z: 1 / (z * np.log(10)),
                                                       (r"\log_{10}\left(@\right)", "log₁₀(@)"),
                                                       (r"\frac{1}{@ \log 10}", "1/((@)·log 10)")), domain="part"),
    "sqrt": Function(sp.sqrt, _ONE, Elementwise(later.sqrt, lambda z: 0.5 / np.sqrt(z), (r"\sqrt{@}", "√(@)"),
                                                (r"\frac{1}{2\sqrt{@}}", "1/(2√(@))")), domain="part"),
    "cbrt": Function(cbrt, _ONE, Elementwise(later.cbrt, lambda z: 1 / (3 * np.cbrt(z) ** 2), (r"\sqrt[3]{@}", "∛(@)"),
                                             (r"\frac{1}{3\sqrt[3]{@}^{2}}", "1/(3∛(@)²)"))),
    # |z|'s slope is 0 at the kink, as sign(0) and the frameworks
    "abs": Function(Abs, _ONE, Elementwise(later.abs, later.sign, (r"\left|@\right|", "|@|"), _operator("sign")),
                    aliases=("Abs",)),
    "sign": Function(sign, _ONE, Elementwise(later.sign, jump, _operator("sign"), ("0", "0")), flat=True),
    "erf": Function(sp.erf, _ONE, Elementwise(lambda z: _erf(z), lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z),
                                              _operator("erf"),
                                              (r"\frac{2}{\sqrt{\pi}} e^{-\left(@\right)^{2}}", "2/√π·exp(−(@)²)"))),
    "hypot": Function(lambda a, b: sp.sqrt(a**2 + b**2), _TWO, TwoPlace(later.hypot, _hypot_slopes, called("hypot"), (
        lambda a, b: Shown(rf"\frac{{{a.latex}}}{{\operatorname{{hypot}}\left({a.latex}, {b.latex}\right)}}",
                           f"{a.text}/hypot({a.text}, {b.text})"),
        lambda a, b: Shown(rf"\frac{{{b.latex}}}{{\operatorname{{hypot}}\left({a.latex}, {b.latex}\right)}}",
                           f"{b.text}/hypot({a.text}, {b.text})")))),
    # max(z) and min(z) reduce (OVER_ENTRIES); with two or more arguments they choose entry by entry, as written
    "min": Function(minimum, None, node="Reduce"),
    "max": Function(maximum, None, node="Reduce"),
    "heaviside": Function(_step, _ONE, _STEP, aliases=("step",), flat=True),
    "sigmoid": Function(sigmoid, _ONE, Elementwise(_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
                                                   (r"\sigma\left(@\right)", "σ(@)"),
                                                   (r"\sigma\left(@\right)\left(1 - \sigma\left(@\right)\right)",
                                                    "σ(@)(1 − σ(@))"))),
    "relu": Function(relu, _ONE, Elementwise(lambda z: np.maximum(z, 0), lambda z: np.heaviside(z, 0.0),
                                             _operator("ReLU"), _operator("H"))),
    "softplus": Function(softplus, _ONE, Elementwise(lambda z: np.logaddexp(0, z), _sigmoid, _operator("softplus"),
                                                     (r"\sigma\left(@\right)", "σ(@)"))),
    "gelu": Function(gelu, _ONE, Elementwise(_gelu, _gelu_slope, _operator("GELU"),
                                             (r"\Phi\left(@\right) + \left(@\right) \varphi\left(@\right)",
                                              "Φ(@) + (@)·φ(@)"))),
    # leaky_relu(z): the ML frameworks' default slope; leaky_relu(z, a) for a number a
    "leaky_relu": Function(_leaky_relu, (1, 2), leaky(LEAKY_SLOPE), node="LeakyApply"),
    "cross_entropy": Function(whole.cross_entropy, _TWO, node="CrossEntropy", whole=True),
    "mse": Function(whole.mse, _TWO, node="MeanSquaredError", whole=True),
    "where": Function(whole.where, (3,), node="Where"),
    "sum": Function(whole.total, _ONE, node="Reduce", whole=True),
    "mean": Function(whole.mean, _ONE, node="Reduce", whole=True),
    "transpose": Function(whole.transposed, _ONE, node="Transpose", whole=True),
    "softmax": Function(whole.softmax, _ONE, node="Softmax", whole=True),
    "log_softmax": Function(whole.log_softmax, _ONE, node="Softmax", whole=True),
    "logsumexp": Function(whole.logsumexp, _ONE, node="Reduce", whole=True),
    "norm": Function(whole.norm, _ONE, node="Reduce", whole=True),
    "dot": Function(whole.dot, _TWO, node="Dot", whole=True),
    "tr": Function(whole.trace, _ONE, node="Trace", array_aliases=("trace",), whole=True),
    "det": Function(whole.det, _ONE, node="Determinant", whole=True),
    "logdet": Function(whole.logdet, _ONE, node="LogDeterminant", domain="poles", whole=True),
    "inv": Function(whole.inverse, _ONE, node="Inverse", domain="poles", whole=True),
}

KNOWN_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
# max(z) and min(z) of a whole vector at the entry level: one unevaluated reduction, the first of tied entries
# taking the slope as the walk's reduction does
OVER_ENTRIES: dict[str, Callable[..., Any]] = {"max": ReducedMax, "min": ReducedMin}


# -- derived: each level's names ------------------------------------------------------------------------------------

def _named_records(array: bool) -> Iterator[tuple[str, Function]]:
    for name, record in TABLE.items():
        for spelled in record.names(name, array):
            yield spelled, record


ENTRY_LEVEL: dict[str, Function] = dict(_named_records(array=False))
ARRAY_LEVEL: dict[str, Function] = dict(_named_records(array=True))

# name -> (sympy constructor, allowed argument counts; None means one or more): the entry-level reader's
KNOWN_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...] | None]] = {
    name: (record.formula, record.arities) for name, record in ENTRY_LEVEL.items()}
# Functions of a whole vector or matrix (the rest apply entry by entry); max and min of one argument too.
WHOLE_ARRAY = frozenset(name for name, record in ENTRY_LEVEL.items() if record.whole)
# Functions defined only on part of the real line: where they are called, the map's domain is checked.
RESTRICTED = frozenset(name for name, record in ENTRY_LEVEL.items() if record.domain)

# The array level's element-wise functions and functions of two arrays, by every name they go by
FUNCTIONS: dict[str, Elementwise] = {
    name: record.numeric for name, record in ARRAY_LEVEL.items() if isinstance(record.numeric, Elementwise)}
TWO_PLACE_FUNCTIONS: dict[str, TwoPlace] = {
    name: record.numeric for name, record in ARRAY_LEVEL.items() if isinstance(record.numeric, TwoPlace)}
# Steps: flat on each side of 0, jumping at 0. Their local Jacobian is 0 there, and undefined at the jump.
FLAT = frozenset(name for name, record in ARRAY_LEVEL.items() if record.flat)
# Finite operands outside their domain: no real value.
WITH_DOMAIN = frozenset(name for name, record in ARRAY_LEVEL.items() if record.domain == "part")


def building(node: str) -> frozenset[str]:
    """The array-level names whose call builds this array operation ("Reduce": sum, mean, max, ...)."""
    return frozenset(name for name, record in ARRAY_LEVEL.items() if record.node == node)


def calls(builders: Mapping[str, Callable[..., Any]]) -> dict[str, tuple[tuple[int, ...], Callable[..., Any]]]:
    """name -> (argument counts, builder) of the array-level names whose `node` one of `builders` builds."""
    return {name: (record.arities or (1,), builders[record.node]) for name, record in ARRAY_LEVEL.items()
            if record.node in builders}
