"""Random maps for the correctness hunt: one expression tree written as a math-form formula and as numpy code, and
evaluated independently with mpmath (40 digits) to give central differences, skipping points near a break."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath

Node = tuple[Any, ...]
NEAR = 1e-3  # points closer than this to a kink, jump, branch cut or pole are skipped


class Undefined(Exception):
    """The map has no real value (or a break is too near) at this point."""


def _real(value: Any) -> mpmath.mpf:
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf(10) ** -30 * (1 + abs(value.real)):
            raise Undefined
        value = value.real
    if not mpmath.isfinite(value) or abs(value) > 1e12:
        raise Undefined
    return value


def _away(value: Any) -> None:
    if abs(value) < NEAR:
        raise Undefined


def _cbrt(z: Any) -> Any:
    _away(z)
    return mpmath.sign(z) * mpmath.cbrt(abs(z))


def _sign(z: Any) -> Any:
    _away(z)
    return mpmath.sign(z)


def _step(z: Any) -> Any:
    _away(z)
    return mpmath.mpf(1) if z > 0 else mpmath.mpf(0)


def _kink(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def kinked(z: Any) -> Any:
        _away(z)
        return function(z)
    return kinked


def _domain(function: Callable[[Any], Any], low: float | None, high: float | None) -> Callable[[Any], Any]:
    """A function defined on (low, high), refused near its ends."""
    def inside(z: Any) -> Any:
        if (low is not None and z < low + NEAR) or (high is not None and z > high - NEAR):
            raise Undefined
        return function(z)
    return inside


def _pole(function: Callable[[Any], Any], zero: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def away(z: Any) -> Any:
        _away(zero(z))
        return function(z)
    return away


# name -> (mpmath value, numpy spelling in a def, or "" where the def form has no spelling)
UNARY: dict[str, tuple[Callable[[Any], Any], str]] = {
    "sin": (mpmath.sin, "np.sin"), "cos": (mpmath.cos, "np.cos"),
    "tan": (_pole(mpmath.tan, mpmath.cos), "np.tan"),
    "sec": (_pole(mpmath.sec, mpmath.cos), ""), "csc": (_pole(mpmath.csc, mpmath.sin), ""),
    "cot": (_pole(mpmath.cot, mpmath.sin), ""),
    "asin": (_domain(mpmath.asin, -1, 1), "np.arcsin"), "acos": (_domain(mpmath.acos, -1, 1), "np.arccos"),
    "atan": (mpmath.atan, "np.arctan"), "sinh": (mpmath.sinh, "np.sinh"), "cosh": (mpmath.cosh, "np.cosh"),
    "tanh": (mpmath.tanh, "np.tanh"), "asinh": (mpmath.asinh, "np.arcsinh"),
    "acosh": (_domain(mpmath.acosh, 1, None), "np.arccosh"), "atanh": (_domain(mpmath.atanh, -1, 1), "np.arctanh"),
    "exp": (mpmath.exp, "np.exp"), "log": (_domain(mpmath.log, 0, None), "np.log"),
    "ln": (_domain(mpmath.log, 0, None), ""),
    "log2": (_domain(lambda z: mpmath.log(z, 2), 0, None), "np.log2"),
    "log10": (_domain(mpmath.log10, 0, None), "np.log10"),
    "sqrt": (_domain(mpmath.sqrt, 0, None), "np.sqrt"), "cbrt": (_cbrt, "np.cbrt"),
    "abs": (_kink(abs), "np.abs"), "sign": (_sign, "np.sign"), "erf": (mpmath.erf, ""),
    "heaviside": (_step, ""),
    "sigmoid": (lambda z: 1 / (1 + mpmath.exp(-z)), "sigmoid"),
    "relu": (_kink(lambda z: max(z, 0)), "relu"),
    "softplus": (lambda z: mpmath.log(1 + mpmath.exp(z)), "softplus"),
    "gelu": (lambda z: z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2, ""),
    "leaky_relu": (_kink(lambda z: z if z > 0 else z / 100), ""),
}


def _atan2(y: Any, x: Any) -> Any:
    if abs(y) < NEAR and x < NEAR:
        raise Undefined  # the branch cut along the negative x axis, and the origin
    return mpmath.atan2(y, x)


def _hypot(a: Any, b: Any) -> Any:
    if abs(a) + abs(b) < NEAR:
        raise Undefined
    return mpmath.hypot(a, b)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def chosen(*args: Any) -> Any:
        ordered = sorted(args)
        if any(abs(a - b) < NEAR for a, b in zip(ordered, ordered[1:])):
            raise Undefined
        return pick(args)
    return chosen


def _log_base(z: Any, base: Any) -> Any:
    if z < NEAR or base < NEAR or abs(base - 1) < 0.05:
        raise Undefined
    return mpmath.log(z) / mpmath.log(base)


def _power(a: Any, b: Any) -> Any:
    if abs(a) < NEAR:
        raise Undefined
    return mpmath.power(a, b)


BINARY: dict[str, tuple[Callable[..., Any], str]] = {
    "atan2": (_atan2, "np.arctan2"), "hypot": (_hypot, "np.hypot"),
    "max": (_extreme(max), "np.maximum"), "min": (_extreme(min), "np.minimum"),
    "log": (_log_base, "math.log"),
}


@dataclass
class Writer:
    """Writes a tree as a math-form formula (`python=False`) or as numpy code in a def."""

    python: bool

    def __call__(self, node: Node) -> str:
        kind = node[0]
        if kind in ("var", "name"):
            return node[1]
        if kind == "num":
            return node[2]
        if kind == "op":
            return f"({self(node[2])} {node[1]} {self(node[3])})"
        if kind == "neg":
            return f"(-{self(node[1])})"
        if kind == "fn":
            name = UNARY[node[1]][1] if self.python else node[1]
            if self.python and node[1] == "heaviside":
                return f"np.heaviside({self(node[2])}, 0)"
            return f"{name}({self(node[2])})"
        if kind == "fn2":
            name = BINARY[node[1]][1] if self.python else node[1]
            return f"{name}({self(node[2])}, {self(node[3])})"
        if kind == "max3":
            if self.python:
                return f"np.maximum(np.maximum({self(node[1])}, {self(node[2])}), {self(node[3])})"
            return f"max({self(node[1])}, {self(node[2])}, {self(node[3])})"
        if kind == "where":
            cond = f"{self(node[1])} > {self(node[2])}"
            if self.python:
                return f"np.where({cond}, {self(node[3])}, {self(node[4])})"
            return f"where({cond}, {self(node[3])}, {self(node[4])})"
        raise AssertionError(kind)


def evaluate(node: Node, env: dict[str, Any]) -> Any:
    """The value at `env` by mpmath; Undefined where the map has no real value or a break is near."""
    kind = node[0]
    if kind in ("var", "name"):
        return env[node[1]]
    if kind == "num":
        return mpmath.mpf(node[1]) if not isinstance(node[1], str) else {"pi": mpmath.pi, "E": mpmath.e}[node[1]]
    if kind == "neg":
        return -evaluate(node[1], env)
    if kind == "op":
        a, b = evaluate(node[2], env), evaluate(node[3], env)
        if node[1] == "/":
            _away(b)
            return _real(a / b)
        if node[1] == "**":
            return _real(_power(a, b))
        return _real({"+": a + b, "-": a - b, "*": a * b}[node[1]])
    if kind == "fn":
        return _real(UNARY[node[1]][0](evaluate(node[2], env)))
    if kind == "fn2":
        return _real(BINARY[node[1]][0](evaluate(node[2], env), evaluate(node[3], env)))
    if kind == "max3":
        return _extreme(max)(*(evaluate(n, env) for n in node[1:]))
    if kind == "where":
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        _away(a - b)
        return evaluate(node[3], env) if a > b else evaluate(node[4], env)
    raise AssertionError(kind)


@dataclass
class Grammar:
    rng: random.Random
    inputs: Sequence[str]
    held: Sequence[str] = ()
    python: bool = False  # only what a def can spell
    size: int = field(default=0)

    def leaf(self) -> Node:
        roll = self.rng.random()
        if roll < 0.6:
            return ("var", self.rng.choice(list(self.inputs)))
        if roll < 0.7 and self.held:
            return ("name", self.rng.choice(list(self.held)))
        choice = self.rng.choice([(2, "2"), (0.5, "0.5"), (3, "3"), ("pi", "pi"), ("E", "E"), (1e-8, "1e-8"),
                                  (1e8, "1e8"), (1.5, "1.5"), (7, "7")])
        if self.python and choice[0] in ("pi", "E"):
            return ("num", choice[0], "np.pi" if choice[0] == "pi" else "np.e")
        return ("num", *choice)

    def node(self, depth: int) -> Node:
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf()
        roll = self.rng.random()
        if roll < 0.35:
            return ("op", self.rng.choice("+-*/"), self.node(depth - 1), self.node(depth - 1))
        if roll < 0.45:
            power = self.rng.choice([("num", 2, "2"), ("num", 3, "3"), ("num", -1, "(-1)"), ("num", 0.5, "0.5"),
                                     ("num", -2, "(-2)"), ("op", "/", ("num", 1, "1"), ("num", 3, "3")),
                                     self.leaf()])
            return ("op", "**", self.node(depth - 1), power)
        if roll < 0.75:
            names = [n for n, (_, py) in UNARY.items() if py or not self.python]
            return ("fn", self.rng.choice(names), self.node(depth - 1))
        if roll < 0.85:
            return ("fn2", self.rng.choice(list(BINARY)), self.node(depth - 1), self.node(depth - 1))
        if roll < 0.9:
            return ("max3", self.node(depth - 1), self.node(depth - 1), self.node(depth - 1))
        if roll < 0.95:
            return ("neg", self.node(depth - 1))
        return ("where", self.node(depth - 1), self.node(depth - 1), self.node(depth - 1), self.node(depth - 1))


def reference_jacobian(outputs: Sequence[Node], env: dict[str, Any], wrt: Sequence[str]) -> list[list[float]]:
    """Central differences at 40 digits with a step of 1e-15: exact to double precision away from breaks."""
    with mpmath.workdps(40):
        point = {k: mpmath.mpf(v) for k, v in env.items()}
        for node in outputs:
            evaluate(node, point)
        h = mpmath.mpf(10) ** -15
        rows = []
        for node in outputs:
            row = []
            for name in wrt:
                up = evaluate(node, {**point, name: point[name] + h})
                down = evaluate(node, {**point, name: point[name] - h})
                row.append(float((up - down) / (2 * h)))
            rows.append(row)
    return rows


def reference_hessian(node: Node, env: dict[str, Any], wrt: Sequence[str]) -> list[list[float]]:
    with mpmath.workdps(50):
        point = {k: mpmath.mpf(v) for k, v in env.items()}
        evaluate(node, point)
        h = mpmath.mpf(10) ** -12
        rows = []
        for a in wrt:
            row = []
            for b in wrt:
                def at(da: int, db: int, a: str = a, b: str = b) -> Any:
                    shifted = dict(point)
                    shifted[a] += da * h
                    shifted[b] += db * h
                    return evaluate(node, shifted)
                row.append(float((at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h)))
            rows.append(row)
    return rows
