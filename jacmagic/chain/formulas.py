"""A stage written entry by entry: outputs that are formulas of a few numbers, its local Jacobian dense.

What the array operations do not name - a math-form function `h(u, v) = [sin(u)*v]` fed by the stage before it, a
function called inside another - is still one operation of the graph: its value, its vector-Jacobian and
Jacobian-vector products come from its formulas and their derivatives compiled to numpy, and it shows its local
Jacobian as the matrix of those derivatives. So every `--chain` cell is walked, checked and shown by one walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

from jacmagic.chain import calculus
from jacmagic.chain.evaluate import Domain, Evaluator
from jacmagic.chain.operations import Factor, Node, Shown, short
from jacmagic.model import Guards


def _shown(matrix: sp.MatrixBase) -> Shown:
    """One entry as itself, several as a column (a row for a local Jacobian's row of partials); minus signs as
    the array operations beside it write them (`signed`)."""
    from jacmagic.notation import inline, latex, signed

    if matrix.shape == (1, 1):
        return Shown(latex(matrix[0, 0]), signed(inline(matrix[0, 0])))
    rows = [", ".join(signed(inline(e)) for e in matrix.row(i)) for i in range(matrix.rows)]
    return Shown(latex(sp.ImmutableMatrix(matrix)), "[" + "; ".join(rows) + "]")


def _product(flow: np.ndarray, slopes: np.ndarray, axis: int) -> np.ndarray:
    """Flows times slopes summed along `axis`, a 0 flowing staying 0 beside an overflowed slope (as `times`)."""
    with np.errstate(all="ignore"):
        terms = flow * slopes
        if not np.isfinite(slopes).all():
            terms = np.where(flow == 0, 0.0, terms)
        return terms.sum(axis=axis)


def _entries_of(feed: Node, params: Sequence[sp.Symbol]) -> bool:
    """Are the parameters an array's own entries (W_1,1 ... fed by W), which their names already say?"""
    name = getattr(feed, "name", None)
    return len(params) > 1 and name is not None and all(p.name.startswith(f"{name}_") for p in params)


@dataclass(eq=False)
class Formulas(Node):
    """outputs = formulas(params), the parameters bound in order to the entries of the operands (`feeds`: an
    input, an earlier value whole - g's column feeding h(u, v) - or one entry of it); the local Jacobian by an
    operand is the block of columns ∂formulas/∂(its parameters), dense."""

    params: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    feeds: tuple[Node, ...]
    guards: tuple[Guards, ...] = ()
    jacobian: sp.ImmutableMatrix = field(init=False)

    def __post_init__(self) -> None:
        self.children = self.feeds
        self.shape = (len(self.expressions), 1)
        self.jacobian = calculus.jacobian(self.expressions, self.params)
        ends = np.cumsum([0] + [feed.size for feed in self.feeds])
        self._columns = [slice(int(a), int(b)) for a, b in zip(ends, ends[1:])]

    @cached_property
    def _values(self) -> Evaluator:
        return Evaluator(sp.Matrix(self.expressions), self.params)

    @cached_property
    def _slopes(self) -> Evaluator:
        return Evaluator(self.jacobian, self.params)

    @cached_property
    def _domain(self) -> Domain:
        return Domain(self.guards or tuple(() for _ in self.expressions), self.params)

    @staticmethod
    def _numbers(operands: Sequence[np.ndarray]) -> list[float]:
        return [float(v) for o in operands for v in o.reshape(-1)]

    def evaluate(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        numbers = self._numbers(operands)
        value = self._values.point(*numbers)  # (k, 1)
        defined = self._domain.defined(*numbers)
        return value if defined is None else np.where(defined[:, None], value, np.nan)

    def _local(self, operands: Sequence[np.ndarray]) -> np.ndarray:
        return self._slopes.point(*self._numbers(operands))  # (k, n)

    def pullback(self, upstream: np.ndarray, operands: Sequence[np.ndarray], value: np.ndarray,
                 wanted: Sequence[bool]) -> list[np.ndarray]:
        flows = _product(upstream[..., 0][..., :, None], self._local(operands), -2)  # (..., n)
        return [flows[..., columns].reshape(upstream.shape[:-2] + feed.shape)
                for feed, columns in zip(self.feeds, self._columns)]

    def pushforward(self, tangents: Sequence[np.ndarray], operands: Sequence[np.ndarray],
                    value: np.ndarray) -> np.ndarray:
        moves = np.concatenate([t.reshape(-1, t.shape[-1]) for t in tangents])  # (n, p)
        return _product(moves[None], self._local(operands)[:, :, None], 1)[:, None, :]

    def factor(self, k: int) -> Factor:
        return Factor(_shown(self.jacobian[:, self._columns[k]]), "dense: each entry the derivative of a formula")

    def show(self) -> Shown:
        """The formulas, and where a parameter is not its operand's own name, what it stands for:
        v·sin(u) at (u, v) = g."""
        from jacmagic.notation import inline, latex

        formulas = _shown(sp.Matrix(self.expressions))
        renamed = []
        for feed, columns in zip(self.feeds, self._columns):
            params, shown = self.params[columns], feed.show()
            if len(params) == 1 and inline(params[0]) == shown.text or _entries_of(feed, params):
                continue
            text, tex = ", ".join(inline(p) for p in params), ", ".join(latex(p) for p in params)
            renamed.append((tex if len(params) == 1 else rf"\left({tex}\right)", text if len(params) == 1 else
                            f"({text})", shown))
        if not renamed:
            return formulas
        where_latex = ", ".join(rf"{tex} = {shown.latex}" for tex, _, shown in renamed)
        where_text = ", ".join(f"{text} = {shown.text}" for _, text, shown in renamed)
        return Shown(rf"\left. {formulas.latex} \right|_{{{where_latex}}}", f"{formulas.text} at {where_text}")

    def outside_domain(self, operands: Sequence[np.ndarray], value: np.ndarray) -> np.ndarray | bool:
        """Where a guard of the stage (what the user wrote, before sympy simplified it) has no finite value."""
        defined = self._domain.defined(*self._numbers(operands))
        return False if defined is None else ~defined[:, None]

    def undefined(self, operands: Sequence[np.ndarray]) -> str:
        failed = next((g for g in self._domain.failures(*self._numbers(operands)) if g is not None), None)
        if failed is not None:
            return failed.describe()
        return f"{short(self.show().text)} is too large for double precision here (overflow)"
