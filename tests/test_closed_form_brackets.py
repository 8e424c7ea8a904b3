"""The closed forms' brackets: only those that matter are printed (2(a − t)·a·(1 − a)·x, never 2((a − t)·a·(1 − a)·x)),
checked by reading the printed text back with the precedence it claims (sums, then ⊙ · / left to right, then a
product written side by side, then powers and transposes) and evaluating it: equal to the formula's own numbers over
the hunt's generated closed forms and over random formulas, so no bracket that matters is dropped. And the
walkthrough's note in place of a closed form too long to read."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.chain import closed_form_tree as t
from jacmagic.chain.closed_form import closed_forms
from jacmagic.errors import JacmagicError
from jacmagic.read.network import read_network
from jacmagic.result import JacobianResult

from .closed_form_cells import random_cell, random_point
from .helpers import assert_close

Values = dict[str, np.ndarray]
# The nodes whose brackets are tested; anything else (a name, a function, a sum of entries) stands as an atom.
OPERATORS = (t.Sum, t.Scale, t.Hadamard, t.Quotient, t.MatProduct, t.Power, t.Flip)
# An atom written so that it reads back at its precedence, as two parts p and q (q a number, C) whose grouping
# matters: a bracket dropped around it changes the numbers read.
AT_PRECEDENCE = {9: "{}", 4: "{}pᵀ", 3: "{}p {}q", 2: "{}p·{}q", 1: "{}p + {}q"}
C = 1.7
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻·", "0123456789-.")


@dataclasses.dataclass(frozen=True)
class Atom(t.Expr):
    """A formula the test does not look into, in its place: a name, its numbers and its precedence kept."""

    name: str
    value: np.ndarray = dataclasses.field(compare=False)
    level: int = 9

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return self.level

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    def _show(self, form: str, names: t.Forms | None) -> str:
        return AT_PRECEDENCE[self.level].format(self.name, self.name)

    def parts(self) -> Values:
        """The numbers of the names its text reads: itself, or its parts p and q."""
        q = np.full((1, 1), C)
        p = {9: self.value, 4: self.value.T, 3: self.value / C, 2: self.value / C, 1: self.value - C}[self.level]
        return {self.name: self.value} if self.level == 9 else {self.name + "p": p, self.name + "q": q}

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.value


def opaque(expr: t.Expr, values: Values, atoms: Values) -> t.Expr:
    """`expr` with each part that is no operator an `Atom` of its numbers at `values` (recorded in `atoms`)."""
    if isinstance(expr, OPERATORS):
        changed = {f.name: _opaque_field(getattr(expr, f.name), values, atoms) for f in dataclasses.fields(expr)}
        return dataclasses.replace(expr, **changed)
    with np.errstate(all="ignore"):
        value = np.asarray(expr.evaluate(values), dtype=float).reshape(expr.shape)
    atom = Atom(f"v{len(atoms)}", value, max(p for p in AT_PRECEDENCE if p <= expr.precedence))
    atoms.update(atom.parts())
    return atom


def _opaque_field(value: object, values: Values, atoms: Values) -> object:
    if isinstance(value, t.Expr):
        return opaque(value, values, atoms)
    if isinstance(value, tuple):
        return tuple(opaque(v, values, atoms) if isinstance(v, t.Expr) else v for v in value)
    return value


TOKEN = re.compile(r"\s*(v\d+[pq]?|\d+(?:\.\d+)?(?:e[-+]?\d+)?|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+(?:·[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?|[()+−⊙·/ᵀ])")


class Reader:
    """The printed text read back by the precedence the printer claims, evaluated with numpy."""

    def __init__(self, text: str, atoms: Values) -> None:
        self.tokens: list[str] = []
        at = 0
        while at < len(text.rstrip()):
            found = TOKEN.match(text, at)
            assert found, f"unreadable at {text[at:]!r} in {text!r}"
            self.tokens.append(found.group(1))
            at = found.end()
        self.atoms = atoms
        self.at = 0

    def read(self) -> np.ndarray:
        value = self._sum()
        assert self.at == len(self.tokens), self.tokens[self.at:]
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> str:
        self.at += 1
        return self.tokens[self.at - 1]

    def _sum(self) -> np.ndarray:
        value = self._term()
        while self._peek() in ("+", "−"):
            value = value + self._term() if self._take() == "+" else value - self._term()
        return value

    def _term(self) -> np.ndarray:
        if self._peek() == "−":
            self._take()
            return -self._product()
        return self._product()

    def _product(self) -> np.ndarray:
        value = self._side_by_side()
        while self._peek() in ("⊙", "·", "/"):
            value = value / self._side_by_side() if self._take() == "/" else value * self._side_by_side()
        return value

    def _side_by_side(self) -> np.ndarray:
        value = self._powered()
        while self._peek() is not None and self._peek() not in ("+", "−", "⊙", "·", "/", ")"):
            right = self._powered()
            value = value * right if (1, 1) in (value.shape, right.shape) else value @ right
        return value

    def _powered(self) -> np.ndarray:
        value = self._atom()
        while (mark := self._peek()) is not None and (mark == "ᵀ" or mark[0] in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"):
            self._take()
            value = value.T if mark == "ᵀ" else np.power(value, float(mark.translate(SUPERSCRIPT)))
        return value

    def _atom(self) -> np.ndarray:
        token = self._take()
        if token == "(":
            value = self._sum()
            assert self._take() == ")"
            return value
        if token in self.atoms:
            return self.atoms[token]
        return np.full((1, 1), float(token))


def reads_back(shown: t.Expr, atoms: Values) -> None:
    """The text of `shown` (its operators' brackets as printed, the rest `Atom`s) read back equals its numbers."""
    with np.errstate(all="ignore"):
        want = shown.evaluate({})
        got = Reader(shown.text(), atoms).read()
    finite = np.isfinite(want)
    assert np.array_equal(finite, np.isfinite(got)), shown.text()
    assert_close(np.where(finite, got, 0), np.where(finite, want, 0), rel=1e-9), shown.text()


def test_a_product_under_a_number_is_not_bracketed() -> None:
    """Found in the README: ∂L/∂w = 2((a − t)·a·(1 − a)·x), a product in a scalar multiple bracketed for nothing."""
    result = jacobian("z = w*x + b\na = sigmoid(z)\nL = (a - t)^2", chain=True, wrt="w,b")
    assert isinstance(result, JacobianResult)
    assert result.formula("w").text == "∂L/∂w = 2(a − t)·a·(1 − a)·x"
    assert r"2 \left(a - t\right) \, a" in result.formula("w").latex


@pytest.mark.parametrize("number", [2.0, 0.5, 1 / 3])
def test_a_numbers_multiple_of_a_product_stays_bracketed_where_it_is_a_factor(number: float) -> None:
    """2a ⊙ b written unbracketed reads as a product, so in a matrix product it is bracketed again: (2a ⊙ b)c, never
    2a ⊙ bc; and 2(3·a) never 23·a."""
    rng = np.random.default_rng(1)
    a, b, c = (Atom(f"v{k}", rng.uniform(0.5, 2.0, (2, 2))) for k in range(3))
    three = t.Const(3.0)
    for formula in (t.MatProduct(t.Scale(number, t.Hadamard(a, b)), c),
                    t.MatProduct(c, t.Scale(number, t.Quotient(a, b))), t.Scale(number, t.Hadamard(three, a)),
                    t.Scale(number, t.Scale(2.0, a))):
        reads_back(formula, {k: v for x in (a, b, c) for k, v in x.parts().items()})


@pytest.mark.parametrize("seed", range(60))
def test_the_generated_closed_forms_read_back_to_their_own_numbers(seed: int) -> None:
    """Over the hunt's generator (tests/test_closed_form_hunt.py): each formula's text, read with the precedence it
    claims, has the formula's numbers at a random point: no bracket that matters was dropped."""
    cell = random_cell(seed, lines=2 + seed % 2, depth=1 + seed % 3)
    try:
        network = read_network(cell.text)
    except JacmagicError:
        return  # a shape the grammar refuses: no cell
    point = random_point(cell, np.random.default_rng(seed))
    values = {**point, **cell.values(point)}
    for name in network.inputs:
        atoms: Values = {}
        reads_back(opaque(closed_forms(network, (name,), assume=False)[name].tree, values, atoms), atoms)


def _random_formula(rng: np.random.Generator, depth: int) -> t.Expr:
    """A random formula of 2 x 2 arrays and 1 x 1 numbers over the operators, atoms at every precedence."""
    if depth == 0 or rng.random() < 0.1:
        size = (1, 1) if rng.random() < 0.1 else (2, 2)
        value = rng.uniform(0.5, 2.0, size)
        return Atom(f"v{rng.integers(10**6)}", value, int(rng.choice(list(AT_PRECEDENCE))))
    kind = rng.integers(8)
    a, b = _random_formula(rng, depth - 1), _random_formula(rng, depth - 1)
    if kind == 0:
        return t.Sum((a, b) if rng.random() < 0.5 else (a, t.Scale(-float(rng.integers(1, 3)), b)))
    if kind == 1:
        return t.Scale(float(rng.choice([-1, 2, 0.5, -3, 1 / 3])), a)
    if kind in (2, 3):
        return t.Hadamard(a, b) if kind == 2 else t.Quotient(a, b)
    if kind in (4, 5) and a.shape == b.shape == (2, 2):
        return t.MatProduct(a, b)
    return t.Power(a, float(rng.choice([2, -1, 0.5]))) if kind == 6 else t.Flip(a)


@pytest.mark.parametrize("seed", range(300))
def test_random_formulas_read_back_to_their_own_numbers(seed: int) -> None:
    """The same over random formulas of every operator nested in every other (atoms at each precedence)."""
    formula = _random_formula(np.random.default_rng(seed), 4)
    reads_back(formula, {k: v for a in _atoms(formula) for k, v in a.parts().items()})


def _atoms(expr: t.Expr) -> list[Atom]:
    return [expr] if isinstance(expr, Atom) else [a for c in t.children(expr) for a in _atoms(c)]


def test_a_closed_form_too_long_to_read_is_a_note_of_its_length_in_text_and_latex() -> None:
    """A formula of hundreds of characters is read by nobody: past `READABLE` characters the walkthrough says how
    long it is and what writes it, in both forms; the formula itself is still R.formula's."""
    from jacmagic.views import network_view

    cell = "z = w*x + b\na = sigmoid(z)\nL = (a - t)^2"
    result = jacobian(cell, chain=True, wrt="w,b", at={"w": 0.7, "b": -0.2, "x": 1.5, "t": 1})
    assert isinstance(result, JacobianResult)
    long = len(result.formula("w").tree.text())
    shown = str(result)
    assert "  ∂L/∂w = 2(a − t)·a·(1 − a)·x" in shown
    readable, network_view.READABLE = network_view.READABLE, long - 1
    try:
        shown, latex = str(result), result.latex()
    finally:
        network_view.READABLE = readable
    note = f"(∂L/∂w's closed form is {long} characters long: R.formula('w') writes it)"
    assert f"  {note}" in shown and "∂L/∂w = 2" not in shown and "∂L/∂b = 2" in shown
    assert note in latex and r"\frac{\partial L}{\partial w} &= 2" not in latex


@pytest.mark.parametrize("seed", range(60))
def test_each_generated_closed_form_is_shown_or_noted_by_its_length(seed: int) -> None:
    """Over the hunt's generated cells (a third of their formulas are past two lines): each formula is shown when
    within `READABLE` characters, else the note says its true length, in text and LaTeX alike."""
    from jacmagic.views.network_view import READABLE, _closed_row

    cell = random_cell(seed, lines=2 + seed % 2, depth=1 + seed % 3)
    try:
        network = read_network(cell.text)
    except JacmagicError:
        return
    for name in network.inputs:
        formula = closed_forms(network, (name,), assume=False)[name]
        latex, text = _closed_row(formula)
        length = len(formula.tree.text())
        if length <= READABLE:
            assert text == f"  {formula.text}" and latex.endswith(formula.tree.latex())
        else:
            assert f"closed form is {length} characters long: R.formula('{name}') writes it)" in text
            assert text.strip() in latex and formula.tree.latex() not in latex
