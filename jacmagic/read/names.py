"""Names as the user types them: the symbols they stand for, how they look once typeset, and the messages that
keep two names from being taken for one (theta and θ, x1 and x_1, a Cyrillic х and x) or suggest the name meant.
"""

from __future__ import annotations

import ast
import difflib
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import sympy as sp
from sympy.printing.pretty.pretty_symbology import greek_unicode

from jacmagic.chain.functions import KNOWN_CONSTANTS, KNOWN_FUNCTIONS
from jacmagic.errors import CellError, OptionError
from jacmagic.model import distinct_nodes
from jacmagic.read.source import Prepared


def real_symbol(name: str) -> sp.Symbol:
    """The symbol for a name typed in a cell: symbols are real, so that sqrt(x**2) and conjugates behave."""
    return sp.Symbol(name, real=True)


def element_symbols(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    """The entries of a matrix as real symbols named after it, counted from 1: W: 2x3 gives W_1,1 ... W_2,3
    (typeset W_{1,2}; the comma keeps W_1,12 and W_11,2 apart and no typed name has one), x: 3 gives x_1, x_2,
    x_3. The matrix's own name, case and all, so that the entries of W and of w never merge."""
    if cols == 1:
        return sp.ImmutableMatrix([real_symbol(f"{name}_{i}") for i in range(1, rows + 1)])
    return sp.ImmutableMatrix(rows, cols, lambda i, j: real_symbol(f"{name}_{i + 1},{j + 1}"))


_GREEK = {name: letter for name, letter in greek_unicode.items() if isinstance(letter, str)}
_GREEK["lamda"], _GREEK["Lamda"] = _GREEK["lambda"], _GREEK["Lambda"]


def display_key(name: str) -> str:
    """How a name looks once typeset: theta and θ, x1 and x_1, w12 and w_12, x_ and x look the same."""
    name = unicodedata.normalize("NFKC", name)
    parts: list[str] = []
    for part in name.split("_"):
        letters, digits = re.fullmatch(r"(.*?)(\d*)", part).groups()  # type: ignore[union-attr]
        parts.extend(p for p in (_GREEK.get(letters, letters), digits) if p)
    return "_".join(parts)


def as_typed(name: str, known: Iterable[str]) -> str:
    """The name of the cell that `name` is shown as: θ given for theta (the display shows theta as θ, so that is
    what a reader copies), else `name` itself. Two such names are refused, naming both."""
    known = list(known)
    if name in known:
        return name
    same = [other for other in known if display_key(other) == display_key(name)]
    if len(same) > 1:
        raise OptionError(f"{name} could be {same[0]} or {same[1]}, which look the same once typeset; write the "
                          "one meant as the cell spells it")
    return same[0] if same else name


def typed_values(values: Mapping[str, Any], known: Collection[str]) -> Mapping[str, Any]:
    """`values` by the names the cell spells: θ given for theta (the display shows θ, so a reader types it) is
    put as theta, as --wrt and --at take it. Only when a name is unknown: the common call stays a look-up."""
    if all(name in known for name in values):
        return values
    return {as_typed(name, known): value for name, value in values.items()}


def refuse_twins(symbols: Iterable[sp.Symbol]) -> None:
    """Two different names of one map that would be shown the same are refused: the reader could not tell
    which column is which, and a sympy object could hold two different symbols of one name."""
    seen: dict[str, sp.Symbol] = {}
    for symbol in dict.fromkeys(symbols):
        if "," in symbol.name:  # a matrix entry: no typed name has a comma
            continue
        other = seen.setdefault(display_key(symbol.name), symbol)
        if other != symbol:
            same = "are different symbols with the same name" if other.name == symbol.name else "look the same"
            raise CellError(f"{other.name} and {symbol.name} {same} once typeset; rename one of them so that "
                            "they can be told apart")


# Functions that jump: their derivative is 0 between the jumps and none at them, so a map using one has no
# Jacobian worth showing. Refused by name in every form, saying why, rather than as an unknown function.
STEP_FUNCTIONS = frozenset({"floor", "ceil", "ceiling", "round", "rint", "trunc", "fix", "int", "mod", "fmod",
                            "remainder", "floor_divide", "frac", "%", "//"})


# The sympy functions a step leaves in a traced or given map, by the name its refusal gives and the operator of a
# def cell that makes it: x // 2 is floor(x/2) (-x // 2 is -ceiling(x/2)), x % 2 is Mod(x, 2) (x % 1 is frac(x)).
STEP_NODES: dict[type[sp.Basic], tuple[str, str]] = {sp.floor: ("floor (//)", "//"), sp.ceiling: ("ceil", "//"),
                                                     sp.Mod: ("mod (%)", "%"), sp.frac: ("frac", "%")}


def step_in(expressions: Iterable[sp.Basic]) -> sp.Basic | None:
    """The first step function of a variable in `expressions` (one of `STEP_NODES`), None without one."""
    return next((node for node in distinct_nodes(expressions) if node.func in STEP_NODES and node.free_symbols),
                None)


def step_refusal(name: str) -> str:
    """Why `name` (a step function or the operators // and %) is refused, in one sentence with the way out."""
    what = f"the operator {name}" if name in ("%", "//") else name
    return (f"{what} is a step function: its derivative is 0 between the jumps and does not exist at them, so "
            "jacmagic does not differentiate it; write the map without it (where(cond, a, b) for a piecewise map)")


def suggest(name: str, candidates: Sequence[str], one_edit: bool = False) -> str:
    """" (did you mean sin?)", or "" when nothing is close: the one way every message suggests a name."""
    return did_you_mean(closest(name, candidates, one_edit))


def closest(name: str, candidates: Sequence[str], one_edit: bool = False) -> str:
    """The candidate `name` is likely a typo of, "" when nothing is close. With `one_edit`, only a name one
    insertion, deletion or substitution away counts (never for one-letter names: each is one edit from every
    other), for hints given where nothing is wrong yet."""
    shown_alike = [other for other in candidates if other != name and display_key(other) == display_key(name)]
    if shown_alike:  # θ for theta: what the display shows, copied
        return shown_alike[0]
    if one_edit:
        close = [other for other in candidates if len(name) > 1 and _one_edit(name, other)][:1]
    else:
        close = difflib.get_close_matches(name, list(candidates), n=1)
    return close[0] if close else ""


def did_you_mean(close: str) -> str:
    """" (did you mean sin?)" after a name, "" without a suggestion."""
    return f" (did you mean {close}?)" if close else ""


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(p != q for p, q in zip(a, b)) == 1
    short, long = sorted((a, b), key=len)
    return len(long) - len(short) == 1 and any(long[:k] + long[k + 1:] == short for k in range(len(long)))


# Letters from other scripts that look like Latin ones: a Cyrillic х is a different symbol from x, and a map written
# with both would be differentiated by the wrong one without a word.
_LOOKALIKES = str.maketrans("аеорсухіјѕАВЕКМНОРСТХΑΒΕΖΗΙΚΜΝΟΡΤΥΧονі", "aeopcyxijsABEKMHOPCTXABEZHIKMNOPTYXovi")


def refuse_lookalikes(module: ast.Module, prepared: Prepared) -> None:
    """Two names that look alike but differ in a letter of another alphabet, or a name that looks like a known
    function's, are refused. Only a letter outside ASCII can be either: a cell written in ASCII alone (nearly
    every one) is not walked (issue 27: the walk was a tenth of reading a 10 x 10 map)."""
    if _all_ascii(prepared):
        return
    seen: dict[str, tuple[str, int]] = {}
    names = [(n.id, n.lineno) for n in ast.walk(module) if isinstance(n, ast.Name)]
    names += [(p.strip(), line) for line, head in prepared.heads.items() for p in head.params.split(",")]
    names += [(d.name, d.line) for d in prepared.declarations.values()]
    for name, line in sorted(names, key=lambda item: item[1]):
        skeleton = name.translate(_LOOKALIKES)
        other = seen.setdefault(skeleton, (name, line))
        if other[0] != name:
            raise CellError(f"{name} and {other[0]} (line {other[1]}) look alike but are different names (one "
                            "uses a letter from another alphabet); type them the same way", line)
        if skeleton != name and skeleton.isascii() and (skeleton in KNOWN_FUNCTIONS or skeleton in KNOWN_CONSTANTS):
            raise CellError(f"{name} looks like {skeleton} but uses a letter from another alphabet", line)


def _all_ascii(prepared: Prepared) -> bool:
    """Are the cell's formulas, function heads and declared names all ASCII? Then every name is its own
    skeleton (`_LOOKALIKES` maps letters outside ASCII only), and no look-alike can be found."""
    return (prepared.source.isascii() and all(head.params.isascii() for head in prepared.heads.values())
            and all(name.isascii() for name in prepared.declarations))
