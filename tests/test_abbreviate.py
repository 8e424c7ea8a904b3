"""A matrix stays a matrix (issue 24): a Jacobian too wide for the page is shown with its repeated parts named
(u, σ, t, S) and a "where" line, and the names substituted back give the Jacobian exactly and its numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic import jacobian
from jacmagic.chain.abbreviate import _chosen, _repeats, abbreviated
from jacmagic.chain.functions import sigmoid
from jacmagic.result import JacobianResult

NEURON = "f(w0, w1, w2, x0, x1) = sigmoid(w0*x0 + w1*x1 + w2)"
SOFTMAX = "f(a, b, c) = softmax([a, b, c])"
LAYER = "def layer(x1, x2):\n    z = 0.5*x1 - 1.2*x2\n    return [np.tanh(z), sigmoid(z)]"  # demo 01


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _neuron(p: np.ndarray) -> np.ndarray:
    w0, w1, w2, x0, x1 = p
    return np.array([_sigmoid(w0 * x0 + w1 * x1 + w2)])


def _softmax(p: np.ndarray) -> np.ndarray:
    e = np.exp(p)
    return e / e.sum()


def _layer(p: np.ndarray) -> np.ndarray:
    z = 0.5 * p[0] - 1.2 * p[1]
    return np.array([np.tanh(z), _sigmoid(z)])


def central_differences(function: Callable[[np.ndarray], np.ndarray], point: np.ndarray,
                        step: float = 1e-6) -> np.ndarray:
    """d function / d point, column by column, by symmetric differences."""
    columns = []
    for j in range(point.size):
        shift = np.zeros(point.size)
        shift[j] = step
        columns.append((function(point + shift) - function(point - shift)) / (2 * step))
    return np.stack(columns, axis=1)


def abbreviated_at(result: JacobianResult, point: np.ndarray) -> np.ndarray:
    """The shown (abbreviated) matrix at a point: each name's value from the ones before it, then the entries."""
    short = abbreviated(result.matrix, result.symbolic.model)
    values: dict[sp.Symbol, sp.Expr] = dict(zip(result.inputs, (sp.Float(v) for v in point)))
    for symbol, definition in short.names:
        values[symbol] = definition.xreplace(values).evalf()
    return np.array(short.matrix.xreplace(values).evalf().tolist(), dtype=float)


def jacobian_row(latex: str) -> str:
    return next(row for row in latex.split(r" \\ ") if "J = " in row)


@pytest.mark.parametrize(("cell", "function", "names"), [
    (NEURON, _neuron, [r"u = w_{0} x_{0} + w_{1} x_{1} + w_{2}", r"\sigma = \sigma\left(u\right)"]),
    (SOFTMAX, _softmax, [r"S = e^{a} + e^{b} + e^{c}"]),
    (LAYER, _layer, [r"u = 0.5 x_{1} - 1.2 x_{2}", r"t = \tanh{\left(u \right)}", r"\sigma = \sigma\left(u\right)"]),
], ids=["neuron", "softmax", "layer"])
def test_published_examples_stay_a_matrix_with_their_repeated_parts_named(
        cell: str, function: Callable[[np.ndarray], np.ndarray], names: list[str]) -> None:
    result = jacobian(cell)
    latex = result.latex()
    assert "entry by entry" not in latex
    assert r"\begin{matrix}" in jacobian_row(latex)
    where = next(row for row in latex.split(r" \\ ") if r"\text{where}" in row)
    for name in names:
        assert name in where
    assert [f"{sp.latex(s)} = " for s, _ in result.abbreviations] == [n.split("= ")[0] + "= " for n in names]
    text = str(result)
    assert "where " in text and "entry by entry" not in text
    point = np.random.default_rng(0).normal(size=len(result.inputs))
    np.testing.assert_allclose(abbreviated_at(result, point), central_differences(function, point),
                               rtol=1e-6, atol=1e-8)


def test_the_matrix_itself_keeps_the_full_expressions() -> None:
    result = jacobian(NEURON)
    named = {s for s, _ in result.abbreviations}
    assert named and not named & result.matrix.free_symbols
    assert result.matrix.has(sigmoid)


def test_an_assignment_cell_names_the_parts_as_the_cell_did() -> None:
    result = jacobian("z = 0.5*x1 - 1.2*x2\nh1 = tanh(z)\nh2 = sigmoid(z)")
    assert [s.name for s, _ in result.abbreviations] == ["z", "t", "sigma"]
    assert r"\text{where}\ z = 0.5 x_{1} - 1.2 x_{2}" in result.latex()


def test_names_never_clash_with_the_maps_own_names() -> None:
    result = jacobian("f(u, v, sigma, S, t) = [sigmoid(u*v + sigma*S + t), tanh(u*v + sigma*S + t)]")
    names = {s.name for s, _ in result.abbreviations}
    assert names and not names & {"u", "v", "sigma", "S", "t"}
    assert abbreviated(result.matrix, result.symbolic.model).expanded() == result.matrix


def test_entry_by_entry_only_when_even_the_named_matrix_is_too_wide_and_it_says_why() -> None:
    variables = [f"w{k}" for k in range(6)] + [f"x{k}" for k in range(6)]
    pre = " + ".join(f"w{k}*x{k}" for k in range(6))
    result = jacobian(f"f({', '.join(variables)}) = sigmoid({pre})")
    assert result.abbreviations
    assert "too wide for a line even with names: entry by entry below" in result.latex()


def test_a_matrix_that_fits_is_shown_whole_without_names() -> None:
    latex = jacobian("f(x, y) = [sigmoid(x*y + 1), x]").latex()
    assert r"\text{where}" not in latex and r"\sigma\left(x y + 1\right)" in latex


# Random maps: activations of sums of products of a few variables, combined by sums and products.

VARIABLES = ("x", "y", "z")


@dataclass(frozen=True)
class Term:
    """A formula as jacmagic reads it and as numpy computes it."""

    text: str
    value: Callable[[dict[str, float]], float]


ACTIVATIONS: dict[str, Callable[[float], float]] = {"sigmoid": lambda v: float(_sigmoid(np.float64(v))),
                                                    "tanh": np.tanh, "exp": np.exp}


@st.composite
def products(draw: st.DrawFn) -> Term:
    coefficient = draw(st.sampled_from([1, 2, -3, 0.5]))
    names = draw(st.lists(st.sampled_from(VARIABLES), min_size=1, max_size=2))
    return Term(f"{coefficient}*" + "*".join(names),
                lambda p, c=coefficient, ns=tuple(names): c * float(np.prod([p[n] for n in ns])))


@st.composite
def activations(draw: st.DrawFn) -> Term:
    """sigmoid, tanh or exp of a sum of products; exp's argument quartered so that it stays in floats."""
    name = draw(st.sampled_from(sorted(ACTIVATIONS)))
    terms = tuple(draw(st.lists(products(), min_size=1, max_size=3)))
    scale = 4 if name == "exp" else 1
    return Term(f"{name}(({' + '.join(t.text for t in terms)})/{scale})",
                lambda p: float(ACTIVATIONS[name](sum(t.value(p) for t in terms) / scale)))


@st.composite
def outputs(draw: st.DrawFn) -> Term:
    left, right = draw(activations()), draw(st.one_of(activations(), products()))
    if draw(st.booleans()):
        return Term(f"{left.text} * {right.text}", lambda p: left.value(p) * right.value(p))
    return Term(f"{left.text} + {right.text}", lambda p: left.value(p) + right.value(p))


def _repeated_activations(matrix: sp.ImmutableMatrix) -> Counter[sp.Basic]:
    return Counter(node for entry in matrix for node in sp.preorder_traversal(entry)
                   if node.func.__name__ in ("sigmoid", "tanh") and not node.args[0].is_Atom)


@settings(max_examples=30, deadline=None)
@given(st.lists(outputs(), min_size=1, max_size=3))
def test_random_maps_name_every_repeated_activation_and_give_the_jacobian_back(terms: list[Term]) -> None:
    result = jacobian(f"f({', '.join(VARIABLES)}) = [{', '.join(t.text for t in terms)}]")
    short = abbreviated(result.matrix, result.symbolic.model)
    assert short.expanded() == result.matrix
    assert tuple(short.names) == result.abbreviations
    repeated = {node for node, seen in _repeated_activations(result.matrix).items() if seen > 1}
    for full, named in zip(result.matrix, short.matrix):
        if any(full.has(node) for node in repeated):
            assert named != full and named.free_symbols & {s for s, _ in short.names}
    result.latex(), str(result)  # renders, whichever way it is shown
    point = np.random.default_rng(len(terms)).uniform(-1, 1, size=len(VARIABLES))

    def function(p: np.ndarray) -> np.ndarray:
        return np.array([t.value(dict(zip(VARIABLES, p))) for t in terms])
    np.testing.assert_allclose(abbreviated_at(result, point), central_differences(function, point),
                               rtol=1e-5, atol=1e-7)


def test_several_layers_of_units_are_numbered_alike() -> None:
    """Four units: u₁ ... u₄ and σ₁ ... σ₄, each σₖ = σ(uₖ), not u, v, w, then something else."""
    units = [f"sigmoid({k}*x*y + z + {k}*x)" for k in range(1, 5)]
    result = jacobian(f"f(x, y, z) = [{', '.join(units)}]")
    names = [s.name for s, _ in result.abbreviations]
    assert names == [f"{kind}_{k}" for k in range(1, 5) for kind in ("u", "sigma")]
    assert all(definition == sigmoid(sp.Symbol(f"u_{k}")) for k, (_, definition) in
               enumerate(result.abbreviations[1::2], start=1))


# The shortcut (issue 27): a matrix without a repeated sum or activation value is not searched. The search itself
# must name nothing in every such matrix.

MIXED_10 = ("f(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9) = [" + ", ".join(
    f"sin(x{i})*x{(i + 1) % 10}**2 + exp(x{(i - 1) % 10}/10) + x{i}*x{(i + 3) % 10} - cos(x{(i + 5) % 10})*x{i}"
    for i in range(10)) + "]")  # benchmarks/symbolic.py's 10 x 10 map


@pytest.mark.parametrize("cell", [MIXED_10, NEURON, SOFTMAX, LAYER, "f(x, y) = [x**2*y, 5*x + sin(y)]",
                                  "f(x, y) = [sin(x + y), cos(x + y)]", "f(x, y) = [x*y, x*y]"])
def test_the_search_is_skipped_only_where_it_names_nothing(cell: str) -> None:
    matrix = jacobian(cell).matrix
    assert _repeats(matrix) or _chosen(matrix) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(outputs(), products(), activations()), min_size=1, max_size=3))
def test_random_maps_skip_the_search_only_where_it_names_nothing(terms: list[Term]) -> None:
    matrix = jacobian(f"f({', '.join(VARIABLES)}) = [{', '.join(t.text for t in terms)}]").matrix
    assert _repeats(matrix) or _chosen(matrix) == []


def _counted(expr: sp.Basic, known: dict[sp.Basic, tuple[int, int]] | None = None) -> tuple[int, int]:
    """Nodes and depth of the tree written out without sharing, counted by recursion (the reference); `known`:
    the sizes of symbols that stand for larger trees."""
    if known and expr in known:
        return known[expr]
    parts = [_counted(a, known) for a in expr.args]
    return 1 + sum(n for n, _ in parts), 1 + max((d for _, d in parts), default=0)


def test_tree_sizes_remembered_are_the_counted_sizes() -> None:
    """Issue 27: a display asks the size of the same entries several times (is the matrix big, may it be searched,
    is an entry long); each whole expression's size is remembered, and a size asked with `known` sizes of symbols
    is never taken from what was remembered without them."""
    from jacmagic.model import tree_size

    x, y, z = sp.symbols("x y z", real=True)
    shared = sp.sin(x * y) + sp.exp(z / 10)
    expressions = [x, shared, shared**2 * shared.diff(x), sp.Matrix([[x * y, sp.cos(shared)]])[1],
                   sp.tanh(shared * shared.diff(y)) - 3 * x, sp.Integer(4)]
    for limit in (2, 10, 10_000):
        for _ in range(2):
            for expr in expressions:
                nodes, depth = _counted(expr)
                assert tree_size((expr,), limit) == (min(nodes, limit + 1), depth)
            total = sum(_counted(e)[0] for e in expressions)
            assert tree_size(expressions, limit)[0] == min(total, limit + 1)
    assert tree_size((shared,), 10_000, known={x: (50, 7)}) == _counted(shared, {x: (50, 7)}) != _counted(shared)
