"""Option values -> data: `--at r=1,theta=pi/4`, `--wrt z,x`, `--range r=0:5`. Values are formulas without
variables, read by the same safe reader as cells."""

from __future__ import annotations

import ast
import unicodedata
from typing import Any

import sympy as sp

from .errors import CellError
from .formula import ExpressionBuilder
from .functions import KNOWN_CONSTANTS
from .source import prepare


def _split_top_level(text: str) -> list[str]:
    """Splits at commas outside brackets: `r=1, theta=atan2(1, 2)` has two parts."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_number(text: str, what: str) -> float:
    """A number written as a formula without variables: `1.5`, `-2`, `pi/4`, `sqrt(2)/2`, `2^-3`."""
    try:
        prepared = prepare(text)
        tree = ast.parse(prepared.source.strip(), mode="eval")
    except (SyntaxError, CellError, RecursionError, MemoryError, ValueError):
        raise CellError(f"{what}: {text!r} is not a number") from None

    def resolve(name: str, node: ast.Name) -> sp.Expr:
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        raise CellError(f"{what}: {text!r} is not a number (it uses the name {name})")

    builder = ExpressionBuilder(1, resolve, {}, lambda line, col: col)
    try:
        value = complex(builder.scalar(tree.body).evalf())
    except CellError as err:
        raise CellError(err.message) from None
    except (TypeError, ValueError, OverflowError):
        raise CellError(f"{what}: {text!r} is not a number") from None
    if value.imag != 0 or value.real != value.real:
        raise CellError(f"{what}: {text!r} is not a real number")
    return value.real


def parse_values(text: str, what: str) -> Any:
    """A number, or for a declared matrix a bracketed (nested) list of numbers: `[[1, 2], [3, pi]]`."""
    text = text.strip()
    if not text.startswith("["):
        return parse_number(text, what)
    if not text.endswith("]"):
        raise CellError(f"{what}: {text!r} has an unclosed bracket")
    return tuple(parse_values(part, what) for part in _split_top_level(text[1:-1]))


def parse_point(text: str) -> tuple[tuple[str, Any], ...]:
    """`r=1, theta=pi/2` -> (("r", 1.0), ("theta", 1.5707...)), for --at."""
    point: dict[str, Any] = {}
    for part in _split_top_level(text):
        name, equals, value = part.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())
        if not equals or not name.isidentifier():
            raise CellError(f"--at takes name=value pairs separated by commas, e.g. --at r=1,theta=pi/4; "
                            f"got {part!r}")
        if name in point:
            raise CellError(f"--at gives {name} twice")
        point[name] = parse_values(value, f"--at {name}")
    if not point:
        raise CellError("--at takes name=value pairs, e.g. --at r=1,theta=pi/4")
    return tuple(point.items())


def parse_names(text: str) -> tuple[str, ...]:
    """`z, x` -> ("z", "x"), for --wrt."""
    names = tuple(unicodedata.normalize("NFKC", n) for n in _split_top_level(text))
    bad = [n for n in names if not n.isidentifier()]
    if bad or not names:
        raise CellError(f"--wrt takes variable names separated by commas, e.g. --wrt r,theta; got {text!r}")
    return names


def parse_ranges(text: str) -> tuple[tuple[str, float, float], ...]:
    """`r=0:5, theta=0:2*pi` -> (("r", 0.0, 5.0), ("theta", 0.0, 6.28...)), for --range."""
    ranges = []
    for part in _split_top_level(text):
        name, equals, span = part.partition("=")
        low, colon, high = span.partition(":")
        name = unicodedata.normalize("NFKC", name.strip())
        if not (equals and colon and name.isidentifier()):
            raise CellError(f"--range takes name=low:high pairs, e.g. --range r=0:5,theta=0:2*pi; got {part!r}")
        lo, hi = parse_number(low, f"--range {name}"), parse_number(high, f"--range {name}")
        if not lo < hi:
            raise CellError(f"--range {name}: the low end must be below the high end")
        ranges.append((name, lo, hi))
    return tuple(ranges)
