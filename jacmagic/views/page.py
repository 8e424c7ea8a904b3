"""Fitting formulas to the page: how wide a line of LaTeX typesets, and a long expression broken into lines.

MathJax 3 (and MathML) have no automatic line breaking, so a formula wider than the output area scrolls or is cut.
The width is estimated from the LaTeX the way a typesetter lays it out (glyph widths in em, scripts at 71 %, a
fraction as wide as its wider part, a matrix as its columns side by side, operator spacing), not from its length:
`\\left(` is six characters and one narrow glyph. Calibrated in JupyterLab 4 (MathJax 3) on wide formulas of every
kind (a matrix window, a long product, a row of numbers, a point, words): one estimated em typeset as 17 to 19.5 px,
words 0.43 em a character. The page is the narrowest output area in common use, about 550 px: JupyterLab at 1000 px
with its file browser open (its default layout) gives 560. tests/test_clipping.py checks every demo there, at 820 and
at 1400 px, in JupyterLab and Notebook 7.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

# The widest line, in estimated em: 28 x 19.5 px = 546 px, inside the 560 px output area of a 1000 px JupyterLab
# window with its file browser open (the default layout; closed, 820 px; Notebook 7's, 898 px).
MAX_EMS = 28.0
# A character of text (a name in \operatorname or \text), in estimated em.
CHARACTER_EMS = 0.43

# A token and the spaces before it, which the width walk skips (a control space `\ ` is a token).
_TOKENS = re.compile(r"\s*(\\[A-Za-z]+|\\.|[{}^_&]|\S)", re.S)
_WIDE = {"w": 0.72, "W": 1.05, "m": 0.88, "M": 1.05, "N": 0.9, "H": 0.9, "K": 0.9}
_OPERATORS = {"+": 1.22, "-": 1.22, "=": 1.33, "<": 1.33, ">": 1.33, ",": 0.45, r"\cdot": 0.72, r"\times": 1.22,
              r"\otimes": 1.22, r"\odot": 1.22, r"\approx": 1.33, r"\ne": 1.33, r"\le": 1.33, r"\ge": 1.33}
_SPACES = {r"\,": 0.17, r"\;": 0.28, r"\:": 0.22, r"\!": -0.17, r"\ ": 0.25, r"\quad": 1.0, r"\qquad": 2.0}
_SILENT = {r"\left", r"\right", r"\displaystyle", r"\big", r"\Big", r"\bigg", r"\limits", r"\nolimits", "&"}
_WORDS = {r"\text", r"\mathrm", r"\operatorname", r"\mathbf"}
_ACCENTS = {r"\dot", r"\hat", r"\bar", r"\tilde", r"\vec", r"\phantom", r"\underbrace", r"\overbrace"}
_NAMES = {"sin", "cos", "tan", "tanh", "sinh", "cosh", "log", "exp", "max", "min", "det", "arg", "ln"}
_SCRIPT = 0.71


class _Reader:
    """A left-to-right walk over LaTeX tokens that adds up widths. Spaces are dropped as the LaTeX is cut into
    tokens (skipping them token by token was a third of a display's measuring, issue 27); a braced argument's text,
    spaces and all, is cut from the LaTeX by the tokens' offsets, found when first needed."""

    def __init__(self, latex: str) -> None:
        self.latex = latex
        self.tokens = _TOKENS.findall(latex)
        self.at = 0
        self._spans: list[tuple[int, int]] | None = None
        self.unclosed = False  # a \text{... ran to the end of the LaTeX

    def _take(self) -> str | None:
        at = self.at
        self.at += 1
        return self.tokens[at] if at < len(self.tokens) else None

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _argument(self) -> float:
        part = self._take()
        if part == "{":
            return self.run("}")
        width = _FIXED.get(part) if part is not None else None
        return width if width is not None else self._atom(part)

    def _raw(self) -> str:
        """A braced argument's text, unmeasured (a \\text{...}, an environment's name), its spaces kept."""
        if self._peek() != "{":
            return self._take() or ""
        if self._spans is None:
            self._spans = [m.span(1) for m in _TOKENS.finditer(self.latex)]
        opened, depth = self._spans[self.at][1], 0
        while self.at < len(self.tokens):
            part = self.tokens[self.at]
            self.at += 1
            depth += (part == "{") - (part == "}")
            if depth == 0:
                return self.latex[opened:self._spans[self.at - 1][0]]
        # unclosed: all but the last token, which is the spaces after the last one if any
        self.unclosed = True
        end = self._spans[-1][1]
        return self.latex[opened:end if end < len(self.latex) else self._spans[-1][0]]

    def _atom(self, part: str | None) -> float:
        if part is None:
            return 0.0
        width = _FIXED.get(part)
        if width is not None:
            return width
        if part in (r"\frac", r"\tfrac", r"\dfrac"):
            return max(self._argument(), self._argument()) + 0.3
        if part in _WORDS:
            return CHARACTER_EMS * len(self._raw()) + 0.3 * (part == r"\operatorname")
        if part == r"\sqrt":
            return self._argument() + 0.9
        if part in _ACCENTS:
            return self._argument()
        if part == r"\begin":
            self._raw()
            return self._matrix()
        if part == "{":
            return self.run("}")
        width = _fixed_width(part)
        if part not in ("^", "_"):  # a script read as an argument (x^^) is measured as a glyph, not remembered
            _FIXED[part] = width
        return width

    def _matrix(self) -> float:
        """Columns side by side, each as wide as its widest entry, a quad apart."""
        rows: list[list[float]] = [[0.0]]
        while (part := self._take()) is not None:
            if part == r"\end":
                self._raw()
                break
            if part == "&":
                rows[-1].append(0.0)
            elif part == r"\\":
                rows.append([0.0])
            else:
                rows[-1][-1] += self._scripted(part)
        return _columns_width(rows)

    def _scripted(self, part: str) -> float:
        if part not in ("^", "_"):
            return self._atom(part)
        width = _SCRIPT * self._argument()
        if self._peek() in ("^", "_") and self._peek() != part:  # x_{i}^{2}: stacked, the wider counts
            self._take()
            width = max(width, _SCRIPT * self._argument())
        return width

    def run(self, until: str | None = None) -> float:
        """The widths of the tokens up to `until` added up, as `_scripted` gives them: a glyph's or a name's looked
        up and a group's read here, without a call a token (most of a display's measuring, issue 27)."""
        total = 0.0
        tokens, fixed, count = self.tokens, _FIXED, len(self.tokens)
        while True:
            at = self.at
            self.at = at + 1
            if at >= count:
                return total
            part = tokens[at]
            if part == until:
                return total
            width = fixed.get(part)
            if width is None:
                width = self.run("}") if part == "{" else self._scripted(part)
            total += width

    def measure(self) -> _Measure:
        """The widths that `run` adds up at the top level, and whether every group and argument closed: then the
        walk took the end of the tokens once, at the top level."""
        items = []
        stray = False  # a } that closes nothing: it would close a group the LaTeX is put in
        tokens, fixed, count = self.tokens, _FIXED, len(self.tokens)
        while self.at < count:
            part = tokens[self.at]
            self.at += 1
            width = fixed.get(part)
            if width is None:
                width = self.run("}") if part == "{" else self._scripted(part)
            stray = stray or part == "}"
            items.append(width)
        self.at += 1  # the end, taken once
        closed = self.at == len(self.tokens) + 1 and not self.unclosed and not stray
        return _Measure(tuple(items), closed, self.latex[:1], self.tokens[0] if self.tokens else "",
                        self.tokens[-1] if self.tokens else "", self.latex[-1:])


def _columns_width(rows: Sequence[Sequence[float]]) -> float:
    """A matrix's width from its cells': columns side by side, each as wide as its widest cell, a quad apart."""
    columns = max(len(row) for row in rows)
    widths = [max(row[j] for row in rows if j < len(row)) for j in range(columns)]
    return sum(widths) + (columns - 1) + 0.4


def _fixed_width(part: str) -> float:
    """The width of a token that takes no argument: a glyph, an operator, a space, a name."""
    if part in _SILENT:
        return 0.0
    if part in _SPACES:
        return _SPACES[part]
    if part in _OPERATORS:
        return _OPERATORS[part]
    if part.startswith("\\"):
        return 0.5 * len(part) + 0.17 if part[1:] in _NAMES else 0.6  # \tanh; a Greek letter, \partial
    return 0.5 if part.isdigit() else 0.28 if part == "." else 0.39 if part in "()[]|" else _WIDE.get(part, 0.55)


# The widths of the tokens that take no argument, as they are met: a token's width is looked up, not worked out
# again (a display measures thousands of tokens, issue 27). Tokens are single characters and command names; never
# a script mark, which `run` and `measure` look their tokens up here before reading them as one.
_FIXED: dict[str, float] = {}


@dataclass(frozen=True)
class _Measure:
    """A piece of LaTeX measured alone: the widths its top-level tokens add up to, whether all its groups and
    arguments close (and it closes none it does not open), its first character, its first and last tokens and its
    last character."""

    items: tuple[float, ...]
    closed: bool
    head: str
    first: str
    last: str
    tail: str


# Each piece of LaTeX measured once (a display measures an entry for the matrix, its line breaks and its block, issue
# 27), the oldest forgotten first past _REMEMBERED; `matrix` puts a matrix in, measured from its cells.
_MEASURES: dict[str, _Measure] = {}
_REMEMBERED = 4096


def _remember(latex: str, measure: _Measure) -> _Measure:
    if len(_MEASURES) >= _REMEMBERED:
        del _MEASURES[next(iter(_MEASURES))]
    _MEASURES[latex] = measure
    return measure


def _measured(latex: str) -> _Measure:
    known = _MEASURES.get(latex)
    if known is not None:
        return known
    bare = latex.rstrip()
    # spaces after LaTeX that closes are no token, unless a backslash before them makes one (a control space)
    if bare and bare != latex and bare in _MEASURES and _MEASURES[bare].closed and not bare.endswith("\\"):
        known = _MEASURES[bare]
        return _remember(latex, _Measure(known.items, True, known.head, known.first, known.last, latex[-1]))
    return _remember(latex, _Reader(latex).measure())


# What no cell of a matrix measured alone may hold: a column or row break, or an environment's end.
_CELL_BREAKS = ("&", r"\\", r"\end")


def matrix(cells: Sequence[Sequence[str]]) -> str:
    r"""`\left[\begin{matrix} ... \end{matrix}\right]` of the rows of `cells`, its width worked out from the
    cells' (each measured once: the entry rows and the width decisions measure them again) as the walk of the
    whole would add it up, where every cell closes its groups and holds no break."""
    latex = r"\left[\begin{matrix}" + r" \\ ".join(" & ".join(row) for row in cells) + r"\end{matrix}\right]"
    if latex in _MEASURES:
        return latex
    measures = [[_measured(cell) for cell in row] for row in cells]
    if all(m.closed and m.items and not any(b in c for b in _CELL_BREAKS) for row, ms in zip(cells, measures)
           for c, m in zip(row, ms)):
        body = _columns_width([[_added(m.items) for m in row] for row in measures])
        bracket = _fixed_width("[")
        _remember(latex, _Measure((0.0, bracket, body, 0.0, _fixed_width("]")), True, "\\", r"\left", "]", "]"))
    return latex


def fraction(numerator: Sequence[str], denominator: Sequence[str]) -> str:
    r"""`\frac{...}{...}` of the parts of its numerator and denominator, each written one after the other, its width
    worked out from the parts' (each measured once: a display's title and every entry's symbol name the same
    variables, issue 27) as the walk of the whole would add it up, where each side's parts join cleanly."""
    latex = r"\frac{" + "".join(numerator) + "}{" + "".join(denominator) + "}"
    if latex not in _MEASURES:
        top, bottom = _summed(numerator, closing=True), _summed(denominator, closing=True)
        if top is not None and bottom is not None:
            _remember(latex, _Measure((max(top, bottom) + 0.3,), True, "\\", r"\frac", "}", "}"))
    return latex


def _summed(parts: Iterable[str], closing: bool = False) -> float | None:
    """The top-level widths of `parts`, written one after the other, added up in the order the walk of the joined
    LaTeX adds them, where they join cleanly (`closing`: and each closes what it opens and the last leaves the
    group's closing brace a brace, as a group's content must); else None."""
    total, previous = 0.0, None
    for part in parts:
        if not part:
            continue
        piece = _measured(part)
        if previous is not None and not _joins(previous, piece) or closing and not piece.closed:
            return None
        for item in piece.items:
            total += item
        previous = piece
    return None if closing and previous is not None and previous.last == "\\" else total


def _added(items: Sequence[float]) -> float:
    """Widths added up in order, as the walk adds them."""
    total = 0.0
    for item in items:
        total += item
    return total


def _joins(left: _Measure, right: _Measure) -> bool:
    """Whether `right` written after `left` is read as the two are alone: `left` leaves no group or argument open,
    no command name runs on into `right`'s letters (\\cdot x, not \\cdotx), and `right` puts no script on
    `left`'s last token."""
    return (left.closed and right.first not in ("^", "_") and left.last != "\\"
            and not (left.last[:1] == "\\" and left.last[1:].isalpha() and not left.tail.isspace()
                     and right.head.isalpha()))


def width(*parts: str) -> float:
    """How wide `parts`, written one after the other, typeset, in estimated em. Each part is measured once
    (remembered: a display measures an entry for the matrix, its line breaks and its block, issue 27); where they
    join cleanly, their top-level widths are added in the order the walk of the joined LaTeX adds them, which
    gives its width exactly, so a line made of measured parts is not walked again (nor a right side `= ...`, whose
    `= ` and formula are measured apart)."""
    total = _summed(cut for part in parts for cut in (("= ", part[2:]) if part.startswith("= ") else (part,)))
    return total if total is not None else _added(_measured("".join(parts)).items)


def fits(*parts: str) -> bool:
    """Whether `parts`, written one after the other, fit a line of the page."""
    return width(*parts) <= MAX_EMS


@dataclass(frozen=True)
class _Piece:
    """A part of an expression that may begin a line: `latex` after what precedes it on the same line, `opening`
    in front of it when it begins a line instead (a product continued on the next line shows its \\cdot)."""

    latex: str
    opening: str = ""


def _pieces(expression: sp.Expr, show: Callable[[sp.Basic], str], room: float) -> list[_Piece]:
    """`expression` cut between the terms of a sum and, where a term is wider than `room`, between its factors (a
    parenthesized sum among them cut again, its parentheses closed and reopened invisibly)."""
    if isinstance(expression, sp.Add):
        pieces: list[_Piece] = []
        for k, term in enumerate(expression.as_ordered_terms()):
            parts = _pieces(term, show, room) if width(show(term)) > room else [_Piece(show(term))]
            if k and not parts[0].latex.startswith("-"):
                parts[0] = _Piece("+ " + parts[0].latex, parts[0].opening)
            pieces += parts
        return pieces
    if isinstance(expression, sp.Mul) and width(show(expression)) > room:
        coefficient, rest = expression.as_coeff_Mul()
        sign = "- " if coefficient < 0 else ""
        factors = ([] if abs(coefficient) == 1 else [abs(coefficient)]) + list(rest.as_ordered_factors())
        pieces = []
        for k, factor in enumerate(factors):
            parts = _parenthesized(factor, show, room) if isinstance(factor, sp.Add) else [_Piece(show(factor))]
            pieces += [_Piece(parts[0].latex, r"\cdot " if k else ""), *parts[1:]]
        return [_Piece(sign + pieces[0].latex), *pieces[1:]]
    return [_Piece(show(expression))]


def _parenthesized(factor: sp.Add, show: Callable[[sp.Basic], str], room: float) -> list[_Piece]:
    inner = _pieces(factor, show, room) if width(show(factor)) + 1 > room else [_Piece(show(factor))]
    if len(inner) == 1:
        return [_Piece(rf"\left({inner[0].latex}\right)")]
    last = len(inner) - 1
    return [_Piece((r"\left(" if k == 0 else r"\left.") + p.latex + (r"\right)" if k == last else r"\right."),
                   p.opening) for k, p in enumerate(inner)]


def broken(lhs: str, expression: sp.Expr, show: Callable[[sp.Basic], str], whole: str | None = None) -> list[str]:
    """`lhs &= expression` as aligned rows no wider than the page where the expression can be cut: the first
    `lhs &= ...`, the rest `&\\quad ...`. `whole` is show(expression) when the caller has it already."""
    whole = show(expression) if whole is None else whole
    if fits(lhs + " ", "= " + whole):  # as displays.blocks cuts the row &= into columns: measured once
        return [rf"{lhs} &= {whole}"]
    lines: list[str] = []
    room = MAX_EMS - max(width(lhs) + 1.5, 2.5)  # what stands before a piece: the lhs, or \quad \cdot
    for piece in _pieces(expression, show, room):
        joined = f"{lines[-1]} {piece.latex}" if lines else ""
        if lines and fits(rf"\quad {joined}" if len(lines) > 1 else rf"{lhs} = {joined}"):
            lines[-1] = joined
        else:
            lines.append(piece.opening + piece.latex)
    return [rf"{lhs} &= {lines[0]}"] + [rf"&\quad {line}" for line in lines[1:]]


def packed(items: Sequence[str], separator: str = r",\ ") -> list[str]:
    """Items joined by `separator` into as few lines as fit the page (an item wider than a line stands alone)."""
    lines: list[str] = []
    for item in items:
        if lines and fits(rf"\quad {lines[-1]}{separator}{item}"):
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines


# A top-level `&` splits an aligned row into its columns, a top-level `=` a chain of equalities; those inside a
# matrix environment or braces do not. A backslash escapes the character after it; only its escaping a brace, a
# mark or another backslash counts, so the scan finds nothing else (a command's letters are read past).
_TOP_LEVEL = re.compile(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\[{}&=\\]|[{}&=]")


@lru_cache(maxsize=1024)
def _cut(latex: str, mark: str) -> tuple[str, ...]:
    """Remembered: displays.blocks cuts each row twice, to continue it and to measure its columns (issue 27). Where
    `mark` occurs once (lhs &= [matrix]), only the text up to it is read: what follows cannot change the cut, and
    reading the braces of a long right side was most of the cutting."""
    at = latex.find(mark) + 1
    if at and latex.count(mark) == 1 and not any(_open(latex[:at], name) for name in (r"\begin{", r"\end{")):
        cells = _scanned(latex[:at], mark)
        return (cells[0], latex[at:]) if len(cells) == 2 else (latex,)
    return _scanned(latex, mark)


def _open(text: str, name: str) -> bool:
    """Whether `text` ends inside `name`'s braces (\\begin{a&...), which the mark then belongs to."""
    start = text.rfind(name)
    return start >= 0 and "}" not in text[start + len(name):]


def _scanned(latex: str, mark: str, tokens: re.Pattern[str] = _TOP_LEVEL) -> tuple[str, ...]:
    depth, start, cells = 0, 0, []
    for found in tokens.finditer(latex):
        text = found.group()
        if text == "{" or text.startswith(r"\begin"):
            depth += 1
        elif text == "}" or text.startswith(r"\end"):
            depth -= 1
        elif text == mark and depth == 0:
            cells.append(latex[start:found.start()])
            start = found.end()
    return (*cells, latex[start:])


def columns(latex: str) -> list[str]:
    """An aligned row cut at its top-level `&`s."""
    return list(_cut(latex, "&"))


def equalities(latex: str) -> list[str]:
    """A chain A = B = C cut at its top-level `=`s."""
    return list(_cut(latex, "="))


def cell_widths(row: str) -> list[float]:
    """The width of each column of an aligned row; rows typeset together take each column's widest cell."""
    return [width(cell) for cell in columns(row)]
