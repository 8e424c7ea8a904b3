"""Cell text -> Python-parsable source, with a map back to the user's columns.

Python's grammar needs adjustments before `ast` can read a cell, done without moving any column: a function head
`f(x, y) =` is not an assignment target in Python, `^` must bind like `**`, and a shape declaration `W: 2x3` is not
Python at all. Strings are refused here, before anything else: a formula has no use for them.
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from jacmagic.errors import CellError, TooManyEntries

_PARSE_RECURSION_LIMIT = 25_000
_HEAD = re.compile(r"(\s*)([^\W\d]\w*)\s*\(([^()]*)\)\s*=(?!=)")
_DECLARATION = re.compile(r"\s*([^\W\d]\w*)\s*:\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*(?:[x×*]\s*(\d+))?\s*(?:#.*)?$")
# A line that starts as a shape line (a name, a colon, a number) but is not one: `W: 3x4x5x6`, `W: 3x-4`
_SHAPE_LIKE = re.compile(r"\s*[^\W\d]\w*\s*:\s*-?\d[^=#]*(?:#.*)?$")
# The most entries a declared shape may have (784 x 4096 is 3.2 million); the walkthrough's memory estimate
# (--memory) still guards what is allocated.
MAX_DECLARED_ENTRIES = 10_000_000
# The entry-level readers write one symbol per entry and one expression per value entry: past this many entries
# in all, only the array-level walkthrough (--chain) works with a layer cell.
MAX_ENTRY_LEVEL_ENTRIES = 10_000
_DIGIT_THEN_NAME = re.compile(r"\d[A-Za-z_(]")


@dataclass(frozen=True)
class Head:
    name: str
    params: str
    column: int


@dataclass(frozen=True)
class Declaration:
    """`W: 2x3` (a matrix), `x: 3` (a column vector) or `X: 32x8x8` (a batch of 32 images, 8 x 8, worked on as
    their 256 x 8 stack: numpy's row-major layout) on a line of its own."""

    name: str
    rows: int
    cols: int
    line: int
    matrix: bool = False  # written rows x cols: `W: 3x1` is a matrix of one column, `x: 3` a vector
    stack: int = 1  # images in a batch of images, stacked along the rows

    @property
    def dims(self) -> tuple[int, ...]:
        """The shape as numpy has it: (3,) for `x: 3`, (3, 1) for `W: 3x1`, (32, 8, 8) for `X: 32x8x8`."""
        if self.stack > 1:
            return (self.stack, self.rows // self.stack, self.cols)
        return (self.rows, self.cols) if self.matrix else (self.rows,)


@dataclass
class Prepared:
    source: str
    heads: dict[int, Head] = field(default_factory=dict)
    carets: dict[int, list[int]] = field(default_factory=dict)
    declarations: dict[str, Declaration] = field(default_factory=dict)

    def original_column(self, line: int, column: int) -> int:
        """Maps a 1-based column of the prepared text back to the user's text (each `^` became `**`)."""
        shift = sum(1 for k, c in enumerate(self.carets.get(line, [])) if c + k + 1 < column)
        return column - shift


def not_a_shape(text: str, line: int) -> CellError:
    """A line `name: ...` that is not a shape, said as such (not as Python's "invalid decimal literal")."""
    return CellError(f"{text[:40]} is not a shape: a shape line is a name and one to three whole numbers of 1 or "
                     "more, e.g. x: 3, W: 2x3 or X: 32x8x8 (a batch of images)", line)


def prepare(text: str) -> Prepared:
    """Blanks out function heads and shape declarations and turns `^` into `**`, keeping every other character
    in its column."""
    prepared = Prepared("")
    lines_out: list[str] = []
    depth = 0
    continued = False
    for lineno, line in enumerate(text.split("\n"), start=1):
        if depth == 0 and not continued and (declared := _DECLARATION.match(line)):
            _declare(prepared, declared, lineno)
            lines_out.append("")
            continue
        if depth == 0 and not continued and _SHAPE_LIKE.match(line):
            raise not_a_shape(line.split("#")[0].strip(), lineno)
        if depth == 0 and not continued:
            match = _HEAD.match(line)
            if match:
                indent, name, params = match.group(1), match.group(2), match.group(3)
                prepared.heads[lineno] = Head(unicodedata.normalize("NFKC", name), params, len(indent) + 1)
                blank = " " * (match.end() - len(indent) - len(name) - 1)
                line = indent + name + blank + "=" + line[match.end():]
        chars: list[str] = []
        for col, ch in enumerate(line):
            if ch == "#":
                chars.append(line[col:])
                break
            if ch in "'\"":
                raise CellError("text in quotes is not allowed in a formula", lineno, col + 1)
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(depth - 1, 0)
            if ch == "^":
                prepared.carets.setdefault(lineno, []).append(col)
                chars.append("**")
            else:
                chars.append(ch)
        code = "".join(chars).split("#", 1)[0].rstrip()
        continued = code.endswith("\\")
        lines_out.append("".join(chars))
    prepared.source = "\n".join(lines_out)
    return prepared


def python_declarations(text: str) -> tuple[str, dict[str, Declaration]]:
    """A def cell's shape lines (`z: 3`, `W: 2x3` at the start of a line) blanked out, and what they declare:
    the shapes of the function's vector and matrix parameters."""
    prepared = Prepared("")
    lines = text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if line[:1].strip() and (declared := _DECLARATION.match(line)):
            _declare(prepared, declared, lineno)
            lines[lineno - 1] = ""
    return "\n".join(lines), prepared.declarations


def _declare(prepared: Prepared, match: re.Match[str], line: int) -> None:
    name = unicodedata.normalize("NFKC", match.group(1))
    rows, cols = int(match.group(2)), int(match.group(3) or 1)
    stack = 1
    if match.group(4) is not None:  # a batch of `rows` images, each cols x group(4)
        stack, rows, cols = rows, rows * cols, int(match.group(4))
    if name in prepared.declarations:
        raise CellError(f"{name} is already declared on line {prepared.declarations[name].line}", line)
    if not (0 < rows * cols <= MAX_DECLARED_ENTRIES):
        raise CellError(f"{name}: a shape needs 1 to {MAX_DECLARED_ENTRIES:,} entries, got {rows} x {cols}", line)
    prepared.declarations[name] = Declaration(name, rows, cols, line, match.group(3) is not None, stack)


def refuse_entry_level(declarations: dict[str, Declaration], remedy: str) -> None:
    """Declared arrays too large to write out entry by entry, or with three axes, are refused, with what to do
    instead."""
    for d in declarations.values():
        if d.stack > 1:
            rows, cols = d.rows // d.stack, d.cols
            raise CellError(f"{d.name} has three axes ({d.stack} arrays of {rows} x {cols}); such a batch is read at "
                            "the level of arrays: add --chain", d.line)
    total = sum(d.rows * d.cols for d in declarations.values())
    if total > MAX_ENTRY_LEVEL_ENTRIES:
        biggest = max(declarations.values(), key=lambda d: d.rows * d.cols)
        raise TooManyEntries(f"the declared shapes have {total:,} entries in all (the largest, {biggest.name}, "
                        f"{biggest.rows} x {biggest.cols}); jacmagic writes at most {MAX_ENTRY_LEVEL_ENTRIES:,} "
                        f"out symbol by symbol: {remedy}", biggest.line)


# Other names for the keywords a mathematician may use as a name (lambda for an eigenvalue or a rate)
_INSTEAD = {"lambda": "lam or λ", "yield": "y_ or yld", "is": "is_", "in": "in_", "as": "a_s"}
_WORD = re.compile(r"[^\W\d]\w*")


def keyword_as_name(word: str) -> str:
    """Why a Python keyword cannot name a value, and what to call it instead."""
    return f"{word} is a Python keyword, which cannot be a name: call it {_INSTEAD.get(word, word + '_')}"


def keyword_named(source: str, err: SyntaxError) -> str:
    """The keyword used as a name that makes `err`, "" if none: the first keyword whose renaming (to a name of
    its length, no column moved) parses past the place Python stopped."""
    where = (err.lineno or 1, err.offset or 0)
    for word in dict.fromkeys(w for w in _WORD.findall(source) if keyword.iskeyword(w)):
        renamed = re.sub(rf"\b{word}\b", "_" * len(word), source)
        try:
            with warnings.catch_warnings():  # a probe: its warnings (1if, an invalid escape) were said, or will be
                warnings.simplefilter("ignore")
                parse_deep(renamed)
        except SyntaxError as other:
            if (other.lineno or 1, other.offset or 0) <= where:
                continue
        except (RecursionError, MemoryError, ValueError):
            continue
        return word
    return ""


def syntax_error(err: SyntaxError, prepared: Prepared, text: str) -> CellError:
    line = err.lineno or 1
    column = prepared.original_column(line, err.offset) if err.offset else None
    message = (err.msg or "invalid syntax").split(". Maybe you meant")[0]
    source_line = text.split("\n")[line - 1] if line <= text.count("\n") + 1 else ""
    if word := keyword_named(prepared.source, err):
        return CellError(keyword_as_name(word), line)
    if "Exceeds the limit" in message:  # Python's int-conversion limit, and its advice to change it
        message = "a whole number here has over 4,300 digits: too large to read"
    elif "cannot assign" in message or "cannot delete" in message:
        message = "the left side must be a name (x = ...) or a function head with plain parameters (f(x, y) = ...)"
    elif _DIGIT_THEN_NAME.search(source_line.split("#")[0]) and "literal" in message:
        message += "; write products with *, e.g. 2*x"
    elif "never closed" in message or "unmatched" in message or "does not match" in message:
        message += " (unbalanced brackets)"
    return CellError(f"{message}: {source_line.strip()[:80]}", line, column)


def node_error(node: ast.AST, message: str, line: int, column: Callable[[int, int], int]) -> CellError:
    """An error located at `node`, in the user's own columns."""
    line = getattr(node, "lineno", line)
    col = getattr(node, "col_offset", None)
    return CellError(message, line, column(line, col + 1) if col is not None else None)


def parse_deep(source: str) -> ast.Module:
    """`ast.parse` with room for long operator chains (a 10,000-term sum is 10,000 levels deep to the parser)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _PARSE_RECURSION_LIMIT))
    try:
        return ast.parse(source)
    finally:
        sys.setrecursionlimit(limit)


def is_def_cell(text: str) -> bool:
    """A cell is Python when any top-level line starts a def or an import (a decorator alone is not: a line
    continuing a formula may start with @, the matrix product)."""
    return any(line.startswith(("def ", "async def ", "import ", "from ")) for line in text.split("\n"))
