"""Where a formula must be defined, decided as it is read: the guards kept as the user wrote them (sympy would
simplify log(x) - log(x) away), and what is refused at once because it is undefined for every input or too large
to compute exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import sympy as sp

from jacmagic.chain.functions import ENTRY_LEVEL
from jacmagic.model import Guard, Guards, distinct_nodes, postorder, symbols_in
from jacmagic.read.matrix_values import Fail, Value

# An exact number with more bits than this is refused rather than computed (2**10**100 hangs, and Python will
# not even print an integer of over 4,300 digits).
_MAX_EXACT_BITS = 10_000
# the sympy functions of the calls the entry-level reader guards (log, asin, tan, ...): a traced def's are found
# in its expressions
_RESTRICTED_CALLS = tuple({r.formula for r in ENTRY_LEVEL.values()
                           if r.domain and isinstance(r.formula, type) and issubclass(r.formula, sp.Basic)})


def refuse_infinite(number: float, fail: Fail) -> None:
    """A literal Python reads as inf (1e400): refused as too large, before it is taken for "undefined"."""
    if not abs(number) < float("inf"):
        raise fail("this number is too large for a floating-point number (at most about 1.8e308)")


def _entries(value: Value) -> sp.MatrixBase | tuple[sp.Expr]:
    return value if isinstance(value, sp.MatrixBase) else (value,)


def refuse_undefined(entry: sp.Expr, fail: Fail) -> None:
    """Refuses what has no real value for any input: a division by zero, the log of 0, a complex constant."""
    _refuse(_entries(entry), list(distinct_nodes((entry,))), fail)


def _refuse(entries: Sequence[sp.Expr], nodes: Sequence[sp.Basic], fail: Fail) -> None:
    """`refuse_undefined` of every entry at once, from their distinct subexpressions `nodes`: a part shared by
    every entry (max(z) in z - max(z)) is looked at once, not once per entry."""
    atoms = {n for n in nodes if not n.args}  # sympy's has() visits shared parts repeatedly
    if atoms & {sp.zoo, sp.nan, sp.oo, -sp.oo}:
        raise fail("this is undefined for every input: it divides by zero or takes the log of 0")
    for entry in entries:
        if sp.I in atoms and sp.I in distinct_nodes((entry,)) or (entry.is_number and entry.is_extended_real is False):
            raise fail(f"{sp.sstr(entry)[:40]} has no real value for any input (e.g. the log or square root of a "
                       "negative constant)")


def refuse_unusable(value: Value, fail: Fail) -> None:
    """A whole right side, refused if it is undefined for every input or holds numbers too large to use."""
    nodes = list(distinct_nodes(_entries(value)))
    _refuse(_entries(value), nodes, fail)
    if any(n.is_Rational and max(abs(n.p).bit_length(), n.q.bit_length()) > _MAX_EXACT_BITS for n in nodes):
        raise fail(f"a number here has over {_MAX_EXACT_BITS * 3 // 10:,} digits; jacmagic computes with "
                   "numbers up to that size")


def refuse_huge_power(base: sp.Expr, exponent: sp.Expr, fail: Fail) -> None:
    """Refuses an exact power too large to compute (2**10**100 would hang)."""
    if base.is_Rational and exponent.is_Rational and abs(base) not in (0, 1):
        bits = abs(float(exponent)) * max(abs(base.p).bit_length(), abs(base.q).bit_length())
        if bits > _MAX_EXACT_BITS:
            shown = str(exponent) if len(str(exponent)) < 20 else f"(a {len(str(exponent))}-digit number)"
            raise fail(f"the number {base}**{shown} is too large to compute exactly")


def _users(guards: Sequence[Guard], entries: Sequence[sp.Basic]) -> list[list[int] | None]:
    """For each guard, the entries it is part of (sqrt(v_1) for entry 1 of sqrt(v), the where of roots sympy made
    of sqrt(where(...)) for its own entry), or None if sympy simplified it away (sqrt(v_1)**2 is v_1).
    Each entry is walked only into the parts that hold a guard's: a part every entry shares and no guard is in
    (max(z) in z - max(z)) is not walked once per entry."""
    if not guards:
        return []
    written = {part for g in guards for part in (g.expression, g.written)}
    inner: dict[sp.Basic, list[sp.Basic]] = {}  # the arguments that are or hold a guard's part
    for node in postorder(entries):
        inner[node] = [a for a in node.args if a in written or inner[a]]
    uses: dict[sp.Basic, set[int]] = {}
    for k, entry in enumerate(entries):
        for node in distinct_nodes((entry,), inner.__getitem__):
            uses.setdefault(node, set()).add(k)
    # in a where, the guard itself (sympy moved it into a where of roots: sqrt(where(c, a, b))), else its part
    return [sorted(uses[g.expression]) if g.expression in uses else sorted(uses[g.written]) if g.written in uses
            else None for g in guards]


def _holding(guards: Sequence[Guard], entries: Sequence[sp.Basic], found: list[list[int] | None]) -> list[list[int]]:
    """`found`, with a guard simplified away counted for the entries holding all its symbols; failing that, for
    every entry."""
    every = set(range(len(entries)))
    holders: dict[sp.Basic, set[int]] = {}  # symbol -> the entries holding it, found once when first needed
    if None in found:  # each entry's symbols, once (per guard: 2000 entries took 10 s)
        for k, entry in enumerate(entries):
            for symbol in symbols_in((entry,)):
                holders.setdefault(symbol, set()).add(k)

    def holding(guard: Guard) -> list[int]:
        return sorted(set(every).intersection(*(holders.get(s, set()) for s in guard.written.free_symbols)) or every)
    return [users if users is not None else holding(g) for g, users in zip(guards, found)]


# a line read again with sympy's evaluation off: its guards and its entries as written, and the value of a part so
# written
Written = tuple[Sequence[Guard], Sequence[sp.Basic], Callable[[sp.Basic], sp.Basic]]


def by_entry(guards: Sequence[Guard], entries: Sequence[sp.Basic],
             written: Callable[[], Written | None] | None = None) -> tuple[tuple[Guard, ...], ...]:
    """The guards each entry of a vector counts, as numpy computes entry by entry: `sqrt(v)` at v = (-1, 2, 3)
    is undefined in entry 1 only. A guard sympy folded away as the line was built (v_1/v_1 is 1, exp(log(a)) is a)
    is in no entry: then, if `written` is given, the line is read again as written, where each guard's part is in
    the entries that used it, and its guards are counted there (as a def's are), holding their parts' values."""
    found = _users(guards, entries)
    again = written() if written is not None and len(entries) > 1 and None in found else None
    if again is not None and len(again[1]) == len(entries):
        guards, entries, value = again
        found = _users(guards, entries)
        guards = [Guard(value(g.expression), g.line, g.divisor) for g in guards]
    counted: list[list[Guard]] = [[] for _ in entries]
    for guard, users in zip(guards, _holding(guards, entries, found)):
        for k in users:
            counted[k].append(guard)
    return tuple(map(tuple, counted))


def taken_only(guards: list[Guard], conditions: Sequence[sp.Basic], branch: Sequence[sp.Expr],
               when: bool) -> list[Guard]:
    """The guards of one branch of a choice, checked only where it is taken: the other branch's value is the
    map's there (`where(x > 0, sqrt(x), 0)` is defined at x = -1, as numpy's np.where gives). Entry k of the
    branch is taken where `conditions[k]` is `when`."""
    def checked(guard: Guard, entries: list[int]) -> Guard:
        test = (sp.Or if when else sp.And)(*(conditions[k] for k in entries))
        part = guard.expression
        pieces = ((part, test), (guard.safe, True)) if when else ((guard.safe, test), (part, True))
        return Guard(sp.Piecewise(*pieces, evaluate=False), guard.line, guard.divisor)  # its rules cost 1 ms

    return [checked(g, users) for g, users in zip(guards, _holding(guards, branch, _users(guards, branch)))]


def guards_of(value: Value, line: int, divisor: bool, fail: Fail) -> list[Guard]:
    """Where `value` (what the user wrote, before sympy simplifies it away) must be defined; a constant that is
    not is refused here."""
    guards = []
    for entry in _entries(value):
        if entry.is_number and divisor and entry.is_zero is not None:
            if entry.is_zero:
                raise fail("division by zero")
            continue
        if entry.is_number and not divisor:
            refuse_undefined(entry, fail)
            if entry.is_extended_real:  # proven real: nothing to check at a point
                continue
        # a constant sympy cannot decide ((-0.32)**atan(2)) is left to the numbers, as a variable part is
        guards.append(Guard(entry, line, divisor))
    return guards


def _own_guard(node: sp.Basic, constant: set[sp.Basic], line: int, fail: Fail,
               value: Callable[[sp.Basic], sp.Basic]) -> list[Guard]:
    """What `node` itself needs, as the entry-level reader guards it as written: a restricted call (log, asin,
    tan) a finite real value, a negative whole power a divisor that is not 0, any other power but a whole one
    (sqrt, x**0.5, x**y) a finite real value. Only a part without symbols (in `constant`) is asked what sympy
    knows of it: sympy's is_number walks down a whole deep expression, every time. The guard holds the part's
    `value` (sympy's evaluated form of a part written unevaluated)."""
    if isinstance(node, sp.Pow) and node.exp.is_Integer:
        part, divisor = node.base, True
        if node.exp >= 0:
            return []
    elif isinstance(node, (sp.Pow, *_RESTRICTED_CALLS)):
        part, divisor = node, False
    else:
        return []
    return guards_of(value(part), line, divisor, fail) if part in constant else [Guard(value(part), line, divisor)]


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _Found:
    """The guards found so far, each numbered once: a set of them is an integer's bits, so that the guards of a
    node are the union of its arguments' in one `|` however many they hold."""

    def __init__(self) -> None:
        self.numbers: dict[Guard, int] = {}
        self.guards: list[Guard] = []

    def mask(self, guards: Sequence[Guard]) -> int:
        mask = 0
        for guard in guards:
            if guard not in self.numbers:
                self.numbers[guard] = len(self.guards)
                self.guards.append(guard)
            mask |= 1 << self.numbers[guard]
        return mask

    def listed(self, mask: int) -> Guards:
        return tuple(self.guards[k] for k in _bits(mask))

    def branches(self, choice: sp.Piecewise, masks: dict[sp.Basic, int],
                 evaluated: Callable[[sp.Basic], sp.Basic]) -> int:
        """A choice's guards: its conditions' (numpy computes them all), and each branch's checked only where
        that branch is taken (np.where(x > 0, np.sqrt(x), 0) is defined at x = -1)."""
        mask, earlier = 0, list[sp.Basic]()
        for value, written in choice.args:
            mask |= masks[written]
            condition = evaluated(written)
            for guard in self.listed(masks[value]):
                pieces = [(guard.safe, c) for c in earlier] + [(guard.expression, condition), (guard.safe, True)]
                taken = sp.Piecewise(*pieces[:len(earlier) + 1 + (condition is not sp.true)], evaluate=False)
                mask |= self.mask([Guard(taken, guard.line, guard.divisor)])
            earlier.append(condition)
        return mask


def guards_within(expressions: Sequence[sp.Expr], line: int, fail: Fail,
                  evaluated: Callable[[sp.Basic], sp.Basic] = lambda part: part) -> tuple[Guards, ...]:
    """The guards of each traced expression (a def's outputs, written as the def computed them: sympy evaluates
    nothing while a def runs, so each value holds the parts it was computed from, np.log in np.exp(np.log(x))),
    found as the entry-level reader records them, entry by entry: `np.sum(np.sqrt(v)) * v` needs every sqrt in
    each entry, `np.sqrt(v)` only its own. One walk over the distinct parts: a softmax's shared sum is visited
    once. `evaluated` gives a written part's value, which the guard holds."""
    found, masks, constant = _Found(), dict[sp.Basic, int](), set[sp.Basic]()
    for node in postorder(expressions):
        if not node.is_Symbol and all(a in constant for a in node.args):
            constant.add(node)
        if isinstance(node, sp.Piecewise):
            masks[node] = found.branches(node, masks, evaluated)
            continue
        mask = found.mask(_own_guard(node, constant, line, fail, evaluated))
        for argument in node.args:
            mask |= masks[argument]
        masks[node] = mask
    return tuple(found.listed(masks[e]) for e in expressions)
