"""Model -> derivatives: the Jacobian matrix, its determinant, and their tidying under a time budget.

Differentiation and determinants go through symengine (about 100x faster than sympy) when every function in the
map is one whose symengine derivative matches sympy's exactly; anything else (the activations, Abs, Piecewise, ...)
goes through sympy. symengine forgets sympy's assumptions, so results are mapped back onto the cell's real symbols.
A small map whose sympy derivatives come out exactly as symengine's (`sympy_agrees`), and a 2 x 2 determinant,
are computed by sympy itself: the command line's text then never imports symengine and numpy (46 ms; issue 27).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, partial
from typing import Any

import sympy as sp
from sympy.polys.domains import EXRAW, QQ, ZZ
from sympy.polys.matrices import DomainMatrix

from jacmagic.budget import Budget, undisturbed
from jacmagic.chain import canonical
from jacmagic.chain.evaluate import Evaluator
from jacmagic.chain.polynomials import PYTHAGORAS, has_squares, pythagorean, same_polynomial
from jacmagic.errors import CellError, TooManyEntries
from jacmagic.lazy import np, se
from jacmagic.model import distinct_nodes, postorder, symbols_in
from jacmagic.notation import counted

# Points at which a simplified form must give the same numbers as the original to be shown instead.
_SAMPLES = 40

# Functions whose symengine derivative and round trip to sympy equal sympy's own, checked in tests/test_calculus.py.
_SYMENGINE_SAFE = frozenset({
    sp.Add, sp.Mul, sp.Pow, sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.asin, sp.acos, sp.atan,
    sp.sinh, sp.cosh, sp.tanh, sp.asinh, sp.atanh, sp.exp, sp.log, sp.erf,
})
# One-argument functions whose sympy derivative of a monomial argument (x, 2*x*y**2) is built exactly as
# symengine's comes back; not tan and tanh (the 1 + tan(u)**2 of their derivative is distributed over differently),
# nor exp (symengine merges a product of exponentials). Checked on a generated family in tests/test_speed_paths.py.
_SAME_IN_SYMPY = frozenset({sp.sin, sp.cos, sp.sec, sp.csc, sp.asin, sp.acos, sp.atan, sp.sinh, sp.cosh, sp.asinh,
                            sp.atanh, sp.log, sp.erf})
# At most this many distinct parts for `sympy_agrees`: sympy differentiates a small map 1.5 to 2x slower than
# symengine's round trip (11 parts: 0.24 against 0.16 ms; 57 parts: 0.84 against 0.39 ms), a fraction of a
# millisecond, where importing symengine and numpy costs 46 ms.
SMALL_MAP = 40
# A symbolic determinant beyond this size is not expanded: it is shown unevaluated and computed at points.
MAX_SYMBOLIC_DET = 8
# The largest Jacobian built symbolically, as `jacobian_size` estimates it; measured at 0.3 to 3 microseconds per
# unit on a 2-core machine (a 100 x 100 tanh layer by W is 3 million: 9 s), so about 3 s at most. Larger maps go
# stage by stage, or are refused before any work starts; so no call into symengine's C++ code, which neither a
# budget nor Ctrl-C can interrupt, gets a term larger than this.
MAX_SYMBOLIC_SIZE = 1_000_000


def _terms(expression: Any) -> tuple[Any, ...]:
    return expression.args if expression.is_Add else (expression,)


def jacobian_size(expressions: Iterable[sp.Expr], variables: Iterable[sp.Symbol],
                  limit: int = MAX_SYMBOLIC_SIZE) -> int:
    """What building the Jacobian costs, estimated before starting: each term's size (written out without
    sharing) times the variables it contains, and times a quarter of its depth (the chain rule through a deep
    nesting repeats the inner derivative at every level), summed; counted up to just past `limit`. Each term's
    size is counted up to just past `limit` divided by its variables (as `tree_size` with that limit would)."""
    wanted = set(variables)
    measured: dict[sp.Basic, _Measure] = {}  # shared by the terms: the rows of a map share sin(x), exp(x/10)
    total = 0
    for expression in expressions:
        for term in _terms(expression):
            nodes, depth, symbols = _measured(term, measured)
            count = len(symbols & wanted)
            if count:
                total += min(nodes, limit // count + 2) * count * max(1, depth // 4)
            if total > limit:
                return total
    return total


# A part's nodes and depth written out (as `tree_size` counts them) and its symbols (as `symbols_in` finds them).
_Measure = tuple[int, int, frozenset[sp.Basic]]
_NO_SYMBOLS: frozenset[sp.Basic] = frozenset()


def _measured(root: sp.Basic, measured: dict[sp.Basic, _Measure]) -> _Measure:
    """`root`'s `_Measure`, each distinct part measured once, bottom-up without recursion: one walk where
    `tree_size` and `symbols_in` took two per term (issue 27: the estimate was a tenth of differentiating)."""
    stack = [root]
    while stack:
        node = stack[-1]
        if node in measured:
            stack.pop()
            continue
        args = node.args
        waiting = [a for a in args if a not in measured]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        if args:
            parts = [measured[a] for a in args]
            symbols = _NO_SYMBOLS.union(*(p[2] for p in parts))
            size = (1 + sum(p[0] for p in parts), 1 + max(p[1] for p in parts))
        else:
            symbols, size = _NO_SYMBOLS, (1, 1)
        measured[node] = (*size, symbols | {node} if node.is_Symbol else symbols)
    return measured[root]


def symengine_safe(expressions: Iterable[sp.Basic]) -> bool:
    """True when every node of every expression is a number, a symbol or a function in `_SYMENGINE_SAFE`."""
    for node in distinct_nodes(expressions):
        if not node.args:
            if not (node.is_Symbol or node.is_Number or node in (sp.pi, sp.E)):
                return False
            if node.is_Float and not math.isfinite(float(node)):  # symengine's floats overflow to Inf
                return False
        elif node.func not in _SYMENGINE_SAFE:
            return False
    return True


def sympy_agrees(expressions: Iterable[sp.Basic]) -> bool:
    """Is this a small map whose sympy Jacobian is exactly symengine's (entry by entry, as `==` and `srepr`)?
    Sums and products of symbols, rationals, pi, whole powers of symbols and `_SAME_IN_SYMPY` functions of
    monomials: the derivative of an argument that is a sum is a sum, which sympy and symengine group and sign
    differently once it multiplies (cos(3*x*y - y)'s factor 3*x - 1 comes back as -(1 - 3*x))."""
    for count, node in enumerate(distinct_nodes(expressions)):
        if count >= SMALL_MAP or not _agreeing(node):
            return False
    return True


def _agreeing(node: sp.Basic) -> bool:
    if not node.args:
        return bool(node.is_Symbol or node.is_Rational or node is sp.pi)
    if node.is_Pow:
        return bool(node.base.is_Symbol and node.exp.is_Integer)
    if node.is_Add or node.is_Mul:
        return True
    return node.func in _SAME_IN_SYMPY and all(_agreeing(factor) and not factor.is_Add and
                                               not factor.is_Function for factor in sp.Mul.make_args(node.args[0]))


def fits(expressions: Sequence[sp.Expr], variables: Iterable[sp.Symbol]) -> bool:
    """Is the Jacobian small enough to build symbolically?"""
    return jacobian_size(expressions, variables) <= MAX_SYMBOLIC_SIZE


# Differentiating may take this many budgets before it is given up as too large: it has no cheaper fallback.
DIFFERENTIATION_BUDGETS = 5


def jacobian_within(expressions: Sequence[sp.Expr], variables: Sequence[sp.Symbol],
                    budget: float) -> sp.ImmutableMatrix | CellError:
    """The Jacobian, or the error saying why it was not built: estimated too large before starting, or its time
    allowance (several budgets: there is no cheaper fallback) ran out."""
    if not fits(expressions, variables):
        return too_large(len(expressions), len(variables))
    found: sp.ImmutableMatrix | None = Budget(DIFFERENTIATION_BUDGETS * budget).run(
        lambda: jacobian(expressions, variables), None, optional=False)
    return out_of_time(budget) if found is None else found


def hessians(matrix: sp.MatrixBase, variables: Sequence[sp.Symbol],
             budget: float) -> tuple[sp.ImmutableMatrix, ...]:
    """The Hessian of each output: the Jacobian of its gradient (row i of `matrix`), n x n with entry (j, k) =
    d^2 f_i / dx_j dx_k; refused when they are too large to build (their m n^2 entries, zeros included, and
    their terms, estimated before the first is started) or to build within one allowance for all of them (a
    300 x 300 map's took 31 s, one allowance per output)."""
    m, n = matrix.rows, len(variables)
    if m * n * n > MAX_SYMBOLIC_SIZE or not fits(list(matrix), variables):
        raise TooManyEntries(f"--hessian: the Hessians of {counted(m, 'output')} by {counted(n, 'variable')} "
                             f"have {m * n * n:,} second derivatives, too many to build symbolically (more than "
                             f"{MAX_SYMBOLIC_SIZE:,}, estimated before starting); take fewer variables with "
                             "--wrt, or fewer outputs")
    allowance = Budget(DIFFERENTIATION_BUDGETS * budget)
    found: tuple[sp.ImmutableMatrix, ...] | None = allowance.run(
        lambda: tuple(jacobian(list(matrix.row(i)), variables) for i in range(m)), None, optional=False)
    if found is None:
        raise out_of_time(budget)
    return tuple(allowance.run(partial(_mirrored, h), h, optional=False) for h in found)


def _mirrored(hessian: sp.ImmutableMatrix) -> sp.ImmutableMatrix:
    """The Hessian with each pair of mixed partials that give the same numbers written alike, in the shorter of
    their two forms (the upper on a tie): differentiated in two orders, they come out in different, equal forms
    (atan2(y, x)'s 2*y**2/(x**2 + y**2)**2 - 1/(x**2 + y**2) and 1/(x**2 + y**2) - 2*x**2/(x**2 + y**2)**2),
    which a student beside "symmetric" reads as not symmetric."""
    entries = dict(hessian.todok())  # the nonzero entries: a pair may have one side 0 (written 0, or not)
    for j, k in sorted({(min(pair), max(pair)) for pair in entries if pair[0] != pair[1]}):
        upper, lower = entries.get((j, k), sp.S.Zero), entries.get((k, j), sp.S.Zero)
        if upper != lower and same_numbers(upper, lower):
            entries[j, k] = entries[k, j] = min(upper, lower, key=sp.count_ops)
    return from_entries(hessian.rows, hessian.cols, entries)


def is_symmetric(hessian: sp.MatrixBase) -> bool:
    """d^2 f / dx dy = d^2 f / dy dx (Schwarz), checked entry by entry: equal as written, or giving the same
    numbers (defined and undefined alike) at the sample points."""
    entries = hessian.todok()  # the nonzero entries: a sparse map's Hessian is mostly zeros
    zero = sp.S.Zero
    return all(entry == entries.get((k, j), zero) or same_numbers(entry, entries.get((k, j), zero))
               for (j, k), entry in entries.items() if j != k)


def too_large(outputs: int, variables: int) -> TooManyEntries:
    return TooManyEntries(f"the Jacobian ({counted(outputs, 'output')} x {counted(variables, 'variable')}) is too "
                          f"large to build symbolically (estimated before starting: more than {MAX_SYMBOLIC_SIZE:,} "
                          "terms); its values at points are still computed (R.at); to see it, differentiate by fewer "
                          "variables with --wrt, or write the map in smaller steps")


def out_of_time(budget: float) -> TooManyEntries:
    return TooManyEntries(f"the time budget ran out while differentiating symbolically (it gets "
                          f"{DIFFERENTIATION_BUDGETS} x --budget {budget:g} = {DIFFERENTIATION_BUDGETS * budget:g} s); "
                          f"give it more time with a larger --budget, e.g. --budget {max(2.0, 10 * budget):g}")


def unevaluated(matrix: sp.MatrixBase) -> list[sp.Basic]:
    """The derivatives sympy could only leave unevaluated (of floor, Mod, ...), looked for in the entries not 0
    only: reading a 100 x 100 matrix entry by entry costs 35 ms."""
    return [node for node in distinct_nodes(matrix.values()) if isinstance(node, (sp.Derivative, sp.Subs))]


# How each symengine node with arguments is built again in sympy (exp(x) is symengine's E**x), and each sympy one
# in symengine.
_REBUILT: dict[str, Any] = {**{f.__name__: partial(canonical.function, f)
                               for f in _SYMENGINE_SAFE | canonical.KEPT_AT_A_SYMBOL},  # cot: from csc's derivative
                            "Add": canonical.total, "Mul": canonical.product, "Pow": canonical.power}


@cache
def _symengine_build() -> dict[Any, Any]:
    return {f: getattr(se, f.__name__) for f in _SYMENGINE_SAFE}


def _to_sympy(value: Any, real: Mapping[str, sp.Symbol], seen: dict[Any, sp.Basic]) -> sp.Basic:
    """A symengine object back in sympy, built in one walk straight onto the cell's own (real) symbols `real`
    names, each shared part once (`seen`, kept across the entries of a matrix): three times faster than
    symengine's own conversion followed by a second rebuild to put the real symbols in (issue 27). Interruptible:
    the work is sympy's evaluation of each node, and an exception raised in it propagates."""
    found = seen.get(value)
    if found is not None:
        return found
    kind = type(value).__name__
    if kind == "Symbol":
        found = real.get(value.name) or sp.Symbol(value.name)
    elif kind == "Integer":
        found = sp.Integer(int(value))
    elif not (arguments := value.args):  # a rational, a float, pi, E: symengine's own conversion (`args` is a
        found = se.sympify(value)._sympy_()  # new tuple at each call)
    elif (build := _REBUILT.get(kind) or getattr(sp, kind, None)) is not None:  # any other that sympy has
        found = build(*(_to_sympy(argument, real, seen) for argument in arguments))
    else:
        found = se.sympify(value)._sympy_().xreplace({sp.Symbol(name): s for name, s in real.items()})
    seen[value] = found
    return found


def _to_symengine(expression: sp.Expr) -> Any:
    """`expression` in symengine, converted `undisturbed`: symengine reads sympy objects through Python calls
    whose exceptions it does not all check, so an alarm or Ctrl-C raised in one left it half-way (AttributeError:
    'sin' object has no attribute 'as_base_exp'; SystemError: ... returned a result with an exception set)."""
    with undisturbed():
        return se.sympify(expression)


def _to_symengine_known(expressions: Sequence[sp.Expr]) -> tuple[list[Any], dict[Any, sp.Basic], set[sp.Symbol]]:
    """`expressions` (all `symengine_safe`) in symengine, built bottom-up once per distinct part, and each
    compound part's sympy original by its symengine form: what a derivative shares with the map (sin(x), exp(x/10),
    x**2) is taken back as it was instead of being built and evaluated again in sympy, the larger part of the way
    back (issue 27). Only parts that symengine kept as they were, all the way down, are taken back so: it writes
    sqrt(1/x) as x**(-1/2), which sympy builds again as 1/sqrt(x); and sympy floats of two precisions are one
    symengine float. Also the symbols met on the way (`symbols_in`: all a safe expression's leaves)."""
    converted: dict[sp.Basic, Any] = {}
    known: dict[Any, sp.Basic] = {}
    altered: set[sp.Basic] = set()
    with undisturbed():
        for node in postorder(expressions):
            if not node.args:
                converted[node] = se.Symbol(node.name) if node.is_Symbol else se.sympify(node)
                if node.is_Float:
                    altered.add(node)
                continue
            args = [converted[a] for a in node.args]
            converted[node] = built = _symengine_build()[node.func](*args)
            if (altered and not altered.isdisjoint(node.args)) or not _kept(node, built, args):
                altered.add(node)
            else:
                known[built] = node
    return [converted[e] for e in expressions], known, {node for node in converted if node.is_Symbol}


def _kept(node: sp.Basic, built: Any, args: list[Any]) -> bool:
    """Did symengine build `node` as it was given, the same operation on the same arguments (exp(a) is its
    E**a)?"""
    if node.func is sp.exp:
        return type(built).__name__ == "Pow" and built.args == (se.E, args[0])
    if type(built).__name__ != node.func.__name__:
        return False
    kept = built.args  # a new tuple at each call
    return len(kept) == len(args) and (kept[0] == args[0] if len(args) == 1 else set(kept) == set(args))


def _real(symbols: Iterable[sp.Symbol]) -> dict[str, sp.Symbol]:
    """What symengine's assumption-free symbols become again in sympy, by name."""
    return {s.name: s for s in symbols}


def jacobian(expressions: Sequence[sp.Expr], variables: Sequence[sp.Symbol],
             use_symengine: bool | None = None) -> sp.ImmutableMatrix:
    """d expressions / d variables: rows are outputs, columns are variables (numerator layout). Callers bound
    the size first (`fits`): nothing can interrupt symengine's own work, so a budget or Ctrl-C stops it between
    two small calls."""
    if not variables:  # a stage of constants: no columns
        return sp.ImmutableMatrix(sp.zeros(len(expressions), 0))
    if use_symengine is None:
        use_symengine = symengine_safe(expressions) and not sympy_agrees(expressions)
    if not use_symengine:
        return sp.ImmutableMatrix(_sparse_jacobian(expressions, variables, sp.Add, sp.diff))
    converted, seen, symbols = _to_symengine_known(expressions)
    rows = _sparse_jacobian(converted, [se.Symbol(v.name) for v in variables], se.Add, lambda t, v: t.diff(v),
                            lambda term: term.free_symbols)  # symengine's own walk, in C++
    real = _real(set(variables) | symbols)
    nonzero = {(i, j): _to_sympy(entry, real, seen) for i, row in enumerate(rows) for j, entry in enumerate(row)
               if entry != 0}  # only these are converted: a sparse Jacobian is mostly zeros
    return from_entries(len(rows), len(variables), nonzero)


def from_entries(rows: int, cols: int, nonzero: Mapping[tuple[int, int], sp.Basic]) -> sp.ImmutableMatrix:
    """A matrix of zeros but for `nonzero`: the matrix `zeros` and item assignment give (its domain whole numbers,
    rationals or expressions as its entries are), built at once. sympy's general constructor takes 30 ms for a
    100 x 100, and item by item converts each entry: 0.2 ms of a 10 x 10 map's 50 entries (issue 27)."""
    by_row: dict[int, dict[int, sp.Basic]] = {}
    for (i, j), entry in nonzero.items():
        by_row.setdefault(i, {})[j] = entry
    representation = DomainMatrix(by_row, (rows, cols), EXRAW)
    if all(entry.is_Rational for entry in nonzero.values()):
        representation = representation.convert_to(ZZ if all(e.is_Integer for e in nonzero.values()) else QQ)
    return sp.ImmutableMatrix._fromrep(representation)


def _sparse_jacobian(expressions: Sequence[Any], variables: Sequence[Any], add: Any,
                     diff: Callable[[Any, Any], Any],
                     symbols: Callable[[Any], Iterable[Any]] = lambda term: symbols_in((term,))) -> list[list[Any]]:
    """d expressions / d variables, one small derivative at a time: each term of a sum is differentiated only
    by the variables it contains. The cost follows the size of the map, not size x variables (a loss summed over
    10,000 weights is 10,000 small derivatives, not 10,000 walks over the whole sum), and every call into
    compiled code is small, so a time budget or Ctrl-C can stop it between two of them."""
    column = {v: j for j, v in enumerate(variables)}
    rows = []
    for expression in expressions:
        terms = _terms(expression)
        by_variable: dict[Any, list[Any]] = {}
        for term in terms:
            for symbol in symbols(term):
                if symbol in column:
                    by_variable.setdefault(symbol, []).append(term)
        row: list[Any] = [0] * len(variables)
        for symbol, containing in by_variable.items():
            row[column[symbol]] = add(*(diff(t, symbol) for t in containing))
        rows.append(row)
    return rows


def determinant(matrix: sp.MatrixBase, budget: Budget, use_symengine: bool | None = None) -> sp.Expr | None:
    """The expanded determinant, or None when it is too big to expand within the budget."""
    n = matrix.shape[0]
    if n > MAX_SYMBOLIC_DET:
        return None
    if use_symengine is None:
        use_symengine = symengine_safe(matrix)
    if use_symengine and 0 < n <= 2 and not any(_merged_by_symengine(node) for node in distinct_nodes(matrix.values())):
        return matrix[0, 0] if n == 1 else matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]  # as symengine's
    if use_symengine:
        return symengine_determinant(matrix)
    found: sp.Expr | None = budget.run(lambda: matrix.det(method="berkowitz"), None)
    return found


def _merged_by_symengine(node: sp.Basic) -> bool:
    """A part symengine's product combines where sympy's does not: exp(a)*exp(b), x*x**(y - 1), floats of two
    precisions; the 2 x 2 determinant a*d - b*c is sympy's own only without them (tests/test_speed_paths.py)."""
    return isinstance(node, sp.exp) or bool(node.is_Float) or bool(node.is_Pow and not node.exp.is_Rational)


def symengine_determinant(matrix: sp.MatrixBase) -> sp.Expr:
    entries = [[_to_symengine(entry) for entry in row] for row in matrix.tolist()]
    return _to_sympy(se.DenseMatrix(entries).det(), _real(symbols_in(matrix)), {})


def tidy(expression: sp.Expr, budget: Budget) -> sp.Expr:
    """`simplify` within the budget, kept only when it is no longer than what we had and computes the same
    numbers: simplify assumes what it likes (100**v*log(100) may become an overflowing power, sqrt(|y|)'s
    derivative may lose its sign), so a form that differs anywhere on the sample points is not shown. Where
    squares of sin, cos, sinh or cosh are left, the shorter of their rewritings each way (`pythagorean`), which
    simplify does not try, is kept on the same terms."""
    simpler = _preferred(expression, budget.run(lambda: _simplified(expression), expression), budget, ties=True)
    if not has_squares(simpler):
        return simpler
    rewritten = min((budget.run(partial(pythagorean, simpler, way), simpler) for way in PYTHAGORAS), key=sp.count_ops)
    return _preferred(simpler, rewritten, budget, ties=False)


def _preferred(original: sp.Expr, candidate: sp.Expr, budget: Budget, ties: bool) -> sp.Expr:
    """`candidate` when it is shorter (or, with `ties`, as short) and gives the same numbers, else `original`."""
    longer = sp.count_ops(candidate) - sp.count_ops(original)
    if candidate == original or longer > 0 or (longer == 0 and not ties):
        return original
    return candidate if budget.run(lambda: same_numbers(original, candidate), False) else original


def _simplified(expression: sp.Expr) -> sp.Expr:
    """sympy's simplify, or the expression as it is where simplify fails inside: it rewrites max(y, -tan(E)) with
    exponentials of i, which Max then refuses as not comparable (a ValueError traceback for a --det)."""
    try:
        return sp.simplify(expression)
    except (ValueError, TypeError, NotImplementedError, sp.PolynomialError):
        return expression


def same_numbers(a: sp.Expr, b: sp.Expr) -> bool:
    """Do two expressions give the same numbers, defined and undefined alike: proved when they are the same
    polynomial in the same parts, else compared at seeded sample points of both signs and several scales."""
    if same_polynomial(a, b):
        return True
    symbols = sorted(symbols_in((a, b)), key=lambda s: s.name)
    rng = np.random.default_rng(0)
    magnitudes = np.array([0.1, 0.5, 1.0, 1.81, 2.0, 3.0, 7.5, 30.0])
    points = rng.choice(magnitudes, size=(_SAMPLES, len(symbols))) * rng.choice([-1.0, 1.0], size=(_SAMPLES,
                                                                                                    len(symbols)))
    values = [Evaluator(sp.Matrix([e]), symbols)(*points.T)[..., 0, 0] for e in (a, b)]
    defined = [np.isfinite(v) for v in values]
    if not (defined[0] == defined[1]).all():
        return False
    x, y = values[0][defined[0]], values[1][defined[0]]
    return bool(np.allclose(x, y, rtol=1e-9, atol=1e-12 * max(1.0, float(np.max(np.abs(x), initial=0.0)))))


def tidy_matrix(matrix: sp.ImmutableMatrix, budget: Budget) -> sp.ImmutableMatrix:
    """Simplifies each entry in turn while the budget lasts (`--simplify full`)."""
    entries = []
    for entry in matrix:
        entries.append(tidy(entry, budget) if budget.remaining() > 0 and not budget.exceeded else entry)
    return sp.ImmutableMatrix(matrix.rows, matrix.cols, entries)
