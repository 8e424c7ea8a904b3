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

    def __call__(self, *values: object) -> np.ndarray:
        """The matrix at the points: shape (m, n) for scalars, (..., m, n) for arrays of one shape."""
        if all(isinstance(v, (float, int)) for v in values):
            at_point = self._at_point([np.float64(v) for v in values])  # type: ignore[arg-type]
            if at_point is not None:
                return at_point
        arrays = [np.asarray(v, dtype=float) for v in values]
        entries = self._entries(arrays)
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        out = np.empty(shape + (len(entries),), dtype=float)
        for k, entry in enumerate(entries):
            out[..., k] = _real_part(entry)
        return out.reshape(shape + self.shape)

    def _at_point(self, scalars: list[np.float64]) -> np.ndarray | None:
        """The hot path of a slider update: numpy scalars (4x faster than 0-d arrays), one array at the end;
        None when an entry came out complex and needs the general path."""
        entries = self._entries(scalars)
        try:
            return np.array(entries, dtype=float).reshape(self.shape)
        except (TypeError, ValueError):
            return None

    def _entries(self, values: Sequence[Any]) -> list[Any]:
        try:
            with np.errstate(all="ignore"):
                return list(self._function(*values))
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
