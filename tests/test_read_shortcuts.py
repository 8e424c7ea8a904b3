"""The shortcuts that cut reading and differentiating a plain cell (issue 27), each against the slow path it
replaces: the same objects (srepr, assumptions, matrix domain), the same estimates, the same refusals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import symengine as se
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.core.assumptions import _assume_defined

from jacmagic.chain import calculus, canonical
from jacmagic.chain.calculus import from_entries, jacobian_size
from jacmagic.errors import CellError
from jacmagic.model import distinct_nodes, symbols_in, tree_size
from jacmagic.read import names
from jacmagic.read.parse import parse_cell
from jacmagic.read.source import parse_deep, prepare

from .test_calculus import expressions

x, y, z = sp.symbols("x y z", real=True)


# -- reading: look-alike names are looked for only in a cell with a letter outside ASCII ----------------------------

def test_every_look_alike_letter_is_outside_ascii_so_an_ascii_cell_has_none() -> None:
    assert all(not chr(code).isascii() for code in names._LOOKALIKES)


LOOKALIKE_CELLS = ["f(x, y) = [x*y, sin(y)]", "f(х, y) = [x*y, y]", "f(x, y) = [sіn(x), y]", "x = r*cos(θ)\ny = r",
                   "W: 2x3\nx: 3\nL = sum(tanh(W @ x))", "Х: 2\nL = sum(X)", "f(x) = [x]\n# х in a comment"]


@pytest.mark.parametrize("cell", LOOKALIKE_CELLS)
def test_the_look_alike_refusal_is_the_full_walks_whether_or_not_the_walk_is_skipped(
        cell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = prepare(cell)
    module = parse_deep(prepared.source)

    def refusal() -> str:
        try:
            names.refuse_lookalikes(module, prepared)
        except CellError as error:
            return str(error)
        return ""
    quick = refusal()
    monkeypatch.setattr(names, "_all_ascii", lambda prepared: False)
    assert quick == refusal()


# -- the size estimate: one walk against tree_size and symbols_in per term --------------------------------------------

def _slow_size(expressions: Iterable[sp.Expr], variables: Iterable[sp.Symbol], limit: int) -> int:
    """jacobian_size as it was: a walk for the symbols and one for the size, per term."""
    wanted, total = set(variables), 0
    for expression in expressions:
        for term in (expression.args if expression.is_Add else (expression,)):
            count = len(symbols_in((term,)) & wanted)
            if count:
                nodes, depth = tree_size((term,), limit // count + 1)
                total += nodes * count * max(1, depth // 4)
            if total > limit:
                return total
    return total


def _tower(depth: int) -> sp.Expr:
    """A composition that shares its parts: written out, exponentially many nodes."""
    e: sp.Expr = x + y
    for _ in range(depth):
        e = sp.sin(e) * e + sp.cos(e)
    return e


@settings(max_examples=80, deadline=None)
@given(st.lists(expressions(), min_size=1, max_size=4), st.sampled_from([3, 40, 1_000_000]),
       st.sampled_from([[x], [x, y], [x, y, z], []]))
def test_the_size_estimate_in_one_walk_is_the_per_term_estimate(outputs: list[sp.Expr], limit: int,
                                                                  variables: list[sp.Symbol]) -> None:
    assert jacobian_size(outputs, variables, limit) == _slow_size(outputs, variables, limit)


@pytest.mark.parametrize("limit", [10, 1_000, 1_000_000])
def test_the_size_estimate_of_shared_deep_parts_is_the_per_term_estimate(limit: int) -> None:
    outputs = [_tower(12), _tower(5) + x * z, sp.Add(*(sp.Symbol(f"w{k}", real=True) * x for k in range(50)))]
    assert jacobian_size(outputs, [x, y, z], limit) == _slow_size(outputs, [x, y, z], limit)


# -- building: functions, powers and matrices built directly ----------------------------------------------------------

SYMBOLS = [sp.Symbol("s", **a) for a in ({"real": True}, {"positive": True}, {"integer": True}, {},
                                        {"real": True, "nonzero": True})]


@pytest.mark.parametrize("make", sorted(canonical.KEPT_AT_A_SYMBOL, key=lambda f: f.__name__))
@pytest.mark.parametrize("symbol", SYMBOLS, ids=str)
def test_a_function_built_directly_is_sympys_own_object_knowing_what_it_knows(make: Any, symbol: sp.Symbol) -> None:
    """srepr, argument counts, and every assumption, asked in the same order of each (canonical.unevaluated)."""
    for argument in (symbol, symbol / 10, sp.Rational(-3, 7) * symbol):
        if not canonical.plain(make, argument):
            continue
        fast, slow = canonical.unevaluated(make, argument), make(argument)
        assert sp.srepr(fast) == sp.srepr(slow) and fast == slow and hash(fast) == hash(slow)
        assert fast.nargs == slow.nargs
        assert [getattr(fast, f"is_{fact}") for fact in sorted(_assume_defined)] == \
            [getattr(slow, f"is_{fact}") for fact in sorted(_assume_defined)]


def test_a_function_built_directly_does_not_share_what_it_learns_with_another() -> None:
    first, second = canonical.unevaluated(sp.sin, x), canonical.unevaluated(sp.sin, y)
    assert first.is_real and first._assumptions is not second._assumptions


POWERS = [(x, 2), (x, -1), (x, 3), (x, -7), (x, 0), (x, 1), (sp.Symbol("n"), 2), (sp.Symbol("c", zero=True), 2),
          (sp.Symbol("p", positive=True), -2), (sp.Dummy("d"), 2), (sp.Integer(2), 3), (x, sp.Rational(1, 2)),
          (x + 1, 2), (sp.sin(x), 2), (x, y), (sp.Symbol("m", commutative=False), 2)]


@pytest.mark.parametrize(("base", "exponent"), POWERS, ids=str)
def test_a_power_built_directly_is_sympys_evaluated_power(base: sp.Expr, exponent: Any) -> None:
    fast, slow = canonical.power(base, sp.sympify(exponent)), sp.Pow(base, exponent)
    assert sp.srepr(fast) == sp.srepr(slow) and fast.is_commutative == slow.is_commutative


def _item_by_item(rows: int, cols: int, nonzero: dict[tuple[int, int], sp.Basic]) -> sp.ImmutableMatrix:
    matrix = sp.zeros(rows, cols)
    for (i, j), entry in nonzero.items():
        matrix[i, j] = entry
    return matrix.as_immutable()


ENTRIES: list[dict[tuple[int, int], Any]] = [
    {}, {(0, 0): 2}, {(0, 1): sp.Rational(1, 3), (1, 0): 4}, {(1, 1): x}, {(0, 0): 3, (1, 2): sp.sin(x) / 2},
    {(0, 0): 2.5}, {(0, 2): sp.pi}, {(1, 0): sp.Rational(1, 2), (0, 0): x * y, (1, 2): -1}]


@pytest.mark.parametrize("nonzero", ENTRIES, ids=str)
def test_a_matrix_from_its_entries_is_the_one_zeros_and_assignment_give(nonzero: dict[tuple[int, int], Any]) -> None:
    nonzero = {k: sp.sympify(v) for k, v in nonzero.items()}
    fast, slow = from_entries(2, 3, nonzero), _item_by_item(2, 3, nonzero)
    assert sp.srepr(fast) == sp.srepr(slow) and fast == slow
    assert fast._rep.domain == slow._rep.domain and fast._rep == slow._rep
    assert type(fast._rep.rep) is type(slow._rep.rep)


# -- differentiating: symengine's free symbols and the walk with one hash a node --------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(expressions(), min_size=1, max_size=3))
def test_symengines_free_symbols_are_the_symbols_of_its_tree(outputs: list[sp.Expr]) -> None:
    for output in outputs:
        converted = se.sympify(output)
        assert converted.free_symbols == symbols_in((converted,))


def _two_hashes(expressions: Iterable[Any]) -> Iterator[Any]:
    seen: set[Any] = set()
    stack = list(expressions)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(node.args)


@settings(max_examples=60, deadline=None)
@given(st.lists(expressions(), min_size=1, max_size=4))
def test_the_distinct_parts_come_in_the_order_of_the_walk_with_two_hashes(outputs: list[sp.Expr]) -> None:
    assert list(distinct_nodes(outputs)) == list(_two_hashes(outputs))


# -- the whole cell: model and Jacobian as before on the benchmark's maps ---------------------------------------------

def test_the_benchmarks_map_reads_and_differentiates_as_sympys_evaluation_builds_it() -> None:
    """The 10 x 10 map of benchmarks/symbolic.py, read with the shortcuts, against sympy's operators and diff."""
    a = sp.symbols("a0:10", real=True)
    rows = [f"sin(a{i})*a{(i + 1) % 10}**2 + exp(a{(i - 1) % 10}/10) + a{i}*a{(i + 3) % 10} - cos(a{(i + 5) % 10})*a{i}"
            for i in range(10)]
    model = parse_cell(f"f({', '.join(map(str, a))}) = [{', '.join(rows)}]")
    built = [sp.sin(a[i]) * a[(i + 1) % 10]**2 + sp.exp(a[(i - 1) % 10] / 10) + a[i] * a[(i + 3) % 10]
             - sp.cos(a[(i + 5) % 10]) * a[i] for i in range(10)]
    assert [sp.srepr(e) for e in model.expressions] == [sp.srepr(e) for e in built]
    matrix = calculus.jacobian(model.expressions, model.inputs)
    assert sp.srepr(matrix) == sp.srepr(_item_by_item(10, 10, {(i, j): e for (i, j), e in
                                                               sp.Matrix(built).jacobian(a).todok().items()}))


@pytest.mark.parametrize("number", [sp.Integer(0), sp.Integer(1), sp.Integer(-1), sp.Integer(2), sp.Rational(1, 2),
                                    sp.Rational(-1, 3), sp.Rational(3, 1)], ids=str)
def test_zero_or_one_is_sympys_equality_with_0_and_1(number: sp.Rational) -> None:
    assert canonical._zero_or_one(number) == (number in (0, 1))


@pytest.mark.parametrize("value", [sp.Integer(n) for n in (10, -2, 1, -1, 3, 0)] + [x, x + 1, sp.Rational(2, 3),
                                                                                     sp.Float(2.5), sp.pi], ids=str)
def test_a_reciprocal_is_sympys_power_to_minus_one(value: sp.Expr) -> None:
    assert sp.srepr(canonical.reciprocal(value)) == sp.srepr(sp.Pow(value, -1))


@pytest.mark.parametrize("make", sorted(canonical.KEPT_AT_A_SYMBOL, key=lambda f: f.__name__))
def test_a_function_built_directly_starts_knowing_only_that_it_is_commutative(make: Any) -> None:
    """Nothing learnt of the template's own argument (a real Dummy) is handed on to another argument."""
    assert dict(canonical.unevaluated(make, x)._assumptions) == {"commutative": True}
