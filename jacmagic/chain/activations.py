"""The ML activations sympy lacks, and the sympy functions jacmagic adjusts (Abs, sign, the real cube root).

The activations are sympy Functions with their own derivative, typesetting and numpy code, so that they stay
readable (sigma, ReLU, softplus) instead of being expanded into exponentials. Which name calls which is the
function table's (`chain.functions`). `stable` rewrites sums of exponentials for numeric code.
"""

from __future__ import annotations

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
