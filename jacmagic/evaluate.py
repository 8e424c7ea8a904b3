"""Result -> compiled numeric evaluator: built once per cell, shared by `.at()`, `--at`, `--check` and widgets.

`lambdify` with common-subexpression elimination to numpy. Inputs are always float arrays, so a negative base or a
division by zero gives nan or inf (never a Python complex or ZeroDivisionError), and every entry is broadcast to
the points' shape: lambdify returns a bare scalar for a constant entry (sympy #5642), which would break a grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp


class Evaluator:
    """A matrix of expressions compiled to numpy; call it with one value (or array) per argument."""

    def __init__(self, matrix: sp.MatrixBase, arguments: Sequence[sp.Symbol]) -> None:
        self.shape: tuple[int, int] = (matrix.rows, matrix.cols)
        self.arguments = tuple(arguments)
        self._function = sp.lambdify(self.arguments, list(matrix), modules="numpy", cse=True)
        # Undefined points give nan/inf silently; as a decorator errstate costs half of a `with` block.
        self._quiet = np.errstate(all="ignore")(self._function)
        self._size = matrix.rows * matrix.cols

    def __call__(self, *values: object) -> np.ndarray:
        """The matrix at the points: shape (m, n) for scalars, (..., m, n) for arrays of one shape."""
        if all(isinstance(v, (float, int)) for v in values):
            return self.point(*values)  # type: ignore[arg-type]
        return self._general(values)

    def point(self, *values: float) -> np.ndarray:
        """The matrix at one point, shape (m, n): the hot path of a slider update. numpy scalars are 4x faster
        than 0-d arrays and, unlike Python floats, give inf/nan instead of raising or turning complex."""
        try:
            entries = self._quiet(*map(np.float64, values))
            return np.fromiter(entries, float, self._size).reshape(self.shape)
        except (ArithmeticError, ValueError, TypeError):  # a complex entry, or a power too large for a float
            return self._general(values)

    def _general(self, values: Sequence[object]) -> np.ndarray:
        arrays = [np.asarray(v, dtype=float) for v in values]
        entries = self._entries(arrays)
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        out = np.empty(shape + (len(entries),), dtype=float)
        for k, entry in enumerate(entries):
            out[..., k] = _real_part(entry)
        return out.reshape(shape + self.shape)

    def _entries(self, values: Sequence[Any]) -> list[Any]:
        try:
            return list(self._quiet(*values))
        except (ArithmeticError, ValueError, TypeError):
            # e.g. an exact integer power too large for a float: the whole point is undefined
            return [np.nan] * (self.shape[0] * self.shape[1])


def _real_part(entry: Any) -> Any:
    """A complex value is not a value of a real map: nan, unless its imaginary part is exactly zero."""
    if np.iscomplexobj(entry):
        array = np.asarray(entry)
        return np.where(array.imag == 0, array.real, np.nan)
    return entry


def determinant_at(matrices: np.ndarray) -> np.ndarray:
    """det of the numeric Jacobian at each point; nan where any entry is undefined."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(matrices).all(axis=(-2, -1))
        safe = np.where(finite[..., None, None], matrices, 0.0)
        return np.where(finite, np.linalg.det(safe), np.nan)
