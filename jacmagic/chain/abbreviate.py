"""Repeated parts of a Jacobian named, as a textbook writes them: the matrix stays a matrix, and a "where" line says
what the names stand for ("where u = w₀x₀ + w₁x₁ + w₂ and σ = σ(u)": [σx₀(1 − σ) ...]; a softmax with
S = eᵃ + eᵇ + eᶜ).

Only what repeats is named: an activation's value (σ = σ(u), t = tanh(u)) that occurs more than once, the sum it is
applied to (a pre-activation u, v, w), a sum of exponentials (S), and any other sum of several terms that occurs
in several entries. A name the cell gave the same value (an assignment line `u = w0*x0 + ...`) is used as given. Pure
sympy; the names are checked by substituting them back, which must give the Jacobian exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, count

import sympy as sp

from jacmagic.chain.activations import relu, sigmoid
from jacmagic.model import CellModel, exceeds

# Past this many nodes (written out without sharing) a matrix is not searched (about 0.4 s at 20,000).
MAX_NODES = 25_000
# A sum is worth a name from this many variables (a named part counting one, numbers none): u = w₀x₀ + w₂ is,
# a + b and 1 - σ are not; the sum an activation is applied to needs only two (u = 0.5x₁ - 1.2x₂).
_SUM_LEAVES = 3
# What an activation's value is called; each kind numbered (σ₁, σ₂) when it has several values.
_VALUE_NAMES: dict[type, str] = {sigmoid: "sigma", sp.tanh: "t", relu: "r"}
_SUM_NAMES = ("u", "v", "w")
_NAMEABLE = (sp.Add, *_VALUE_NAMES)  # the kinds of part `_chosen` may name

Abbreviations = tuple[tuple[sp.Symbol, sp.Expr], ...]


@dataclass(frozen=True)
class Abbreviated:
    """A matrix with its repeated parts replaced by names, and the names in order, inner first (u before σ = σ(u))."""

    matrix: sp.ImmutableMatrix
    names: Abbreviations

    def expanded(self) -> sp.ImmutableMatrix:
        """The names substituted back, the innermost last: the matrix abbreviated."""
        matrix = self.matrix
        for symbol, definition in reversed(self.names):
            matrix = matrix.xreplace({symbol: definition})
        return sp.ImmutableMatrix(matrix)


def abbreviated(matrix: sp.ImmutableMatrix, model: CellModel | None = None) -> Abbreviated:
    """`matrix` with its repeated parts named, avoiding every name of the map; the cell's own intermediate names
    (assignment lines that are not outputs) where a named part is one of them."""
    given: tuple[tuple[sp.Expr, sp.Symbol], ...] = ()
    avoid: frozenset[str] = frozenset()
    if model is not None:
        avoid = _names_of((*model.free_names, *model.outputs, *model.written))
        if model.form == "assignment" and model.composed is not None:
            given = _intermediates(model)
            avoid |= {s.name for _, s in given}
    return _abbreviated(matrix, avoid, given)


def _intermediates(model: CellModel) -> tuple[tuple[sp.Expr, sp.Symbol], ...]:
    """Each assignment line's value, as an expression of the map's variables, and the name it was given."""
    inner = [o for stage in model.stages for o in stage.outputs if o not in model.outputs]
    if not inner or exceeds((model.values[o] for o in inner), MAX_NODES):
        return ()
    return tuple((model.values[o], o) for o in inner)


def _names_of(symbols: Iterable[sp.Symbol]) -> frozenset[str]:
    """The names symbols show, an entry's array among them: beside v₁ and v₂, a part named v would read as the
    array they are entries of."""
    return frozenset(name for s in symbols for name in (s.name, s.name.split("_")[0]))


@lru_cache(maxsize=32)
def _abbreviated(matrix: sp.ImmutableMatrix, avoid: frozenset[str],
                 given: tuple[tuple[sp.Expr, sp.Symbol], ...]) -> Abbreviated:
    unchanged = Abbreviated(matrix, ())
    entries = [entry for row in matrix.tolist() for entry in row]  # at once: sympy indexes in microseconds an entry
    if exceeds(entries, MAX_NODES) or not _repeats(entries):
        return unchanged
    avoid = avoid | _names_of(matrix.free_symbols)
    chosen = _chosen(entries)
    if not chosen:
        return unchanged
    names = _names(chosen, avoid, dict(given))
    replacements = {node: names[node] for node in chosen}
    definitions = tuple((names[node], node.xreplace({k: v for k, v in replacements.items() if k != node}))
                        for node in chosen)
    result = Abbreviated(sp.ImmutableMatrix(matrix.xreplace(replacements)), definitions)
    return result if result.expanded() == matrix else unchanged  # never show names that do not give J back


def _repeats(entries: list[sp.Basic]) -> bool:
    """Whether a sum or an activation's value occurs twice in a matrix's `entries`. Without one `_chosen` names
    nothing (it names only such parts, each occurring more than once or inside a function that does), and this walk
    costs a fraction of its counting: most maps' Jacobians need no names (issue 27)."""
    seen: set[sp.Basic] = set()
    stack = list(entries)
    while stack:
        node = stack.pop()
        if isinstance(node, _NAMEABLE):
            if node in seen:
                return True
            seen.add(node)
        stack.extend(node.args)
    return False


def _post_order(entries: list[sp.Basic]) -> Iterator[sp.Basic]:
    """Every distinct subexpression once, each after its arguments."""
    seen: set[sp.Basic] = set()
    for entry in entries:
        stack: list[tuple[sp.Basic, bool]] = [(entry, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                yield node
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args))


def _chosen(entries: list[sp.Basic]) -> list[sp.Basic]:
    """The parts to name, inner first: repeated activation values, the sums they are applied to, and sums of
    several terms that recur in several of the matrix's `entries`."""
    occurrences = Counter(node for entry in entries for node in sp.preorder_traversal(entry))
    holding = Counter(node for entry in entries for node in set(sp.preorder_traversal(entry)))
    order = list(_post_order(entries))
    applied: dict[sp.Basic, float] = {}  # the argument of a repeated function: how many variables it needs
    for node in order:
        if isinstance(node, sp.Function) and occurrences[node] > 1:
            bar = _SUM_LEAVES - 1 if _value_kind(node) else _SUM_LEAVES
            applied[node.args[0]] = min(bar, applied.get(node.args[0], bar))
    chosen: list[sp.Basic] = []
    leaves: dict[sp.Basic, int] = {}
    for node in order:
        if node.is_Atom:
            leaves[node] = 0 if node.is_number else 1
            continue
        if _value_kind(node) is not None and occurrences[node] > 1 and not node.args[0].is_Atom:
            chosen.append(node)
            leaves[node] = 1
            continue
        leaves[node] = sum(leaves[a] for a in node.args)
        needed = min(applied.get(node, math.inf), _SUM_LEAVES if holding[node] > 1 else math.inf)
        if isinstance(node, sp.Add) and (_exponentials(node) and occurrences[node] > 1 or leaves[node] >= needed):
            chosen.append(node)
            leaves[node] = 1
    return chosen


def _value_kind(node: sp.Basic) -> type | None:
    return next((kind for kind in _VALUE_NAMES if isinstance(node, kind)), None)


def _exponentials(node: sp.Basic) -> bool:
    """A sum of exponentials, as in a softmax's denominator."""
    return all(isinstance(term.as_coeff_Mul()[1], sp.exp) for term in node.args)


def _names(chosen: list[sp.Basic], avoid: frozenset[str], given: Mapping[sp.Basic, sp.Symbol]
           ) -> dict[sp.Basic, sp.Symbol]:
    """A name for each chosen part: the cell's own where it gave one, else the reader's letter for its kind."""
    kinds: dict[str, list[sp.Basic]] = {}
    for node in chosen:
        if node not in given:
            kind = _value_kind(node)
            letter = _VALUE_NAMES[kind] if kind else "S" if _exponentials(node) else "u"
            kinds.setdefault(letter, []).append(node)
    names = {node: given[node] for node in chosen if node in given}
    for letter, nodes in kinds.items():
        fresh = _fresh(letter, len(nodes), avoid)
        names.update((node, sp.Symbol(next(fresh))) for node in nodes)
    return names


def _fresh(letter: str, wanted: int, avoid: frozenset[str]) -> Iterator[str]:
    """Names for `wanted` parts of one kind: the letter alone for one, u, v, w for up to three sums; else numbered
    (u₁, σ₁ ...)."""
    plain = _SUM_NAMES if letter == "u" and wanted <= len(_SUM_NAMES) else (letter,) if wanted == 1 else ()
    numbered = (f"{letter}_{k}" for k in count(1))
    return (name for name in chain(plain, numbered) if name not in avoid)
