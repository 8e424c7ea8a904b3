"""The functions a formula may call, and the ML activations sympy lacks.

The activations are sympy Functions with their own derivative, typesetting and numpy code, so that they stay
readable (sigma, ReLU, softplus) instead of being expanded into exponentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp
from sympy.core.logic import fuzzy_and


class _Activation(sp.Function):
    """An element-wise activation: one argument, a name for LaTeX and for text, numpy code for lambdify."""

    nargs = 1
    latex_name = ""
    text_name = ""

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        head = self.latex_name if exp is None else f"{self.latex_name}^{{{exp}}}"
        return rf"{head}\left({printer._print(self.args[0])}\right)"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name=self.text_name)

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[0].is_extended_real


class sigmoid(_Activation):  # noqa: N801 - the name users type
    """The logistic function 1 / (1 + e^-z); its derivative is sigma (1 - sigma)."""

    latex_name = r"\sigma"
    text_name = "σ"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_zero:
            return sp.Rational(1, 2)
        return None

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-z))

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_exp(self.args[0])._eval_evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        z = printer._print(self.args[0])
        # 1/(1+exp(-z)) overflows harmlessly to 0 for very negative z; numpy's warning is silenced by the caller.
        # The outer brackets keep it one operand wherever it stands (2*x/sigmoid(y), 2**sigmoid(3)).
        return f"(1/(1 + numpy.exp(-({z}))))"


class relu(_Activation):  # noqa: N801
    """max(0, z); its derivative is the Heaviside step, taken as 0 at z = 0 as the ML frameworks do."""

    latex_name = r"\operatorname{ReLU}"
    text_name = "ReLU"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Heaviside(self.args[0], 0)

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_number and z.is_extended_real:
            return sp.Max(0, z)
        return None

    def _eval_rewrite_as_Max(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(0, z)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"numpy.maximum(0, {printer._print(self.args[0])})"


class softplus(_Activation):  # noqa: N801
    """log(1 + e^z), the smooth ReLU; its derivative is sigmoid(z)."""

    latex_name = r"\operatorname{softplus}"
    text_name = "softplus"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_zero:
            return sp.log(2)
        return None

    def _eval_rewrite_as_log(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(z))

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_log(self.args[0])._eval_evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"numpy.logaddexp(0, {printer._print(self.args[0])})"


class _Written(sp.Function):
    """A function whose value is a formula sympy knows (`written`): numbers, numpy and mpmath code come from that
    formula, so every evaluator computes it by its own definition."""

    def written(self) -> sp.Expr:
        raise NotImplementedError

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.written()._eval_evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"({printer._print(self.written())})"

    def _mpmathcode(self, printer: Any) -> str:
        return f"({printer._print(self.written())})"


class gelu(_Written, _Activation):  # noqa: N801
    """z Φ(z) = z (1 + erf(z/√2)) / 2, exactly (not the tanh approximation); its derivative is Φ(z) + z φ(z)."""

    latex_name = r"\operatorname{GELU}"
    text_name = "GELU"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        z = self.args[0]
        return (1 + sp.erf(z / sp.sqrt(2))) / 2 + z * sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        return sp.S.Zero if z.is_zero else None

    def written(self) -> sp.Expr:
        z = self.args[0]
        return z * (1 + sp.erf(z / sp.sqrt(2))) / 2


class leaky_relu(_Written):  # noqa: N801
    """z above 0, a z below (a = 0.01 unless given); its derivative is a for z <= 0 and 1 above: the kink at 0
    takes the left side, as ReLU's H(0) = 0 does."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        z, a = self.args
        if argindex == 1:
            return a + (1 - a) * sp.Heaviside(z, 0)
        return -relu(-z)

    @classmethod
    def eval(cls, z: sp.Expr, a: sp.Expr) -> sp.Expr | None:
        if z.is_number and z.is_extended_real and a.is_number:
            return sp.Max(z, 0) + a * sp.Min(z, 0)
        return None

    def written(self) -> sp.Expr:
        z, a = self.args
        return relu(z) - a * relu(-z)

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        head = r"\operatorname{leaky\_ReLU}" + ("" if exp is None else f"^{{{exp}}}")
        return rf"{head}\left({printer._print(self.args[0])}, {printer._print(self.args[1])}\right)"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name="leaky_ReLU")


LEAKY_SLOPE = 0.01  # leaky_relu's slope below 0 when called with one argument, as the ML frameworks


class cbrt(_Activation):  # noqa: N801
    """The real cube root, defined for negative numbers too (cbrt(-8) = -2), as numpy's cbrt; sympy's cbrt is
    the principal complex root, which is not real for negative numbers."""

    latex_name = ""
    text_name = "cbrt"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (3 * cbrt(self.args[0]) ** 2)

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_number and z.is_extended_real:
            return sp.real_root(z, 3)
        return None

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        root = rf"\sqrt[3]{{{printer._print(self.args[0])}}}"
        return root if exp is None else rf"\left({root}\right)^{{{exp}}}"

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.real_root(self.args[0], 3)._eval_evalf(prec)

    def _numpycode(self, printer: Any) -> str:
        return f"numpy.cbrt({printer._print(self.args[0])})"


class Abs(sp.Abs):
    """|z| of a real-valued expression: its derivative is sign(z) z' wherever z is real (sympy's own needs to
    know that z is real, and otherwise leaves re/im derivatives that cannot be evaluated)."""

    def _eval_derivative(self, x: sp.Symbol) -> sp.Expr:
        return sign(self.args[0]) * sp.diff(self.args[0], x)


class sign(sp.sign):  # noqa: N801
    """The sign of a real-valued expression: its derivative is 0 away from 0, undefined at 0 (a Dirac delta)."""

    def _eval_derivative(self, x: sp.Symbol) -> sp.Expr:
        return 2 * sp.DiracDelta(self.args[0]) * sp.diff(self.args[0], x)


class LogSumExp(sp.Function):
    """log(exp(a) + exp(b) + ...) of real arguments, computed max-shifted (numpy's logaddexp, pairwise): it
    overflows only where its own value does, not where the exponentials do."""

    def _eval_is_extended_real(self) -> bool | None:
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _numpycode(self, printer: Any) -> str:
        printed = printer._print(self.args[0])
        for argument in self.args[1:]:
            printed = f"numpy.logaddexp({printed}, {printer._print(argument)})"
        return printed


def stable(expression: sp.Expr) -> sp.Expr:
    """The same value for numeric code, with every sum of exponentials S (softmax, logsumexp, their derivatives)
    written exp(logsumexp): sympy folds exp(x)/S**2 into exp(x - 2 logsumexp) and log(S) into logsumexp, which
    stay in range at z = 1000 where exp(z) and S overflow. Nothing else changes."""
    sums = [term for term in expression.atoms(sp.Add)
            if len(term.args) > 1 and all(isinstance(t, sp.exp) for t in term.args)]
    if not sums:
        return expression
    shifted = expression.xreplace({term: sp.exp(LogSumExp(*(t.args[0] for t in term.args))) for term in sums})
    return shifted.replace(lambda e: e.is_Mul and sum(isinstance(a, sp.exp) for a in e.args) > 1, _one_exp)


def _one_exp(product: sp.Mul) -> sp.Expr:
    """exp(a) * exp(b) * c -> exp(a + b) * c: one exponential, whose argument stays in range."""
    exponents = [a.args[0] for a in product.args if isinstance(a, sp.exp)]
    return sp.Mul(*(a for a in product.args if not isinstance(a, sp.exp)), sp.exp(sp.Add(*exponents)))


def _entries(value: Any) -> list[Any]:
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


def _sum(value: Any) -> sp.Expr:
    """The sum of a matrix's entries (a number stays itself)."""
    return sp.Add(*_entries(value))


def _mean(value: Any) -> sp.Expr:
    entries = _entries(value)
    return sp.Add(*entries) / len(entries)


def _transpose(value: Any) -> Any:
    return value.T if isinstance(value, sp.MatrixBase) else value


def _same_shape(value: Any, entries: list[Any]) -> Any:
    return sp.ImmutableMatrix(value.rows, value.cols, entries) if isinstance(value, sp.MatrixBase) else entries[0]


def _logsumexp(value: Any) -> sp.Expr:
    """log(sum(exp(z))), the smooth maximum; its gradient is softmax(z)."""
    return sp.log(sp.Add(*(sp.exp(e) for e in _entries(value))))


def _softmax(value: Any) -> Any:
    """exp(z_i) / sum_j exp(z_j), in the shape of z; its Jacobian is diag(s) - s s^T."""
    entries = _entries(value)
    total = sp.Add(*(sp.exp(e) for e in entries))
    return _same_shape(value, [sp.exp(e) / total for e in entries])


def _log_softmax(value: Any) -> Any:
    """z_i - logsumexp(z), in the shape of z; its Jacobian is I - 1 s^T."""
    lse = _logsumexp(value)
    return _same_shape(value, [e - lse for e in _entries(value)])


def _norm(value: Any) -> sp.Expr:
    """The Euclidean norm of all entries (the Frobenius norm of a matrix); its gradient is x / |x|."""
    return sp.sqrt(sp.Add(*(e**2 for e in _entries(value))))


def _square(name: str, value: Any) -> sp.MatrixBase:
    """A square matrix (a number as 1 x 1) for tr, det, logdet and inv; another shape is the user's mistake."""
    from jacmagic.errors import CellError

    matrix = value if isinstance(value, sp.MatrixBase) else sp.ImmutableMatrix([[value]])
    if matrix.rows != matrix.cols:
        raise CellError(f"{name}(X) needs a square matrix, got {matrix.rows} x {matrix.cols}")
    return matrix


def _det(value: Any) -> sp.Expr:
    """det(X); up to 4 x 4 as the sum over permutations written out, unsimplified: sympy's own det cancels
    rational entries (of an inverse) for seconds."""
    matrix = _square("det", value)
    n = matrix.rows
    if n > 4:
        return matrix.det()
    from itertools import permutations

    from sympy.combinatorics import Permutation

    return sp.Add(*(Permutation(list(p)).signature() * sp.Mul(*(matrix[i, p[i]] for i in range(n)))
                    for p in permutations(range(n))))


def _dot(left: Any, right: Any) -> sp.Expr:
    """The sum of the products of matching entries (the caller checks that the shapes match)."""
    return sp.Add(*(a * b for a, b in zip(_entries(left), _entries(right))))


def _where(condition: sp.Basic, then: sp.Expr, otherwise: sp.Expr) -> sp.Expr:
    return sp.Piecewise((then, condition), (otherwise, True))


def _matched(what: str, left: Any, right: Any) -> tuple[list[Any], list[Any]]:
    """Two arrays' entries, refused unless they have one shape."""
    shapes = [v.shape if isinstance(v, sp.MatrixBase) else (1, 1) for v in (left, right)]
    if shapes[0] != shapes[1]:
        from jacmagic.errors import CellError

        raise CellError(f"{what} needs two arrays of one shape, got {' and '.join(f'{r} x {c}' for r, c in shapes)}")
    return _entries(left), _entries(right)


def _cross_entropy(z: Any, y: Any) -> sp.Expr:
    """-sum(y * log_softmax(z)) of logits z: logsumexp(z) - yᵀz for one-hot or probability y; its gradient by
    z is softmax(z) - y (times sum(y)), by y -log_softmax(z)."""
    logits, targets = _matched("cross_entropy(z, y)", z, y)
    lse = _logsumexp(z)
    return sp.Add(*(t * (lse - e) for e, t in zip(logits, targets)))


def _mse(a: Any, b: Any) -> sp.Expr:
    """The mean of the squared differences of matching entries; its gradient by a is 2 (a - b) / n."""
    left, right = _matched("mse(a, b)", a, b)
    return sp.Add(*((p - q) ** 2 for p, q in zip(left, right))) / len(left)


# name -> (sympy constructor, allowed argument counts; None means two or more)
KNOWN_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...] | None]] = {
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tan": (sp.tan, (1,)),
    "sec": (sp.sec, (1,)),
    "csc": (sp.csc, (1,)),
    "cot": (sp.cot, (1,)),
    "asin": (sp.asin, (1,)),
    "acos": (sp.acos, (1,)),
    "atan": (sp.atan, (1,)),
    "arcsin": (sp.asin, (1,)),
    "arccos": (sp.acos, (1,)),
    "arctan": (sp.atan, (1,)),
    "atan2": (sp.atan2, (2,)),
    "arctan2": (sp.atan2, (2,)),
    "sinh": (sp.sinh, (1,)),
    "cosh": (sp.cosh, (1,)),
    "tanh": (sp.tanh, (1,)),
    "asinh": (sp.asinh, (1,)),
    "acosh": (sp.acosh, (1,)),
    "atanh": (sp.atanh, (1,)),
    "arcsinh": (sp.asinh, (1,)),
    "arccosh": (sp.acosh, (1,)),
    "arctanh": (sp.atanh, (1,)),
    "exp": (sp.exp, (1,)),
    "log": (sp.log, (1, 2)),
    "ln": (sp.log, (1,)),
    "log2": (lambda z: sp.log(z, 2), (1,)),
    "log10": (lambda z: sp.log(z, 10), (1,)),
    "sqrt": (sp.sqrt, (1,)),
    "cbrt": (cbrt, (1,)),
    "abs": (Abs, (1,)),
    "Abs": (Abs, (1,)),
    "sign": (sign, (1,)),
    "erf": (sp.erf, (1,)),
    "hypot": (lambda a, b: sp.sqrt(a**2 + b**2), (2,)),
    "min": (sp.Min, None),
    "max": (sp.Max, None),
    "heaviside": (lambda z: sp.Heaviside(z, 0), (1,)),
    "step": (lambda z: sp.Heaviside(z, 0), (1,)),
    "sigmoid": (sigmoid, (1,)),
    "relu": (relu, (1,)),
    "softplus": (softplus, (1,)),
    "gelu": (gelu, (1,)),
    "leaky_relu": (lambda z, a=LEAKY_SLOPE: leaky_relu(z, sp.sympify(a)), (1, 2)),
    "cross_entropy": (_cross_entropy, (2,)),
    "mse": (_mse, (2,)),
    "where": (_where, (3,)),
    "sum": (_sum, (1,)),
    "mean": (_mean, (1,)),
    "transpose": (_transpose, (1,)),
    "softmax": (_softmax, (1,)),
    "log_softmax": (_log_softmax, (1,)),
    "logsumexp": (_logsumexp, (1,)),
    "norm": (_norm, (1,)),
    "dot": (_dot, (2,)),
    "tr": (lambda x: _square("tr", x).trace(), (1,)),
    "det": (_det, (1,)),
    "logdet": (lambda x: sp.log(_det(_square("logdet", x))), (1,)),
    "inv": (lambda x: sp.ImmutableMatrix(_square("inv", x).adjugate() / _det(x)), (1,)),
}
# Functions of a whole vector or matrix (the rest apply entry by entry); max and min of one argument too.
WHOLE_ARRAY = frozenset({"sum", "mean", "transpose", "softmax", "log_softmax", "logsumexp", "norm", "dot",
                         "cross_entropy", "mse", "tr", "det", "logdet", "inv"})

KNOWN_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
