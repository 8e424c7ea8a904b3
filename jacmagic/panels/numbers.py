"""Numbers as a panel shows them: HTML tables styled as bracketed matrices and bracketed vectors, cut to the window
like every view, undefined values marked; plain f-strings, so a panel's update calls no sympy."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from jacmagic.panels.layout import scrolling
from jacmagic.views.numbers import bracketed, number, window
from jacmagic.views.render import SHOWN


def number_cell(value: float, digits: int) -> str:
    """`render.number` as HTML: undefined and infinite values marked in red."""
    text = number(value, digits)
    return text if math.isfinite(value) else f'<span class="jacmagic-undefined">{text}</span>'


def table(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], digits: int,
           total: tuple[int, int] | None = None) -> str:
    """A small labelled numeric matrix in the panel's matrix style, cut to the window like every view. With
    `total`, `values` and the labels hold only the window's rows and columns of a matrix of that shape (one too
    large to build whole)."""
    values = np.atleast_2d(values)
    count_rows, count_cols = total or values.shape
    shown_rows, shown_cols = window(count_rows), window(count_cols)
    row_at = {i: k for k, i in enumerate(i for i in shown_rows if i is not None)} if total else None
    col_at = {j: k for k, j in enumerate(j for j in shown_cols if j is not None)} if total else None

    def place(index: int, at: dict[int, int] | None) -> int:
        return index if at is None else at[index]
    head = "<tr><th></th>" + "".join(f"<th>{'…' if j is None else columns[place(j, col_at)]}</th>"
                                     for j in shown_cols) + "</tr>"
    body = "".join(
        f"<tr><th>{'⋮' if i is None else rows[place(i, row_at)]}</th>" + "".join(
            "<td>⋱</td>" if i is None and j is None else "<td>⋮</td>" if i is None else "<td>…</td>" if j is None
            else f"<td>{number_cell(float(values[place(i, row_at), place(j, col_at)]), digits)}</td>"
            for j in shown_cols) + "</tr>"
        for i in shown_rows)
    cut = count_rows > SHOWN or count_cols > SHOWN
    shape = f'<div style="opacity:0.6">{count_rows:,} x {count_cols:,}</div>' if cut else ""
    return scrolling(f'<table class="jacmagic-matrix">{head}{body}</table>') + shape


def vector(values: np.ndarray, digits: int) -> str:
    return bracketed([number_cell(float(v), digits) for v in np.ravel(values)])
