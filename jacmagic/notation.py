"""How names and expressions are typeset, shared by the stages (each says how it is written) and the views:
sympy's LaTeX, Unicode art and one-line math, with the Heaviside step as H and array entries as W₁,₂ and (b₁)₂."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.pretty_symbology import pretty_symbol, pretty_use_unicode
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter

from jacmagic.quick_inline import quick_inline
from jacmagic.quick_latex import quick_latex

# An entry of a declared array: W_1,2 (row 1, column 2 of W), b1_2 (entry 2 of b1).
_ENTRY = re.compile(r"^(?P<base>.+?)_(?P<index>\d+(?:,\d+)?)$")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun, in the plural unless the count is one: 1 output, 0 outputs, 1,024 entries (`plural`
    where adding an s is wrong: "entry", "entries")."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def entry_of(symbol: sp.Symbol) -> tuple[sp.Symbol, str] | None:
    """The array and the index of an entry's symbol, where sympy's own printing would garble it (W_1,1 as is,
    b1_1 as b₁ ₁): an index with a comma, or an array whose name ends in a digit."""
    match = _ENTRY.match(symbol.name)
    if match is None or not ("," in match["index"] or match["base"][-1].isdigit()):
        return None
    return sp.Symbol(match["base"]), match["index"]


def _subscripted(array: sp.Symbol) -> bool:
    """b1 is shown b₁: its entries get brackets around it, (b₁)₂."""
    return array.name[-1].isdigit() or "_" in array.name


class _Latex(LatexPrinter):
    """sympy's LaTeX, except that the Heaviside step is not written as theta (a variable name here), and an
    array's entries are W_{1,2} and (b_{1})_{2}."""

    def _print_Heaviside(self, expr: Any, exp: str | None = None) -> str:
        head = r"\operatorname{H}" if exp is None else rf"\operatorname{{H}}^{{{exp}}}"
        return rf"{head}\left({self._print(expr.args[0])}\right)"

    def _split_super_sub(self, name: str) -> tuple[str, list[str], list[str]]:
        """sympy's, remembered per name (it sorts its table of modifiers for each part of each name): a display
        names every variable in its title and again in each entry's symbol, issue 27."""
        name, supers, subs = _split_name(name, self._settings["disable_split_super_sub"])
        return name, list(supers), list(subs)

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        entry = entry_of(expr)
        if entry is None:
            return super()._print_Symbol(expr, style)
        base = super()._print_Symbol(entry[0], style)
        return (rf"\left({base}\right)" if _subscripted(entry[0]) else base) + f"_{{{entry[1]}}}"


class _Pretty(PrettyPrinter):
    """sympy's Unicode art, with H for the Heaviside step and entries written W₁,₂ and (b₁)₂."""

    def _print_Heaviside(self, expr: Any) -> prettyForm:
        return self._print_Function(sp.Function("H")(expr.args[0]))

    def _print_Symbol(self, e: sp.Symbol, bold_name: bool = False) -> prettyForm:
        entry = entry_of(e)
        if entry is None:
            return prettyForm(_symbol_art(e.name, bold_name, pretty_use_unicode()))
        base = _symbol_art(entry[0].name, bold_name, pretty_use_unicode())
        index = entry[1].translate(_SUBSCRIPTS)
        return prettyForm((f"({base})" if _subscripted(entry[0]) else base) + index)


@lru_cache(maxsize=4096)
def _split_name(name: str, unsplit: bool) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """`LatexPrinter._split_super_sub` of a symbol's name under its `disable_split_super_sub` setting."""
    split = LatexPrinter({"disable_split_super_sub": unsplit})._split_super_sub(name)
    return split[0], tuple(split[1]), tuple(split[2])


@lru_cache(maxsize=4096)
def _symbol_art(name: str, bold: bool, unicode: bool) -> str:
    """`PrettyPrinter`'s symbol (`pretty_symbol`), remembered per name, the Unicode switch and boldness (it sorts its
    table of modifiers for each part of each name); `unicode`: the switch it reads, as it stands."""
    return pretty_symbol(name, bold)


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class _Inline(StrPrinter):
    """One line of math as people write it, for text and HTML: x₁, θ, x², tanh²(n), √x, a·b, H(z), σ(z), |x|;
    never Python's ** or Heaviside(...)."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return pretty(expr)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.as_base_exp()
        if exponent == sp.S.Half:
            return "√" + self.parenthesize(base, PRECEDENCE["Atom"])
        if exponent.is_Integer and exponent > 0:
            power = str(exponent).translate(_SUPERSCRIPTS)
            if isinstance(base, sp.Function) and len(base.args) == 1:  # tanh²(n), as written by hand
                head = self._print(base)
                name, _, rest = head.partition("(")
                return f"{name}{power}({rest}" if rest else head + power
            return self.parenthesize(base, PRECEDENCE["Pow"], strict=True) + power
        if exponent == -1:
            return "1/" + self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        return self.parenthesize(base, PRECEDENCE["Pow"], strict=True) + "^" + self.parenthesize(
            exponent, PRECEDENCE["Atom"])

    def _print_Mul(self, expr: sp.Mul) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Heaviside(self, expr: sp.Basic) -> str:
        return f"H({self._print(expr.args[0])})"

    def _print_Abs(self, expr: sp.Basic) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_Function(self, expr: sp.Function) -> str:
        name = getattr(expr, "text_name", "") or expr.func.__name__
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        """{x if x > 0; 0.01·x otherwise}, as a textbook's cases."""
        parts = [f"{self._print(value)} otherwise" if condition == sp.true else
                 f"{self._print(value)} if {self._print(condition)}" for value, condition in expr.args]
        return "{" + "; ".join(parts) + "}"

    def _print_Relational(self, expr: sp.Basic) -> str:
        op = {">=": "≥", "<=": "≤", "!=": "≠", "==": "="}.get(expr.rel_op, expr.rel_op)  # type: ignore[attr-defined]
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"  # type: ignore[attr-defined]


def _remembered(show: Callable[[Any], str]) -> Callable[[Any], str]:
    """`show` printing each sympy expression once: a display asks for the same entry's LaTeX or text several times
    (the width fitting, each line break, the window, the notes), and sympy's printers cost about a millisecond an
    entry (issue 27). sympy's equality is structural (2 and 2.0, 1.0 at two precisions differ), so an equal
    expression prints the same; anything else (a Python number, a mutable matrix) is printed each time."""
    remembered = lru_cache(maxsize=4096)(show)

    @wraps(show)
    def shown(expr: Any) -> str:
        return remembered(expr) if isinstance(expr, sp.Basic) else show(expr)
    return shown


@_remembered
def inline(expr: sp.Basic) -> str:
    """`_Inline`: an expression on one line, in Unicode math; the plainest forms written directly, the same."""
    return quick_inline(expr, pretty) or _Inline().doprint(expr)


def signed(text: str) -> str:
    """One line of math with the minus sign (U+2212) the walkthrough's array operations write (x − 2, −x, −1),
    where sympy's printers put a hyphen."""
    return text.replace("-", "−")


@lru_cache(maxsize=4096)
def _symbol_latex(symbol: sp.Symbol) -> str:
    return _Latex({"mat_delim": "["})._print(symbol)


@_remembered
def latex(expr: sp.Basic) -> str:
    """`_Latex`'s LaTeX; the plainest forms (sums of products of symbols and sines) written directly, the same."""
    return quick_latex(expr, _symbol_latex) or _Latex({"mat_delim": "["}).doprint(expr)


class _Verbatim(_Pretty):
    """Each symbol's name as it is: the cells of `framed`, already typeset."""

    def _print_Symbol(self, e: sp.Symbol, bold_name: bool = False) -> prettyForm:
        return prettyForm(e.name)


def _art(printer: type[_Pretty], expr: sp.Basic) -> str:
    """Unicode art whatever sympy decided on its first print (its glyphs follow a global switch, set off when that
    print went to a stream without an encoding, such as a captured cell's)."""
    before = pretty_use_unicode(True)
    try:
        return printer({"use_unicode": True, "wrap_line": False}).doprint(expr)
    finally:
        pretty_use_unicode(before)


@_remembered
def pretty(expr: sp.Basic) -> str:
    """`_Pretty`'s Unicode art."""
    return _art(_Pretty, expr)


def framed(cells: list[list[str]]) -> str:
    """Rows of typeset text (∂f₁/∂x) framed as a matrix, as sympy's Unicode art frames the Jacobian's entries
    (⎡ ⎤ over several rows, [ ] on one), aligned the same."""
    return _art(_Verbatim, sp.Matrix([[sp.Symbol(cell) for cell in row] for row in cells]))
