"""The entry level's functions of a whole vector or matrix (sum, softmax, det, cross_entropy, ...) as sympy
expressions of its entries; the function table (`chain.functions`) names them."""

from __future__ import annotations

from typing import Any

import sympy as sp

from jacmagic.errors import CellError


def _entries(value: Any) -> list[Any]:
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


def total(value: Any) -> sp.Expr:
    """The sum of a matrix's entries (a number stays itself)."""
    return sp.Add(*_entries(value))


def mean(value: Any) -> sp.Expr:
    entries = _entries(value)
    return sp.Add(*entries) / len(entries)


def transposed(value: Any) -> Any:
    return value.T if isinstance(value, sp.MatrixBase) else value


def _same_shape(value: Any, entries: list[Any]) -> Any:
    return sp.ImmutableMatrix(value.rows, value.cols, entries) if isinstance(value, sp.MatrixBase) else entries[0]


def logsumexp(value: Any) -> sp.Expr:
    """log(sum(exp(z))), the smooth maximum; its gradient is softmax(z)."""
    return sp.log(sp.Add(*(sp.exp(e) for e in _entries(value))))


def softmax(value: Any) -> Any:
    """exp(z_i) / sum_j exp(z_j), in the shape of z; its Jacobian is diag(s) - s s^T."""
    entries = _entries(value)
    denominator = sp.Add(*(sp.exp(e) for e in entries))
    return _same_shape(value, [sp.exp(e) / denominator for e in entries])


def log_softmax(value: Any) -> Any:
    """z_i - logsumexp(z), in the shape of z; its Jacobian is I - 1 s^T."""
    lse = logsumexp(value)
    return _same_shape(value, [e - lse for e in _entries(value)])


def norm(value: Any) -> sp.Expr:
    """The Euclidean norm of all entries (the Frobenius norm of a matrix); its gradient is x / |x|."""
    return sp.sqrt(sp.Add(*(e**2 for e in _entries(value))))


def square(name: str, value: Any) -> sp.MatrixBase:
    """A square matrix (a number as 1 x 1) for tr, det, logdet and inv; another shape is the user's mistake."""
    matrix = value if isinstance(value, sp.MatrixBase) else sp.ImmutableMatrix([[value]])
    if matrix.rows != matrix.cols:
        raise CellError(f"{name}(X) needs a square matrix, got {matrix.rows} x {matrix.cols}")
    return matrix


def det(value: Any) -> sp.Expr:
    """det(X); up to 4 x 4 as the sum over permutations written out, unsimplified: sympy's own det cancels
    rational entries (of an inverse) for seconds."""
    matrix = square("det", value)
    n = matrix.rows
    if n > 4:
        return matrix.det()
    from itertools import permutations

    from sympy.combinatorics import Permutation  # loaded only for a determinant

    return sp.Add(*(Permutation(list(p)).signature() * sp.Mul(*(matrix[i, p[i]] for i in range(n)))
                    for p in permutations(range(n))))


def dot(left: Any, right: Any) -> sp.Expr:
    """The sum of the products of matching entries (the caller checks that the shapes match)."""
    return sp.Add(*(a * b for a, b in zip(_entries(left), _entries(right))))


def where(condition: sp.Basic, then: sp.Expr, otherwise: sp.Expr) -> sp.Expr:
    return sp.Piecewise((then, condition), (otherwise, True))


def _matched(what: str, left: Any, right: Any) -> tuple[list[Any], list[Any]]:
    """Two arrays' entries, refused unless they have one shape."""
    shapes = [v.shape if isinstance(v, sp.MatrixBase) else (1, 1) for v in (left, right)]
    if shapes[0] != shapes[1]:
        raise CellError(f"{what} needs two arrays of one shape, got {' and '.join(f'{r} x {c}' for r, c in shapes)}")
    return _entries(left), _entries(right)


def cross_entropy(z: Any, y: Any) -> sp.Expr:
    """-sum(y * log_softmax(z)) of logits z: logsumexp(z) - yᵀz for one-hot or probability y; its gradient by
    z is softmax(z) - y (times sum(y)), by y -log_softmax(z)."""
    logits, targets = _matched("cross_entropy(z, y)", z, y)
    lse = logsumexp(z)
    return sp.Add(*(t * (lse - e) for e, t in zip(logits, targets)))


def mse(a: Any, b: Any) -> sp.Expr:
    """The mean of the squared differences of matching entries; its gradient by a is 2 (a - b) / n."""
    left, right = _matched("mse(a, b)", a, b)
    return sp.Add(*((p - q) ** 2 for p, q in zip(left, right))) / len(left)


def trace(value: Any) -> sp.Expr:
    return square("tr", value).trace()


def logdet(value: Any) -> sp.Expr:
    return sp.log(det(square("logdet", value)))


def inverse(value: Any) -> sp.MatrixBase:
    """inv(X) as adj(X) / det(X), with det written out as `det` writes it."""
    return sp.ImmutableMatrix(square("inv", value).adjugate() / det(value))
