"""The gradient of a network's scalar output in closed form, as a textbook writes it: ∂L/∂W₂ = (p − y)hᵀ.

Reverse mode done symbolically: from the loss back, each operation's rule is applied to the upstream formula, the
values of the forward pass kept by their line names (h, z, p) rather than expanded, and the identities a textbook
uses applied and named as they fire (softmax followed by cross-entropy gives p − y; diag(v)u = v ⊙ u; the product
with I ⊗ xᵀ is the outer product g xᵀ; a sum's gradient is a vector of ones; transposes pushed inward; tr, det,
inv and their identities in `closed_form_matrix`). The formulas are `closed_form_tree` expressions, evaluated with
numpy, so each is checked against the walkthrough's numbers. where/max/min, entries, reductions and softmax along an
axis, leaky ReLU, GELU, mse and cross_entropy have their rules in `closed_form_more`, the reductions along an axis
(sum, mean, logsumexp, norm, max, min) and max and min of all entries in `closed_form_axes`, conv2d, maxpool2d and
flatten of one image in `closed_form_images`, atan2, hypot and a variable power in `closed_form_binary`. An
operation with no rule yet (a batch of images, sign) raises `NoRule`: no formula rather than a wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from jacmagic.chain import closed_form_axes as axes
from jacmagic.chain import closed_form_binary as binary
from jacmagic.chain import closed_form_images as images
from jacmagic.chain import closed_form_matrix as m
from jacmagic.chain import closed_form_more as more
from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form_code import function_source
from jacmagic.chain.elementwise import Apply
from jacmagic.chain.linear import Dot, MatMul, Transpose
from jacmagic.chain.matrix_functions import MATRIX_NODES
from jacmagic.chain.network import Line, Network
from jacmagic.chain.operations import Arithmetic, Leaf, Negate, Node, Number, Power, named
from jacmagic.chain.reductions import Reduce, Softmax
from jacmagic.errors import OptionError

Expr = t.Expr
ONE = t.ones((1, 1))
NoRule = more.NoRule


@dataclass(frozen=True)
class Gradients:
    """What the composition found: each variable's gradient, each line's upstream (∂L/∂line), the rules that fired
    in order (and by the line they fired at), and the labels assumed to sum to 1 (softmax + cross-entropy)."""

    of: dict[str, Expr]
    upstream: dict[str, Expr]
    steps: tuple[str, ...]
    assumed: tuple[Expr, ...]
    stages: tuple[tuple[str, tuple[str, ...]], ...] = ()


class _Composer:
    """Builds formulas with a textbook's simplifications, noting each rule as it fires."""

    def __init__(self, network: Network, assume: bool) -> None:
        self.network, self.assume = network, assume
        self.steps: dict[str, None] = {}
        self.at = ""  # the line whose operations the rules now fire at
        self.fired: dict[str, dict[str, None]] = {}
        self.assumed: dict[Expr, None] = {}
        self.index = {line.name: k for k, line in enumerate(network.lines)}
        self.named: dict[Expr, t.Name] = {}  # a line's expression -> its name
        for line in network.lines:
            try:
                self.named.setdefault(self.convert(line.root, line, top=True), t.Name(line.name, line.shape))
            except NoRule:
                continue  # a line with no rule has no formula to be recognised by
        self.steps.clear()  # reading the lines is no step of the gradient
        self.fired.clear()

    def rule(self, words: str) -> None:
        self.steps[words] = None
        self.fired.setdefault(self.at, {})[words] = None

    # -- building with the identities ---------------------------------------------------------------------------

    def scale(self, factor: float, e: Expr) -> Expr:
        if isinstance(e, t.Scale):
            factor, e = factor * e.factor, e.inner
        return e if factor == 1 else t.Scale(factor, e)

    def add(self, *terms: Expr) -> Expr:
        flat = [part for term in terms for part in (term.terms if isinstance(term, t.Sum) else (term,))]
        if len(set(flat)) < len(flat):
            self.rule("like terms: u + u = 2u")
            flat = [self.scale(flat.count(term), term) for term in dict.fromkeys(flat)]
        if len(flat) == 1:
            return flat[0]
        factors = {f.factor if isinstance(f, t.Scale) else 1.0 for f in flat}
        if len(factors) == 1 and factors != {1.0} and factors != {-1.0}:
            return self.scale(factors.pop(), self.add(*(f.inner for f in flat)))  # type: ignore[attr-defined]
        if all(isinstance(f, t.MatProduct) for f in flat) and len({f.right for f in flat}) == 1:  # type: ignore
            self.rule("common factor: Ax + Bx = (A + B)x")
            lefts = sorted((f.left for f in flat), key=lambda e: isinstance(e, t.Flip))  # type: ignore[attr-defined]
            return self.matmul(self.add(*lefts), flat[0].right)  # type: ignore[attr-defined]
        return t.Sum(tuple(sorted(flat, key=lambda e: isinstance(e, t.Scale) and e.factor < 0)))  # p − y

    def hadamard(self, a: Expr, b: Expr) -> Expr:
        if (sigmoid := m.logistic(a, b, self.rule)) is not None:
            return self.hadamard(*sigmoid)
        for x, y in ((a, b), (b, a)):
            if t.is_ones(x) and (x.scalar or x.shape == y.shape):
                if not x.scalar:
                    self.rule("1 ⊙ g = g")
                return y
            if isinstance(x, t.Scale):
                return self.scale(x.factor, self.hadamard(x.inner, y))
            if isinstance(x, t.Const):
                return self.scale(x.value, y)
        if a.scalar and not b.scalar:
            a, b = b, a  # the number last: p·sum(y)
        return t.Hadamard(a, b)

    def quotient(self, a: Expr, b: Expr) -> Expr:
        if isinstance(a, t.Scale):
            return self.scale(a.factor, self.quotient(a.inner, b))
        if isinstance(b, t.Const) and b.value != 0:
            return self.scale(1 / b.value, a)
        return t.Quotient(a, b)

    def matmul(self, a: Expr, b: Expr) -> Expr:
        if a.scalar and t.is_ones(a):
            return b
        if b.scalar and t.is_ones(b):
            return a
        if isinstance(a, t.Scale):
            return self.scale(a.factor, self.matmul(a.inner, b))
        if isinstance(b, t.Scale):
            return self.scale(b.factor, self.matmul(a, b.inner))
        return m.product(a, b, self.rule) or t.MatProduct(a, b)

    def transpose(self, e: Expr) -> Expr:
        if e.scalar:
            return e
        if isinstance(e, t.Flip):
            return e.inner
        if (flipped := m.flipped(e)) is not None:
            return flipped
        if isinstance(e, t.Filled):
            return t.Filled(e.value, (e.size[1], e.size[0]))
        if isinstance(e, t.MatProduct):
            self.rule("transposes pushed inward: (AB)ᵀ = BᵀAᵀ")
            return self.matmul(self.transpose(e.right), self.transpose(e.left))
        if isinstance(e, t.Sum):
            return self.add(*(self.transpose(term) for term in e.terms))
        if isinstance(e, t.Scale):
            return self.scale(e.factor, self.transpose(e.inner))
        if isinstance(e, (t.Hadamard, t.Quotient)):
            return type(e)(self.transpose(e.left), self.transpose(e.right))
        return t.Flip(e)

    # -- the forward values as formulas -------------------------------------------------------------------------

    def convert(self, node: Node, line: Line, top: bool = False) -> Expr:
        """An operation's value as a formula; a line's own expression by the line's name (unless `top`)."""
        found = self._convert(node, line)
        return found if top else self.known(found, line)

    def known(self, e: Expr, line: Line) -> Expr:
        """A formula by the name of an earlier line with that expression, if there is one."""
        name = self.named.get(e)
        return name if name is not None and self.index[name.name] < self.index[line.name] else e

    def _convert(self, node: Node, line: Line) -> Expr:
        if isinstance(node, Leaf):
            return t.Name(node.name, node.shape)
        if isinstance(node, Number):
            return t.Const(node.value)
        parts = [self.convert(child, line) for child in node.children]
        if (found := more.convert(self, node, parts) or axes.convert(node, parts) or images.convert(node, parts)
                or binary.convert(node, parts, line)) is not None:
            return found
        if isinstance(node, Apply):
            return t.Function(node.name, parts[0])
        if isinstance(node, Arithmetic):
            a, b = parts
            return {"+": lambda: t.Sum((a, b)), "-": lambda: t.Sum((a, self.scale(-1, b))),
                    "*": lambda: self.hadamard(a, b), "/": lambda: t.Quotient(a, b)}[node.op]()
        if isinstance(node, MatMul):
            return t.MatProduct(*parts)
        if isinstance(node, Transpose):
            return self.transpose(parts[0])
        if isinstance(node, Negate):
            return self.scale(-1, parts[0])
        if isinstance(node, Power):
            return t.Power(parts[0], node.exponent)
        if isinstance(node, Dot):
            a, b = parts
            return t.Total("sum", t.Hadamard(a, b if a.shape == b.shape else self.transpose(b)))
        if isinstance(node, MATRIX_NODES):
            return m.convert(node, parts[0])
        if isinstance(node, Softmax) and node.axis is None:
            return t.Function("log_softmax" if node.log else "softmax", parts[0])
        if isinstance(node, Reduce) and node.axis is None and node.kind in t._TOTALS:
            return t.Total(node.kind, parts[0])
        raise NoRule(line, node)

    # -- reverse mode ---------------------------------------------------------------------------------------------

    def pullback(self, line: Line, upstream: Expr, flows: set[int]) -> dict[str, list[Expr]]:
        """The upstream formula through one line, to each operand name that something differentiated flows to."""
        order = line.order()
        gradients: dict[int, list[Expr]] = {id(line.root): [upstream]}
        found: dict[str, list[Expr]] = {}
        for node in reversed(order):
            if id(node) not in gradients or id(node) not in flows:
                continue
            g = self.add(*gradients[id(node)])
            if isinstance(node, Leaf):
                found.setdefault(node.name, []).append(g)
                continue
            for k, child in enumerate(node.children):
                if id(child) in flows and node.flows(k):
                    gradients.setdefault(id(child), []).append(self.back(line, node, k, g))
        return found

    def back(self, line: Line, node: Node, k: int, g: Expr) -> Expr:
        """The upstream g times the local Jacobian of `node` with respect to its operand k."""
        if (found := more.back(self, line, node, k, g) or axes.back(self, line, node, g)
                or images.back(self, line, node, k, g) or binary.back(self, line, node, k, g)) is not None:
            return found
        child = node.children[k]
        if isinstance(node, Apply):
            u = self.convert(child, line)
            if node.name in ("log", "ln"):
                self.rule("diag(1/u)g = g/u")
                return self.quotient(g, u)
            self.rule("diag(v)u = v ⊙ u")
            if node.name == "relu":
                self.rule("H(z) for ReLU's derivative (the Heaviside step)")
            if node is line.root and node.name in _FROM_VALUE:
                words, from_value = _FROM_VALUE[node.name]
                self.rule(words.replace("@", line.name))
                return self.hadamard(g, from_value(t.Name(line.name, line.shape)))
            return self.hadamard(g, t.Function(node.name, u, derivative=True))
        if isinstance(node, Power):
            self.rule("diag(v)u = v ⊙ u")
            u, n = self.convert(child, line), node.exponent
            if n == 0:
                raise NoRule(line, node)  # 0·u⁻¹ would be undefined at 0
            slope = t.Const(n) if n == 1 else self.scale(n, u if n == 2 else t.Power(u, n - 1))
            return self.hadamard(g, slope)
        if isinstance(node, Negate):
            return self.scale(-1, g)
        if isinstance(node, Transpose):
            return self.transpose(g)
        if isinstance(node, Arithmetic):
            return self.unbroadcast(self._arithmetic(line, node, k, g), child.shape, node.shape)
        if isinstance(node, MatMul):
            if k == 0:
                b = self.convert(node.right, line)
                self.rule("outer product: (I ⊗ xᵀ)ᵀg = g xᵀ" if b.shape[1] == 1 else "∂(AB)/∂A: g Bᵀ")
                return self.matmul(g, self.transpose(b))
            self.rule("∂(Ax)/∂x = A: Aᵀg")
            return self.matmul(self.transpose(self.convert(node.left, line)), g)
        if isinstance(node, Dot):
            other = self.convert(node.children[1 - k], line)
            return self.hadamard(g, other if other.shape == child.shape else self.transpose(other))
        if isinstance(node, MATRIX_NODES):
            return m.back(self, node, self.convert(child, line), g)
        if isinstance(node, Softmax) and node.axis is None:
            return self._softmax(line, node, g)
        if isinstance(node, Reduce) and node.axis is None:
            return self._total(line, node, g)
        raise NoRule(line, node)

    def _arithmetic(self, line: Line, node: Arithmetic, k: int, g: Expr) -> Expr:
        if node.op in "+-":
            return self.scale(-1, g) if node.op == "-" and k == 1 else g
        a, b = (self.convert(c, line) for c in node.children)
        self.rule("diag(v)u = v ⊙ u")
        if node.op == "*":
            return self.hadamard(g, b if k == 0 else a)
        if k == 0:
            return self.quotient(g, b)
        return self.scale(-1, self.quotient(self.hadamard(g, a), t.Power(b, 2)))

    def unbroadcast(self, g: Expr, shape: tuple[int, int], full: tuple[int, int]) -> Expr:
        """A gradient back to an operand that was broadcast: summed over the entries it was repeated into."""
        if shape == full:
            return g
        self.rule("broadcast: the gradient sums over the repeated entries")
        if shape == (1, 1):
            return t.Total("sum", g)
        if shape[1] == 1:
            return self.matmul(g, t.ones((full[1], 1)))
        return self.matmul(t.ones((1, full[0])), g)

    def _total(self, line: Line, node: Reduce, g: Expr) -> Expr:
        u = self.convert(node.child, line)
        if node.kind == "sum":
            self.rule("a sum's gradient is a vector of ones")
            return self.hadamard(g, t.ones(node.child.shape))
        if node.kind == "mean":
            return self.hadamard(g, self.scale(1 / node.child.size, t.ones(node.child.shape)))
        if node.kind == "logsumexp":
            self.rule("∂logsumexp(z)/∂z = softmax(z)ᵀ")
            return self.hadamard(g, self.known(t.Function("softmax", u), line))
        if node.kind == "norm":
            return m.norm_back(g, u, self.rule, self.hadamard, self.quotient, self.scale)
        raise NoRule(line, node)

    def _softmax(self, line: Line, node: Softmax, g: Expr) -> Expr:
        z = self.convert(node.child, line)
        s = self.known(t.Function("softmax", z), line) if node.log or node is not line.root else \
            t.Name(line.name, line.shape)
        label = more.label(g, s, node.log)
        if label is not None:  # g = k·(−y/p) (softmax) or k·(−y) (log_softmax): the cross-entropy
            factor, y = label
            general = self.add(self.hadamard(s, t.Total("sum", y)), self.scale(-1, y))
            if not self.assume:
                self.rule(f"softmax + cross-entropy: {general.text()}")
                return self.scale(factor, general)
            self.assumed[y] = None
            self.rule(f"softmax + cross-entropy: {s.text()} − {y.text()} ({y.text()} sums to 1)")
            return self.scale(factor, self.add(s, self.scale(-1, y)))
        if node.log:
            self.rule("∂log_softmax(z)/∂z = I − 1 sᵀ: g − s·sum(g)")
            return self.add(g, self.scale(-1, self.hadamard(s, t.Total("sum", g))))
        self.rule("∂softmax(z)/∂z = diag(s) − s sᵀ: s ⊙ (g − sᵀg)")
        return self.hadamard(s, self.add(g, self.scale(-1, self.matmul(self.transpose(s), g))))


# The derivatives a textbook writes with the function's value (@, the line's name).
_FROM_VALUE: dict[str, tuple[str, Callable[[Expr], Expr]]] = {
    "tanh": ("tanh′ = 1 − @², from the value @", lambda v: t.Sum((t.Const(1.0), t.Scale(-1, t.Power(v, 2))))),
    "sigmoid": ("σ′ = @ ⊙ (1 − @), from the value @", lambda v: t.Hadamard(v, t.Sum((t.Const(1.0), t.Scale(-1, v))))),
    "exp": ("exp′ = exp, the value @", lambda v: v),
}


def compose(network: Network, wrt: tuple[str, ...], assume: bool = True) -> Gradients:
    """The gradient of the network's one scalar output with respect to each of `wrt` (inputs or lines), in closed
    form."""
    composer = _Composer(network, assume)
    wanted = set(wrt)
    for line in network.lines:  # the lines something differentiated flows into
        if any(leaf.name in wanted for leaf in line.leaves):
            wanted.add(line.name)
    output = network.lines[-1]
    upstream: dict[str, list[Expr]] = {output.name: [ONE]}
    totals: dict[str, Expr] = {}
    for line in reversed(network.lines):
        if line.name not in upstream or line.name not in wanted:
            continue
        if t.written_size(upstream[line.name], more.MAX_WRITTEN) > more.MAX_WRITTEN:
            raise more.TooLong(line)
        totals[line.name] = composer.add(*upstream[line.name])
        composer.at = line.name
        flows = {id(leaf) for leaf in line.leaves if leaf.name in wanted}
        for node in line.order():
            if any(id(c) in flows for c in node.children):
                flows.add(id(node))
        for name, parts in composer.pullback(line, totals[line.name], flows).items():
            upstream.setdefault(name, []).extend(parts)
    of = {name: totals.get(name) or composer.add(*upstream[name]) if name in upstream else
          t.zeros(network.shape_of(name)) for name in wrt}
    return Gradients(of, totals, tuple(composer.steps), tuple(composer.assumed),
                     tuple((at, tuple(rules)) for at, rules in composer.fired.items()))


def holds(gradients: Gradients, values: Mapping[str, np.ndarray]) -> bool:
    """Do the labels assumed to sum to 1 sum to 1 at these values?"""
    return all(abs(float(np.sum(y.evaluate(values))) - 1) < 1e-9 for y in gradients.assumed)


@dataclass(frozen=True)
class Formula:
    """∂output/∂name in closed form: `.tree` the formula, `.steps` the rules that fired (`.stages`: by the line, from
    the output back), `.assumptions` what it takes for granted (a label summing to 1), `.latex` and `.text`."""

    name: str
    output: str
    tree: Expr
    steps: tuple[str, ...]
    assumptions: tuple[str, ...]
    stages: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def _side(self, form: str) -> str:
        out, by = (getattr(named(n), form) for n in (self.output, self.name))
        return rf"\frac{{\partial {out}}}{{\partial {by}}}" if form == "latex" else f"∂{out}/∂{by}"

    @property
    def latex(self) -> str:
        return f"{self._side('latex')} = {self.tree.latex()}"

    @property
    def text(self) -> str:
        return f"{self._side('text')} = {self.tree.text()}"

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The numbers at `values` (each input's and line's, by name); a gradient in its array's shape there."""
        found = self.tree.evaluate(values)
        given = np.shape(values.get(self.name, found))
        return found.reshape(given) if found.size == int(np.prod(given)) else found


def closed_forms(network: Network, wrt: tuple[str, ...], assume: bool = True) -> dict[str, Formula]:
    """Each of `wrt`'s gradient formula; an `OptionError` when the output is not one number or an operation on
    the way has no rule yet."""
    if len(network.outputs) != 1 or network.shape_of(network.outputs[0]) != (1, 1):
        raise OptionError("a closed form is of the gradient of one number (a loss); this cell's outputs are "
                          f"{', '.join(network.outputs)}")
    try:
        return {name: formula_of(network, name, compose(network, (name,), assume)) for name in wrt}
    except NoRule as err:
        raise OptionError(f"{err}; the walkthrough and result.gradient() give its numbers") from None


def formula_of(network: Network, name: str, found: Gradients) -> Formula:
    assumptions = tuple(f"{y.text()} sums to 1" for y in found.assumed)
    return Formula(name, network.outputs[0], found.of[name], found.steps, assumptions, found.stages)


def gradient_source(network: Network, wrt: tuple[str, ...]) -> str:
    """A readable numpy function `gradient(inputs...)`: the forward pass one line per stage, then each stage's
    gradient by name (d<L>_d<name>), returning the gradients of `wrt` in a dict."""
    composer = _Composer(network, assume=False)
    found = compose(network, wrt, assume=False)
    out = network.lines[-1].name
    body = [f"    {line.name} = {composer.convert(line.root, line, top=True).python()}" for line in network.lines]
    names: dict[Expr, str] = {}
    for line in reversed(network.lines[:-1]):
        if line.name in found.upstream:
            body.append(f"    d{out}_d{line.name} = {found.upstream[line.name].python(names)}")
            names[found.upstream[line.name]] = f"d{out}_d{line.name}"
    return function_source(network, f"gradient({', '.join(network.inputs)})",
                           f"The gradient of {out} by {', '.join(wrt)}, in closed form.",
                           [*body, *(f"    d{out}_d{name} = {found.of[name].python(names)}" for name in wrt)],
                           {name: f"d{out}_d{name}" for name in wrt}, in_shape=True)
