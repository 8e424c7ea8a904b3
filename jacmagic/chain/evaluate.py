"""Result -> compiled numeric evaluator: built once per cell, shared by `.at()`, `--at`, `--check` and widgets.

`lambdify` with common-subexpression elimination to numpy. Inputs are always float arrays, so a negative base or a
division by zero gives nan or inf (never a Python complex or ZeroDivisionError), and every entry is broadcast to
the points' shape: lambdify returns a bare scalar for a constant entry (sympy #5642), which would break a grid.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from jacmagic.chain.activations import stable
from jacmagic.errors import CellError
from jacmagic.lazy import np
from jacmagic.model import Guard, postorder

# Integers beyond a double's exact range are written as floats (numpy cannot hold them as integers).
_EXACT_INTEGER = 2**53
# Terms of a sum (factors of a product) written flat in compiled code; longer ones are halved (Python's compiler
# refuses a flat chain of about 3,000, less below a deep call stack).
_FLAT = 200


class _Printer(NumPyPrinter):
    """sympy's numpy code, made total over what a cell can contain: huge integers and rationals become floats
    (inf past a double), the infinities and nan become numpy's, and the Dirac delta (the derivative of a step)
    is 0 away from its jump and undefined at it, as is the derivative of max(z) of a vector where its largest entries
    tie."""

    def __init__(self, arguments: Sequence[sp.Symbol]) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True,
                          "user_functions": {}})
        self._arguments = {a: f"_{k}" for k, a in enumerate(arguments)}

    def _print_Integer(self, expr: sp.Integer) -> str:
        return str(expr.p) if abs(expr.p) < _EXACT_INTEGER else _float_literal(expr)

    def _print_Rational(self, expr: sp.Rational) -> str:
        if abs(expr.p) < _EXACT_INTEGER and expr.q < _EXACT_INTEGER:
            return f"{expr.p}/{expr.q}"
        return _float_literal(expr)

    def _print_Float(self, expr: sp.Float) -> str:
        return _float_literal(expr)

    def _print_ComplexInfinity(self, expr: sp.Basic) -> str:
        return "numpy.nan"

    def _print_NaN(self, expr: sp.Basic) -> str:
        return "numpy.nan"

    def _print_Infinity(self, expr: sp.Basic) -> str:
        return "numpy.inf"

    def _print_NegativeInfinity(self, expr: sp.Basic) -> str:
        return "(-numpy.inf)"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        """numpy.select of the pieces with their conditions as they are: sympy's own first runs simplify_logic on
        a condition holding an ITE, exponential in its comparisons, and raising on a zoo (log10(0) inside a max)
        when it substitutes 0 for the symbols."""
        values = ", ".join(self._print(piece.expr) for piece in expr.args)
        conditions = ", ".join(self._print(piece.cond) for piece in expr.args)
        return f"numpy.select([{conditions}], [{values}], default=numpy.nan)"

    def _print_ITE(self, expr: sp.Basic) -> str:
        """A condition chosen by a condition (a where inside a where's comparison): numpy's where keeps it boolean;
        sympy prints a Piecewise whose nan default makes it floats, which np.select refuses (every entry nan)."""
        return "numpy.where({}, {}, {})".format(*(self._print(a) for a in expr.args))

    def _print_DiracDelta(self, expr: sp.Basic) -> str:
        argument = self._print(expr.args[0])
        return f"numpy.where(numpy.equal({argument}, 0), numpy.nan, 0.0)"

    def _print_Heaviside(self, expr: sp.Basic) -> str:
        """A step the user wrote says its value at 0 (heaviside(z) and ReLU's derivative take 0, a tie of max(a, b)
        its side: `extremes`); the half-valued step sympy writes for the derivative of max(z) of a whole vector
        stands where its largest entries tie, where there is no derivative: undefined there."""
        argument, at_zero = self._print(expr.args[0]), expr.args[1] if len(expr.args) > 1 else sp.S.Half
        if at_zero == sp.S.Half:
            return f"numpy.where(numpy.equal({argument}, 0), numpy.nan, numpy.heaviside({argument}, 0.5))"
        return f"numpy.heaviside({argument}, {self._print(at_zero)})"

    def _print_Max(self, expr: sp.Basic) -> str:
        return self._pairwise("numpy.maximum", expr.args)

    def _print_Min(self, expr: sp.Basic) -> str:
        return self._pairwise("numpy.minimum", expr.args)

    def _print_WrittenMax(self, expr: sp.Basic) -> str:
        return self._pairwise("numpy.maximum", expr.args)

    def _print_WrittenMin(self, expr: sp.Basic) -> str:
        return self._pairwise("numpy.minimum", expr.args)

    def _pairwise(self, function: str, args: tuple[sp.Basic, ...]) -> str:
        """max/min of many as nested pairs (sympy writes functools.reduce, a module the code does not import),
        halved at each level: a chain of 300 would pass Python's limit of nested brackets."""
        if len(args) == 1:
            return self._print(args[0])
        half = len(args) // 2
        return f"{function}({self._pairwise(function, args[:half])}, {self._pairwise(function, args[half:])})"

    def _print_Add(self, expr: sp.Expr, order: str | None = None) -> str:
        return self._halved(expr, "+") or super()._print_Add(expr, order)

    def _print_Mul(self, expr: sp.Expr) -> str:
        return self._halved(expr, "*") or super()._print_Mul(expr)

    def _halved(self, expr: sp.Expr, operator: str) -> str | None:
        """A sum or product of many terms as two bracketed halves, each halved again: written flat, 3,000 terms
        (the value of `sum(sin(x))` for x: 10000) pass the depth Python's compiler allows; None if it is short."""
        if len(expr.args) <= _FLAT:
            return None
        half = len(expr.args) // 2
        parts = (expr.func(*expr.args[:half], evaluate=False), expr.func(*expr.args[half:], evaluate=False))
        return f" {operator} ".join(f"({self._print(part)})" for part in parts)

    def _print_erf(self, expr: sp.Basic) -> str:
        return f"jacmagic_erf({self._print(expr.args[0])})"

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        """The k-th argument as _k, so that no name a user may choose (numpy, self, math, x0 beside lambdify's
        own x0 = ... lines) can shadow a module or a generated name in compiled code."""
        return self._arguments.get(expr) or super()._print_Symbol(expr)


def _float_literal(number: sp.Expr) -> str:
    """A number as a float literal that reads back exactly, inf where it passes a double."""
    try:
        value = float(number)
    except (OverflowError, ValueError):
        value = math.inf if number > 0 else -math.inf
    if math.isinf(value):
        return "numpy.inf" if value > 0 else "(-numpy.inf)"
    if math.isnan(value):
        return "numpy.nan"
    return f"({value!r})"


@cache
def _erf_vector() -> Any:
    return np.vectorize(math.erf, otypes=[float])


def jacmagic_erf(values: Any) -> Any:
    """erf on floats or arrays of floats, as numpy floats (math.erf returns Python floats, whose negative
    fractional powers turn complex instead of nan)."""
    result = _erf_vector()(values)
    return result[()] if result.ndim == 0 else result


def anonymous(expressions: Sequence[sp.Expr],
              arguments: Sequence[sp.Symbol]) -> tuple[list[sp.Expr], tuple[sp.Symbol, ...]]:
    """The expressions on arguments named _0, _1, ..., so that no name a user may choose (numpy, self, math,
    x0 beside lambdify's own x0 = ... lines) can shadow a module or a generated name in compiled code. Not
    sympy's Dummy: lambdify substitutes all of an expression once per Dummy argument. Substituted once per
    distinct subexpression: a composition shares its subtrees."""
    renamed = tuple(sp.Symbol(f"_{k}", **a.assumptions0) for k, a in enumerate(arguments))
    done: dict[sp.Basic, sp.Basic] = dict(zip(arguments, renamed))
    for node in postorder(expressions, done):
        args = [done.get(a, a) for a in node.args]
        done[node] = node.func(*args) if any(a is not b for a, b in zip(args, node.args)) else node
    return [done.get(e, e) for e in expressions], renamed


@cache
def _numpy_namespace() -> dict[str, Any]:
    """What lambdify's "numpy" module gives the compiled code (numpy's names, sympy's names for them), read from
    the names numpy has already loaded: lambdify's own `from numpy import *` also loads the submodules numpy
    imports lazily (f2py, testing, ...), a quarter of a second in every process's first compile (issue 27)."""
    from sympy.utilities.lambdify import NUMPY_DEFAULT, NUMPY_TRANSLATIONS

    names: dict[str, Any] = {name: value for name, value in vars(np).items() if not name.startswith("_")}
    names.update(NUMPY_DEFAULT)
    names.update({ours: names[theirs] for ours, theirs in NUMPY_TRANSLATIONS.items() if theirs in names})
    names["numpy"] = importlib.import_module("numpy")  # the module itself, not its lazy stand-in
    return names


# Common subexpressions are eliminated when the expressions written out are this many times their distinct
# parts: sympy's cse costs more to run than it saves in evaluation on a map whose entries share little (the
# 500 entries of the 100 x 100 map: 0.12 s against 0.06 s without, one evaluation 0.11 against 0.12 ms).
_SHARED = 2


# Python compiles at most 200 nested brackets (a few go to the code around the entries); a deeper entry (a tower
# x**x**...**x) is refused before sympy's cse and printer spend minutes on it only for Python to refuse the code.
_MAX_DEPTH = 198


def _bracketed(node: sp.Basic, argument: sp.Basic) -> bool:
    """Is `argument` written in brackets inside `node`: a function's arguments, a compound base or exponent, a
    sum in a product (a sum's terms and a product's factors are not)."""
    if isinstance(node, sp.Add):
        return False
    if isinstance(node, sp.Mul):
        return isinstance(argument, sp.Add)
    return not isinstance(node, sp.Pow) or not argument.is_Atom


def refuse_too_deep(expressions: Sequence[sp.Expr]) -> None:
    depth: dict[sp.Basic, int] = {}
    for node in postorder(expressions):
        depth[node] = max((depth[a] + _bracketed(node, a) for a in node.args), default=0)
        if depth[node] > _MAX_DEPTH:
            raise _too_deep()


def _too_deep() -> CellError:
    return CellError(f"an entry is nested over {_MAX_DEPTH} levels deep (as in a tower x**x**...**x), too deep to "
                     "compute numbers from: write it with fewer levels, or leave out what needs numbers (--at, "
                     "--check, --plot)")


def compile_numeric(expressions: Sequence[sp.Expr], arguments: Sequence[sp.Symbol]) -> Any:
    """One numpy function returning the list of `expressions` at the arguments (common subexpressions shared
    where they are many), softmax and logsumexp max-shifted (`stable`). The arguments are renamed by the
    printer, not in the expressions: rebuilding every entry on new symbols took as long as compiling them."""
    refuse_too_deep(expressions)
    stabilized = [stable(e) for e in expressions]
    names = [sp.Symbol(f"_{k}") for k in range(len(arguments))]
    return lambdified(names, stabilized, modules=[{"jacmagic_erf": jacmagic_erf}, _numpy_namespace()],
                      printer=_Printer(arguments), cse=_worth_sharing(stabilized), docstring_limit=0)


def lambdified(names: Sequence[sp.Symbol], expressions: Sequence[sp.Expr], **options: Any) -> Any:
    """sympy's lambdify, refused in words where Python refuses the code it writes (brackets nested too deep for
    the estimate of `refuse_too_deep`)."""
    try:
        return sp.lambdify(names, expressions, **options)
    except (SyntaxError, RecursionError):
        raise _too_deep() from None


def _worth_sharing(expressions: Sequence[sp.Expr]) -> bool:
    """Do the expressions repeat enough of their compound parts (a composition of layers, a product rule's
    factors) for common-subexpression elimination to pay? Counted in one walk over the distinct parts: written
    out, a composition's can be exponentially many."""
    written: dict[sp.Basic, int] = {}
    for node in postorder(expressions):
        written[node] = bool(node.args) + sum(written[a] for a in node.args)
    distinct = sum(1 for node in written if node.args)
    return sum(written[e] for e in expressions) > _SHARED * distinct


class Evaluator:
    """A matrix of expressions compiled to numpy; call it with one value (or array) per argument. Only the
    entries not identically 0 are compiled: a sparse map's Jacobian or Hessians (100 outputs of 100 x 100 with
    three entries each) compile and evaluate at the cost of their nonzero entries."""

    def __init__(self, matrix: sp.MatrixBase, arguments: Sequence[sp.Symbol]) -> None:
        self.shape: tuple[int, int] = (matrix.rows, matrix.cols)
        self.arguments = tuple(arguments)
        nonzero = sorted((i * matrix.cols + j, e) for (i, j), e in matrix.todok().items())
        self._nonzero = np.array([k for k, _ in nonzero], dtype=int)
        self._function = compile_numeric([e for _, e in nonzero], self.arguments)
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
            entries = np.asarray(self._quiet(*map(np.float64, values)))
        except (ArithmeticError, ValueError, TypeError):  # e.g. a power too large for a float
            return self._general(values)
        if entries.dtype.kind == "c":  # a complex entry: a real map has no value there
            entries = _real_part(entries)
        elif entries.dtype.kind == "O":
            return self._general(values)
        return self._placed(np.asarray(entries, dtype=float))

    def _general(self, values: Sequence[object]) -> np.ndarray:
        """The matrices at arrays of points, (..., m, n): each entry written whole into its own contiguous block
        of an entry-major array (zeros left as calloc's untouched pages), returned as a view with the points'
        axes first. Writing entry k into (..., k) of a points-major array instead strides across all of memory
        once per entry, and placing the nonzero entries afterwards copies everything once more (issue 27)."""
        arrays = [np.asarray(v, dtype=float) for v in values]
        entries = self._entries(arrays)
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        out = np.zeros((self._size,) + shape, dtype=float)
        for k, entry in zip(self._nonzero, entries):
            out[k] = _real_part(entry)
        return np.moveaxis(out.reshape(self.shape + shape), (0, 1), (-2, -1))

    @property
    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """The (rows, columns) of the entries compiled, in the order `entries` gives them."""
        return np.divmod(self._nonzero, self.shape[1])

    def entries(self, *values: object) -> np.ndarray:
        """The compiled entries alone at the points, (..., k): a sparse product needs no zeros placed around them
        (a diagonal stage of 784 entries is 614,656 written out)."""
        arrays = [np.asarray(v, dtype=float) for v in values]
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        found = self._entries(arrays)
        if not shape:  # numbers at one point: converted together
            together = _real_part(np.asarray(found))
            if together.dtype.kind == "f":
                return together
        out = np.empty(shape + (len(self._nonzero),), dtype=float)
        for k, entry in enumerate(found):
            out[..., k] = _real_part(entry)
        return out

    def _placed(self, entries: np.ndarray) -> np.ndarray:
        """The compiled entries (..., k) put in their places of the matrix (..., m, n), zeros elsewhere."""
        if len(self._nonzero) == self._size:
            return entries.reshape(entries.shape[:-1] + self.shape)
        full = np.zeros(entries.shape[:-1] + (self._size,))
        full[..., self._nonzero] = entries
        return full.reshape(entries.shape[:-1] + self.shape)

    def _entries(self, values: Sequence[Any]) -> list[Any]:
        try:
            return list(self._quiet(*values))
        except (ArithmeticError, ValueError, TypeError):
            # e.g. an exact integer power too large for a float: the whole point is undefined
            return [np.nan] * len(self._nonzero)


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


class Domain:
    """Where each output of a map is defined: all of its guards (what the user wrote, e.g. `log(x)`, before any
    simplification) have finite real values there, and its divisors are not 0."""

    def __init__(self, guards: Sequence[Sequence[Guard]], arguments: Sequence[sp.Symbol]) -> None:
        unique = list(dict.fromkeys(g for output in guards for g in output))
        index = {g: k for k, g in enumerate(unique)}
        self.guards = tuple(unique)
        self._rows = [np.array([index[g] for g in output], dtype=int) for output in guards]
        self._divisor = np.array([g.divisor for g in unique], dtype=bool)
        self._values = Evaluator(sp.Matrix([g.expression for g in unique]), arguments) if unique else None

    def passed(self, *values: Any) -> np.ndarray:
        """For each guard, at the points (..., k): does it hold?"""
        if self._values is None:
            return np.ones((0,), dtype=bool)
        found = self._values(*values)[..., 0]
        return np.isfinite(found) & ~(self._divisor & (found == 0))

    def defined(self, *values: Any) -> np.ndarray | None:
        """For each output, at the points (..., m); None when every output is defined everywhere."""
        if self._values is None:
            return None
        passed = self.passed(*values)
        return np.stack([passed[..., rows].all(axis=-1) for rows in self._rows], axis=-1)

    def failures(self, *values: float) -> list[Guard | None]:
        """For each output, the first of its guards that does not hold at one point (None: it is defined)."""
        if self._values is None:
            return [None] * len(self._rows)
        passed = self.passed(*values)
        return [next((self.guards[k] for k in rows if not passed[k]), None) for rows in self._rows]

    def mask(self, matrices: np.ndarray, *values: Any) -> np.ndarray:
        """The Jacobian(s) with the rows of undefined outputs set to nan."""
        defined = self.defined(*values)
        if defined is None or defined.all():
            return matrices
        return np.where(defined[..., :, None], matrices, np.nan)


def is_singular(matrix: np.ndarray) -> bool:
    """Is a square numeric Jacobian singular up to rounding? Each row is scaled to unit size first, so that
    neither a huge determinant (1e308) nor a tiny row (1e-200) decides it: singularity does not depend on scale."""
    sizes = np.abs(matrix).max(axis=1)
    if not np.isfinite(matrix).all() or (sizes == 0).any():
        return bool((sizes == 0).any())
    with np.errstate(all="ignore"):
        return bool(abs(np.linalg.det(matrix / sizes[:, None])) <= 1e-12)


# Relative to its scale, a number this small is rounding: 0.
_TINY = 1e-9
# What the Hessian's eigenvalues say, by whether the gradient is 0 there and by their signs.
_READINGS = {
    (True, "zero"): "a critical point, and inconclusive: an eigenvalue is 0, so the second-derivative test says "
                    "nothing",
    (True, "positive"): "a critical point: a local minimum (all eigenvalues positive)",
    (True, "negative"): "a critical point: a local maximum (all eigenvalues negative)",
    (True, "mixed"): "a critical point: a saddle (eigenvalues of both signs)",
    (False, "zero"): "flat along an eigenvector (an eigenvalue is 0)",
    (False, "positive"): "curving up in every direction (convex here)",
    (False, "negative"): "curving down in every direction (concave here)",
    (False, "mixed"): "curving up along some directions, down along others",
}


def curvature(hessian: np.ndarray, gradient: np.ndarray, point: Sequence[float]) -> tuple[np.ndarray, str]:
    """The eigenvalues of a symmetric Hessian at a point (ascending), and what they say: the second-derivative
    test where the gradient is zero, the shape of the surface elsewhere. Judged by scale alone, so that the same
    map times 10^k, or at a point 10^k times closer, reads the same: an eigenvalue is 0 when tiny beside the
    largest, and the gradient is 0 when tiny beside how much the Hessian changes it across the point's scale
    (x*y at (1e-10, 0) has gradient 1e-10, as large as the Hessian moves it there: not a critical point)."""
    if not (np.isfinite(hessian).all() and np.isfinite(gradient).all()):
        return np.full(hessian.shape[0], np.nan), "undefined here"
    eigenvalues = np.linalg.eigvalsh(hessian)
    zero = np.abs(eigenvalues) <= _TINY * float(np.max(np.abs(eigenvalues)))
    reach = float(np.max(np.abs(hessian))) * float(np.max(np.abs(np.asarray(point, dtype=float)), initial=0.0))
    critical = bool(np.max(np.abs(gradient), initial=0.0) <= _TINY * reach)
    signs = ("zero" if zero.any() else "positive" if (eigenvalues > 0).all() else
             "negative" if (eigenvalues < 0).all() else "mixed")
    reading = _READINGS[critical, signs]
    return eigenvalues, reading if critical else f"not a critical point (the gradient is not 0); {reading}"


def orientation(matrix: np.ndarray) -> str:
    """What the determinant's sign says at a point, in words shared by the panel and the pictures."""
    if not np.isfinite(matrix).all():
        return "undefined here"
    if is_singular(matrix):
        return "singular here: the map squashes volume flat"
    return "orientation kept" if np.linalg.slogdet(matrix)[0] > 0 else "orientation flipped"  # no overflow
