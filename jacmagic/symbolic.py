"""The Jacobian written out entry by entry (`JacobianResult.symbolic`): the sympy matrix, its numeric evaluator, the
determinant, the Hessians, the notes, and how a plain cell shows them.

Everything expensive is computed at most once (LaTeX, text, the compiled evaluator), on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sympy as sp

from jacmagic.budget import Budget
from jacmagic.chain import calculus
from jacmagic.chain.abbreviate import abbreviated
from jacmagic.chain.check import (
    AreaCheck,
    finite_difference_check,
    high_precision_chain,
    high_precision_jacobian,
    high_precision_map,
)
from jacmagic.chain.evaluate import Domain, Evaluator, determinant_at
from jacmagic.chain.staged import CompiledChain
from jacmagic.errors import CellError, OptionError
from jacmagic.lazy import np
from jacmagic.model import CellModel, Options, Shape, Step
from jacmagic.notation import counted
from jacmagic.notes import MoreUndefined, Note, UndefinedEntry, UndefinedRow
from jacmagic.options import point_value, points_shape, shaped_array
from jacmagic.read.names import suggest, typed_values

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True, eq=False)
class SymbolicJacobian:
    """The Jacobian of a map: `matrix` has one row per output and one column per input (numerator layout).

    `eager_matrix` is None for a chain too large to compose: numbers then come through the chain's stages, and
    `matrix` composes and differentiates the whole map only when asked for.
    """

    eager_matrix: sp.ImmutableMatrix | None
    inputs: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]
    model: CellModel = field(repr=False)
    constants: tuple[sp.Symbol, ...]
    options: Options = Options()
    symbolic_det: sp.Expr | None = None
    stages: tuple[Step, ...] = ()  # when the map is too large to differentiate whole: its numbers go stage by stage
    base_facts: tuple[Note, ...] = ()  # what the pipeline noted (views/notes.py words every note)
    point: tuple[tuple[str, float], ...] = ()  # the --at point, one float per argument (matrices expanded)
    hessians: tuple[sp.ImmutableMatrix, ...] = ()  # with --hessian: one n x n matrix per output

    @cached_property
    def matrix(self) -> sp.ImmutableMatrix:
        """The Jacobian as sympy entries (built on request, within the time budget, when the map was too large to
        differentiate whole and went stage by stage)."""
        if self.eager_matrix is not None:
            return self.eager_matrix
        matrix = calculus.jacobian_within(self.model.expressions, self.inputs, self.options.budget)
        if isinstance(matrix, CellError):
            raise matrix
        return matrix

    @cached_property
    def abbreviations(self) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        """The names a display too wide for the page gives the matrix's repeated parts, inner first (u, then
        σ = σ(u)); substituted back, the last first, they give `matrix`. None for a chain too large to compose."""
        return abbreviated(self.eager_matrix, self.model).names if self.eager_matrix is not None else ()

    @property
    def expressions(self) -> tuple[sp.Expr, ...]:
        return self.model.expressions

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return self.model.shapes

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.outputs), len(self.inputs))

    @property
    def is_square(self) -> bool:
        return len(self.outputs) == len(self.inputs)

    @property
    def det(self) -> sp.Expr:
        """The determinant (square maps only): how much the map scales volume near a point."""
        if not self.is_square:
            raise OptionError("the determinant " + not_square(len(self.outputs), self.inputs, self.model.free_names))
        if self.symbolic_det is None:
            return sp.Determinant(self.matrix)
        return self.symbolic_det

    @property
    def arguments(self) -> tuple[sp.Symbol, ...]:
        """Every name a point must give: the inputs, then the constants."""
        return self.inputs + self.constants

    @cached_property
    def evaluator(self) -> Evaluator:
        return Evaluator(self.matrix, self.arguments)

    @cached_property
    def domain(self) -> Domain:
        """Where the map's outputs are defined, by its own formulas as written (a chain checks stage by stage)."""
        guards = self.model.guards if self.eager_matrix is not None else tuple(() for _ in self.outputs)
        return Domain(guards, self.arguments)

    @cached_property
    def compiled_chain(self) -> CompiledChain:
        return CompiledChain(self.stages, self.arguments, self.outputs)

    def default_point(self) -> dict[str, float]:
        """The `--at` point, or 1.0 for every name: where the panel starts and the walkthrough shows numbers."""
        given = dict(self.point)
        return {s.name: float(given.get(s.name, 1.0)) for s in self.arguments}

    @cached_property
    def names(self) -> frozenset[str]:  # a point's names: the arguments, the names that cancel out (entries)
        return frozenset(s.name for s in (*self.arguments, *self.model.written))

    def _typed(self, values: Mapping[str, Any]) -> Mapping[str, Any]:  # θ given for theta, an array by its name too
        return typed_values(values, self.names.union(s.name for s in self.shapes))

    def check_names(self, names: Iterable[str], what: str) -> None:
        """Raises a clear error if any of `names` is not a variable or constant of this map."""
        known = [s.name for s in self.arguments]
        unknown = [n for n in names if n not in self.names]  # a set: 8,624 names against a list took 0.5 s
        if unknown:
            raise OptionError(f"{what}{unknown[0]} is not a variable of this map" +
                              suggest(unknown[0], known) + f"; its names are {', '.join(known)}")

    def point_values(self, values: dict[str, Any]) -> list[Any]:
        """The values in argument order, checking that the names are exactly the map's names."""
        values = expand_matrices(self.shapes, self._typed(values))
        self.check_names(values, "")
        known = [s.name for s in self.arguments]
        missing = [n for n in known if n not in values]
        if missing:
            raise OptionError(f"no value given for {', '.join(by_array(missing, self.shapes))} (a point needs "
                              f"{', '.join(by_array(known, self.shapes))})")
        return [values[n] for n in known]

    def at(self, /, **values: Any) -> np.ndarray:
        """The numeric Jacobian at a point (default: `default_point()`; the names not given keep their --at
        values, as in a --chain cell), shape (m, n); arrays of one shape give (..., m, n). Undefined entries
        (division by zero, log of a negative number) are nan."""
        return self._jacobian_at(self._ordered(values))

    def _ordered(self, values: Mapping[str, Any]) -> list[Any]:
        """The point's values in argument order (`values` over the --at point, else the default point), arrays of
        points refused where they do not broadcast together (the evaluators would fill them with nan). Their
        shapes are compared first: broadcasting them all, only to word the refusal, cost every call."""
        ordered = self.point_values({**dict(self.point), **values} if values else self.default_point())
        if len({v.shape for v in ordered if isinstance(v, np.ndarray)}) > 1:
            points_shape({s.name: v for s, v in zip(self.arguments, ordered)})
        return ordered

    def _jacobian_at(self, ordered: Sequence[Any]) -> np.ndarray:
        if self.eager_matrix is None:
            return self.compiled_chain.jacobian(self.inputs, *ordered)
        return self.domain.mask(self.evaluator(*ordered), *ordered)

    def gradient(self, **given: Any) -> dict[str, np.ndarray]:
        """The gradient by each variable in its own shape (as given, else as declared: `x: 3` (3,), `W: 3x1` (3, 1),
        a number's ()), a leading axis per output when there are several, as a layer cell's result gives it."""
        matrix = self.at(**(values := self._typed(given)))
        wanted = set(self.inputs)
        whole = {s: shape for shape in self.shapes if wanted.issuperset(shape.symbols) for s in shape.symbols}
        columns: dict[str, tuple[tuple[int, ...], list[int]]] = {}
        for j, symbol in enumerate(self.inputs):
            owner = whole.get(symbol)
            name, dims = (owner.name, owner.dims) if owner else (symbol.name, ())
            columns.setdefault(name, (np.shape(values[name]) if name in values else dims, []))[1].append(j)
        return {name: own_shape(matrix[:, picked], dims) for name, (dims, picked) in columns.items()}

    def point_function(self) -> Callable[..., np.ndarray]:
        """The Jacobian at one point, from values in argument order: the panel's hot path."""
        if self.eager_matrix is None:
            return lambda *values: self.compiled_chain.jacobian(self.inputs, *values)
        if not self.domain.guards:
            return self.evaluator.point
        return lambda *values: self.domain.mask(self.evaluator.point(*values), *values)

    def map_function(self) -> Callable[..., np.ndarray]:
        """The map itself, (..., m) from one array per argument, compiled separately from any derivative."""
        if self.eager_matrix is None:
            return self.compiled_chain.outputs_at
        return lambda *values: self._map_evaluator(*values)[..., 0]

    @cached_property
    def _map_evaluator(self) -> Evaluator:
        """Compiled once: the --plot panel maps its square at every move (two compiles a move were 7 ms)."""
        return Evaluator(sp.Matrix(self.expressions), self.arguments)

    @property
    def hessian(self) -> sp.ImmutableMatrix | tuple[sp.ImmutableMatrix, ...]:
        """`--hessian`: the Jacobian of the gradient, entry (j, k) = d^2 f / dx_j dx_k; one matrix for a scalar
        map, a tuple of them (one per output) for a vector map."""
        if not self.hessians:
            raise OptionError("the Hessian is computed with --hessian (jacobian(..., hessian=True))")
        return self.hessians[0] if len(self.hessians) == 1 else self.hessians

    @cached_property
    def hessians_symmetric(self) -> bool | None:
        """Are the mixed partials equal (Schwarz's theorem, which needs continuous second derivatives)? None when
        not checked within the time budget: two long forms of one entry left unmirrored (the Hessians' own
        allowance ran out) are compared by compiling and sampling each, minutes for a few hundred outputs, and a
        verdict not reached is never given as one."""
        return Budget(self.options.budget).run(lambda: all(calculus.is_symmetric(h) for h in self.hessians), None,
                                               optional=False)

    @cached_property
    def _hessian_evaluator(self) -> Evaluator:
        n = len(self.inputs)  # stacked sparsely: a dense stack of 100 Hessians of 100 x 100 takes seconds
        stacked = {(i * n + j, k): e for i, h in enumerate(self.hessians) for (j, k), e in h.todok().items()}
        return Evaluator(sp.SparseMatrix(len(self.hessians) * n, n, stacked), self.arguments)

    def hessian_at(self, /, **values: Any) -> np.ndarray:
        """The Hessians at a point, taken as `at` takes it, shape (m, n, n) (arrays of one shape give
        (..., m, n, n)); an output undefined there has an undefined Hessian."""
        _ = self.hessian  # raises the explanatory error without --hessian
        ordered = self._ordered(values)  # read once, for both
        return self.hessians_at(ordered, self._jacobian_at(ordered))

    def hessians_at(self, ordered: Sequence[Any], jacobian: np.ndarray) -> np.ndarray:
        """`hessian_at` from values in argument order and the Jacobian there (the panel's path: no names to
        check, nothing evaluated twice); a row of `jacobian` all undefined marks that output's Hessian."""
        m, n = self.shape
        stacked = self._hessian_evaluator(*ordered)
        hessians = stacked.reshape(stacked.shape[:-2] + (m, n, n))
        return np.where(np.isnan(jacobian).all(axis=-1)[..., None, None], np.nan, hessians)

    def det_at(self, matrix: np.ndarray) -> np.ndarray:
        """The determinant of numeric Jacobian(s) as returned by `at`: exactly 0 where the symbolic determinant
        is 0 (rounding would show 1.8e-17)."""
        if not self.is_square:
            _ = self.det  # raises the explanatory error
        values = determinant_at(matrix)
        return np.where(np.isnan(values), values, 0.0) if self.symbolic_det == 0 else values

    @cached_property
    def point_facts(self) -> tuple[Note, ...]:
        """Why entries are undefined at the `--at` point, one note each."""
        if not self.point:
            return ()
        point = dict(self.point)
        return self.undefined_facts([point[s.name] for s in self.arguments], self.at(**point))

    def undefined_facts(self, ordered: list[float], values: np.ndarray) -> tuple[Note, ...]:
        """Why entries of the Jacobian `values` at one point are undefined, one note each (a few at most)."""
        facts: list[Note] = []
        failures = self.domain.failures(*ordered)
        for i in sorted(set(np.nonzero(~np.isfinite(values))[0].tolist())):
            guard = failures[i]
            if guard is not None:
                facts.append(UndefinedRow(i, guard))
                continue
            facts += [UndefinedEntry(i, j, bool(np.isinf(values[i, j])))
                      for j in np.nonzero(~np.isfinite(values[i]))[0].tolist()]
        return tuple(facts[:_MAX_POINT_NOTES]) + ((MoreUndefined(len(facts) - _MAX_POINT_NOTES),)
                                                  if len(facts) > _MAX_POINT_NOTES else ())

    @cached_property
    def shown_at_point(self) -> np.ndarray:
        """The Jacobian at the --at point as shown: an entry that rounding made tiny but that is exactly 0 at
        the point as typed (cos(pi/2)) is shown as 0, and -0.0 (-r*sin(theta) at r=0) as 0."""
        values = self.at(**dict(self.point)) + 0.0
        if self.eager_matrix is None or not any(isinstance(v, sp.Basic) for _, v in self.options.at):
            return values
        exact = {s: v for name, v in self.options.at if isinstance(v, sp.Basic)
                 for s in self.arguments if s.name == name}
        scale = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
        for i, j in zip(*np.nonzero(np.abs(values) < 1e-12 * scale)):
            if values[i, j] != 0 and self.matrix[int(i), int(j)].xreplace(exact).is_zero:
                values[i, j] = 0.0
        return values

    @cached_property
    def check_facts(self) -> tuple[Note, ...]:
        if not self.options.check:
            return ()
        names = [s.name for s in self.arguments]
        first = np.array(self.point_values(dict(self.point)), dtype=float) if self.point else None
        return (finite_difference_check(lambda point: self.at(**dict(zip(names, point))), self.precise_map,
                                        self.arguments, len(self.inputs), first, self.options.budget),)

    def precise_jacobian(self, values: dict[str, Any]) -> np.ndarray:
        """The Jacobian at a point by central differences of the map at 50 digits, within the time budget (nan if
        it runs out): mpmath never overflows, and a steep map keeps its digits where floats give up."""
        ordered = self.point_values(values)
        undecided = np.full(self.shape, np.nan)
        return Budget(self.options.budget).run(
            lambda: high_precision_jacobian(self.precise_map, ordered, len(self.inputs)), undecided)

    @cached_property
    def precise_map(self) -> Callable[..., list[Any]]:
        """The map in mpmath, compiled apart from any derivative: whole, or stage by stage when too large to
        compose."""
        if self.eager_matrix is not None:
            return high_precision_map(self.expressions, self.arguments)
        return high_precision_chain(self.stages, self.arguments, self.outputs)

    @property
    def facts(self) -> tuple[Note, ...]:
        """What the result says beside its numbers, as facts."""
        return self.base_facts + self.point_facts + self.check_facts

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes in words, as every view says them."""
        from jacmagic.views.notes import notes_words

        return notes_words(self.facts)

    @cached_property
    def _latex(self) -> str:
        from jacmagic.views.displays import to_latex

        return to_latex(self)

    @cached_property
    def _laid_out(self) -> dict[int, str]:
        """The text per width, lines whole: the terminal can change between two prints (str(R) follows it); each
        width is laid out once."""
        return {}

    @property
    def _text(self) -> str:
        from jacmagic.views.render import lines_whole, text_width, to_text, wrapped

        width = text_width()
        if width not in self._laid_out:
            with lines_whole():
                self._laid_out[width] = to_text(self)
        return wrapped(self._laid_out[width], width)

    def widget(self, continuous_update: bool | None = None, digits: int = 4) -> Any:
        """The evaluation panel (an ipywidgets VBox), for placing it yourself."""
        from jacmagic.panels.widgets import JacobianPanel

        live = self.options.continuous_update if continuous_update is None else continuous_update
        return JacobianPanel(self, continuous_update=live, digits=digits)

    def plot(self, point: Mapping[str, float] | None = None,
             domain: Mapping[str, tuple[float, float]] | None = None) -> Figure:
        """The `--plot` picture as a matplotlib Figure, to style or save: at `point` (default: the `--at` point
        or 1.0 each), over `domain` (default: `--domain`, else around the point)."""
        from jacmagic.views.plot import figure

        return figure(self, point, domain)

    def area(self, domain: Mapping[str, tuple[float, float]], point: Mapping[str, float] | None = None) -> AreaCheck:
        """The change-of-variables formula checked: the integral of |det J| over a rectangle of inputs against
        the area of its image (maps of the plane)."""
        from jacmagic.views.area import area

        return area(self, domain, point)

    @cached_property
    def displays(self) -> list[Any]:
        """What displaying this result shows, built once (the magic builds it before binding --out)."""
        from jacmagic.panels.widgets import displays

        return displays(self)

    def _ipython_display_(self) -> None:
        from jacmagic.panels.widgets import show

        show(self.displays)

    def latex(self) -> str:
        """The LaTeX source shown in notebooks, `$\\displaystyle ...$`."""
        return self._latex

    def _repr_latex_(self) -> str:
        return self._latex

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self._text)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        m, n = self.shape
        return (f"<SymbolicJacobian {m} x {n}: d({', '.join(map(str, self.outputs))}) / "
                f"d({', '.join(map(str, self.inputs))})>")


def not_square(m: int, variables: Sequence[sp.Symbol], names: Sequence[sp.Symbol]) -> str:
    """Why a Jacobian has no determinant, and what would make it square."""
    n = len(variables)
    said = f"needs a square Jacobian, but this one is {m} x {n} ({counted(m, 'output')}, {counted(n, 'variable')})"
    if m < n:
        return said + f"; pick {m} of the variables with --wrt, e.g. --wrt {','.join(s.name for s in variables[:m])}"
    if len(names) >= m:
        chosen = list(variables) + [s for s in names if s not in set(variables)]
        example = ",".join(s.name for s in chosen[:m])
        return said + f"; differentiate by {counted(m, 'name')} with --wrt, e.g. --wrt {example}"
    return said + f"; the map has only {counted(len(names), 'name')}, so no choice of variables makes it square"


_MAX_POINT_NOTES = 8


def own_shape(gradient: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """A gradient with one row per output entry, (m, ...), in its array's numpy shape `dims`: the leading axis
    dropped for one output."""
    shaped = gradient.reshape(gradient.shape[0], *dims)
    return shaped[0] if shaped.shape[0] == 1 else shaped


def by_array(names: list[str], shapes: Iterable[Shape]) -> list[str]:
    """Entry names put back under their declared array where all of its entries are there (`W (2 x 3)`, `x (3)`, not
    W_1,1 ... W_2,3): the names a person gave values to."""
    for shape in shapes:
        entries = {s.name for s in shape.symbols}
        if entries and entries <= set(names):
            first = min(names.index(name) for name in entries)
            names = [n for n in names if n not in entries]
            names.insert(first, f"{shape.name} ({' x '.join(map(str, shape.dims))})")
    return names


def expand_matrices(shapes: Iterable[Shape], values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole matrix or vector given by its name (`W=[[1, 2], [3, 4]]`, a numpy array) becomes one value per
    entry, row-major; exact numbers (pi/2) become floats; arrays of points for one name pass through."""
    by_name = {shape.name: shape for shape in shapes}
    expanded: dict[str, Any] = {}
    for name, value in values.items():
        shape = by_name.get(name)
        if shape is None:
            if isinstance(value, (tuple, list)):
                raise OptionError(f"{name}: a list of values is only for a declared matrix or vector (a shape line "
                                  f"such as {name}: {len(value)}); for values at several points give numpy arrays: "
                                  f"R.at({name}=np.array({str(list(value))[:40]}), ...)")
            expanded[name] = point_value(value, name, finite=False)
            continue
        array = shaped_array(name, value, (shape.rows, shape.cols))
        expanded.update(zip((s.name for s in shape.symbols), array.ravel().tolist()))
    return expanded
