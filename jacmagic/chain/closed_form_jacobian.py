"""Jacobians and Hessians in matrix form, where they are matrices: ∂(A exp(x))/∂x = A diag(exp(x)), and the Hessian
of a number by a vector, the Jacobian of its closed-form gradient: A + Aᵀ for xᵀAx, 2AᵀA for ‖Ax − y‖².

Numerator layout: the Jacobian of an m-vector by an n-vector is m x n (a row per output entry), of a number by a
vector the row 1 x n. Forward mode done symbolically on the `closed_form_tree` formulas: each form's rule (∂x/∂x = I,
∂(Au)/∂x = A ∂u/∂x, ∂f(u)/∂x = diag(f′(u)) ∂u/∂x, the product rule) applied and named. By a matrix, or through
something whose derivative is no matrix (the dependence of a matrix, a derivative's own derivative), the form is
refused with the reason (`NotMatrix`), never a wrong formula.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jacmagic.chain import closed_form_matrix as m
from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form import Formula, NoRule, _Composer, compose
from jacmagic.chain.closed_form_code import function_source
from jacmagic.chain.network import Network
from jacmagic.chain.operations import named
from jacmagic.errors import OptionError

Expr = t.Expr
Jacobian = Expr | None  # None: 0, nothing depends on the variable
# f″ from f′, where a derivative is differentiated again: σ″ = σ′ ⊙ (1 − 2σ), tanh″ = −2 tanh ⊙ tanh′, softplus″ = σ′
_SECOND: dict[str, Callable[[Expr], Expr]] = {
    "exp": lambda u: t.Function("exp", u),
    "sigmoid": lambda u: t.Hadamard(t.Function("sigmoid", u, derivative=True),
                                    t.Sum((t.Const(1.0), t.Scale(-2, t.Function("sigmoid", u))))),
    "softplus": lambda u: t.Function("sigmoid", u, derivative=True),
    "tanh": lambda u: t.Scale(-2, t.Hadamard(t.Function("tanh", u), t.Function("tanh", u, derivative=True))),
    "sin": lambda u: t.Scale(-1, t.Function("sin", u)),
    "cos": lambda u: t.Scale(-1, t.Function("cos", u)),
    "sqrt": lambda u: t.Scale(-0.25, t.Power(u, -1.5)),
}


class NotMatrix(Exception):
    """The Jacobian has no matrix form here (the words say why)."""


class _Forward:
    """∂e/∂x of formulas e (columns or numbers) by one column x, with the composer's identities."""

    def __init__(self, composer: _Composer, x: t.Name, lines: Mapping[str, Expr]) -> None:
        self.c, self.x, self.lines = composer, x, lines
        self.found: dict[str, Jacobian] = {}

    def __call__(self, e: Expr) -> Jacobian:
        if isinstance(e, t.Name):
            return self._name(e)
        if isinstance(e, (t.Const, t.Filled, m.Identity)):
            return None
        if isinstance(e, t.Scale):
            inner = self(e.inner)
            return None if inner is None else self.c.scale(e.factor, inner)
        if isinstance(e, t.Sum):
            return self._add(*(self._spread(self(term), e) for term in e.terms))
        if isinstance(e, t.Hadamard):
            return self._product(e.left, e.right, e)
        if isinstance(e, t.Quotient):
            return self._product(e.left, t.Power(e.right, -1.0), e)
        if isinstance(e, t.Power):
            return self._through(self.c.scale(e.exponent, t.Power(e.base, e.exponent - 1)) if e.exponent != 2
                                 else self.c.scale(2, e.base), e.base, "∂uᵏ/∂x = diag(k uᵏ⁻¹) ∂u/∂x")
        if isinstance(e, t.Function):
            return self._function(e)
        if isinstance(e, t.MatProduct):
            return self._matmul(e)
        if isinstance(e, t.Total):
            return self._total(e)
        if isinstance(e, t.Flip) and e.scalar:
            return self(e.inner)
        return self._refuse(e, "its derivative is no matrix")

    def _refuse(self, e: Expr, why: str) -> Jacobian:
        if self._constant(e):
            return None
        raise NotMatrix(f"{e.text()} depends on {self.x.name} and {why}")

    def _constant(self, e: Expr) -> bool:
        """Does nothing in e depend on x (through the lines too)?"""
        if isinstance(e, t.Name):
            return e != self.x and (e.name not in self.lines or self._constant(self.lines[e.name]))
        parts = [p for v in vars(e).values() for p in (v if isinstance(v, tuple) else (v,)) if isinstance(p, Expr)]
        return all(self._constant(p) for p in parts)

    def _name(self, e: t.Name) -> Jacobian:
        if e == self.x:
            self.c.rule("∂x/∂x = I")
            return m.Identity(e.size[0])
        if e.name not in self.lines:
            return None
        if e.name not in self.found:
            self.found[e.name] = self(self.lines[e.name])
        return self.found[e.name]

    def _add(self, *parts: Jacobian) -> Jacobian:
        kept = [p for p in parts if p is not None]
        return self.c.add(*kept) if kept else None

    def _spread(self, part: Jacobian, whole: Expr) -> Jacobian:
        """A number's row 1 x n, added to every entry of a column: 𝟏 times it."""
        if part is None or part.shape[0] == whole.shape[0]:
            return part
        return self.c.matmul(t.ones((int(whole.shape[0]), 1)), part)

    def _times(self, u: Expr, jacobian: Jacobian, whole: Expr) -> Jacobian:
        """∂(u ⊙ v)/∂x through v: diag(u) ∂v/∂x; u ∂v/∂x when u is a number or v a number (u vᵀ-like)."""
        if jacobian is None:
            return None
        if u.scalar:
            return self.c.hadamard(u, jacobian)
        if jacobian.shape[0] == 1 and whole.shape[0] > 1:
            return self.c.matmul(u, jacobian)
        return self.c.matmul(m.Diagonal(u), jacobian)

    def _product(self, a: Expr, b: Expr, whole: Expr) -> Jacobian:
        self._column(whole)
        found = self._add(self._times(b, self(a), whole), self._times(a, self(b), whole))
        if found is not None:
            self.c.rule("product rule: ∂(u ⊙ v)/∂x = diag(v) ∂u/∂x + diag(u) ∂v/∂x")
        return found

    def _through(self, slope: Expr, u: Expr, words: str) -> Jacobian:
        inner = self(u)
        if inner is None:
            return None
        self._column(u)
        self.c.rule(words)
        return self._times(slope, inner, u)

    def _function(self, e: t.Function) -> Jacobian:
        if e.name in ("softmax", "log_softmax"):
            return self._refuse(e, "its Jacobian diag(s) − s sᵀ has no rule here yet")
        if not e.derivative:
            return self._through(t.Function(e.name, e.arg, derivative=True), e.arg, "∂f(u)/∂x = diag(f′(u)) ∂u/∂x")
        if e.name not in _SECOND:
            return self._refuse(e, f"the derivative of {e.name}′ (a second derivative) has no rule here")
        return self._through(_SECOND[e.name](e.arg), e.arg, "∂f(u)/∂x = diag(f′(u)) ∂u/∂x")

    def _matmul(self, e: t.MatProduct) -> Jacobian:
        a, u = e.left, e.right
        self._column(e)
        terms: list[Jacobian] = []
        if not self._constant(a):
            if a.shape[0] != 1:
                return self._refuse(e, f"so does the matrix {a.text()}: ∂(Au)/∂x is no matrix product then")
            self.c.rule("∂(aᵀu)/∂x = uᵀ ∂a/∂x + aᵀ ∂u/∂x")
            left = self(self.c.transpose(a))
            terms.append(None if left is None else self.c.matmul(self.c.transpose(u), left))
        inner = self(u)
        if inner is not None:
            self.c.rule("∂(Au)/∂x = A ∂u/∂x")
            terms.append(self.c.matmul(a, inner))
        return self._add(*terms)

    def _total(self, e: t.Total) -> Jacobian:
        u = e.arg
        inner = self(u)
        if inner is None:
            return None
        self._column(u)
        n = int(u.shape[0] * u.shape[1])
        row: Expr = {"sum": lambda: t.ones((1, n)), "mean": lambda: self.c.scale(1 / n, t.ones((1, n))),
                     "norm": lambda: self.c.transpose(t.Quotient(u, e)),
                     "logsumexp": lambda: self.c.transpose(t.Function("softmax", u))}[e.kind]()
        self.c.rule(f"∂{e.kind}(u)/∂x = {row.text()} ∂u/∂x")
        return self.c.matmul(row, inner)

    def _column(self, e: Expr) -> None:
        """What is differentiated is a column or a number: the Jacobian of a matrix is no matrix."""
        if e.shape[1] != 1 and not self._constant(e):
            rows, cols = e.shape
            raise NotMatrix(f"{e.text()} ({rows} x {cols}) depends on {self.x.name}: the derivative of a matrix by "
                            "a vector is no matrix")


def _variable(network: Network, name: str, what: str) -> t.Name:
    rows, cols = network.shape_of(name)
    if cols != 1:
        raise OptionError(f"{what} by {name} ({rows} x {cols}) has no matrix form: by a matrix it is an array of "
                          "more than two indices; result.gradient() and the walkthrough give its numbers")
    return t.Name(name, (rows, cols))


def _lines(composer: _Composer, network: Network) -> dict[str, Expr]:
    return {line.name: composer.convert(line.root, line, top=True) for line in network.lines}


def jacobian_form(network: Network, name: str) -> Formula:
    """∂output/∂name for a vector (or number) output by a vector, in matrix form (numerator layout)."""
    output = network.outputs[0]
    if len(network.outputs) != 1 or network.shape_of(output)[1] != 1:
        raise OptionError("a closed form is of one output, a number or a column vector; this cell's outputs are "
                          f"{', '.join(network.outputs)}")
    x = _variable(network, name, "the Jacobian")
    try:
        composer = _Composer(network, assume=False)
        forward = _Forward(composer, x, _lines(composer, network))
        rows = network.shape_of(output)[0]
        found = forward(t.Name(output, network.shape_of(output))) or t.zeros((rows, x.size[0]))
    except (NotMatrix, NoRule) as why:
        raise OptionError(f"∂{output}/∂{name} in matrix form: {why}") from None
    return Formula(name, output, found, tuple(composer.steps), ())


class Hessian(Formula):
    """∂²L/∂x∂xᵀ: the Jacobian of the gradient, n x n."""

    def _side(self, form: str) -> str:
        out, by = (getattr(named(n), form) for n in (self.output, self.name))
        return rf"\frac{{\partial^{{2}} {out}}}{{\partial {by} \, \partial {by}^{{T}}}}" if form == "latex" else \
            f"∂²{out}/∂{by}∂{by}ᵀ"


def hessian_form(network: Network, name: str) -> Hessian:
    """The Hessian of the one number the cell computes by the vector `name`, in matrix form, where it is one."""
    output = network.outputs[0]
    if len(network.outputs) != 1 or network.shape_of(output) != (1, 1):
        raise OptionError("a Hessian in matrix form is of one number (a loss); this cell's outputs are "
                          f"{', '.join(network.outputs)}")
    x = _variable(network, name, "the Hessian")
    try:
        gradient = compose(network, (name,), assume=False)
        composer = _Composer(network, assume=False)
        hessian = _Forward(composer, x, _lines(composer, network))(gradient.of[name]) or t.zeros((x.size[0],) * 2)
    except (NotMatrix, NoRule) as why:
        raise OptionError(f"the Hessian by {name} in matrix form: {why}") from None
    return Hessian(name, output, hessian, gradient.steps + tuple(composer.steps), ())


def jacobian_source(network: Network, wrt: tuple[str, ...]) -> str:
    """A readable numpy function `jacobian(inputs...)`: the forward pass one line per stage, then each Jacobian
    (numerator layout: a row per output entry)."""
    composer = _Composer(network, assume=False)
    forms = {name: jacobian_form(network, name) for name in wrt}
    out = network.outputs[0]
    body = [f"    {name} = {expr.python()}" for name, expr in _lines(composer, network).items()]
    return function_source(network, f"jacobian({', '.join(network.inputs)})",
                           f"The Jacobian of {out} by {', '.join(wrt)}, in closed form.",
                           [*body, *(f"    d{out}_d{name} = {forms[name].tree.python()}" for name in wrt)],
                           {name: f"d{out}_d{name}" for name in wrt}, in_shape=False)
