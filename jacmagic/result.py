"""The result every cell returns and `--out` binds: the Jacobian written out entry by entry, and with `--chain` the
graph of array operations its walkthrough runs on, at any size.

`whole` is the Jacobian entry by entry (`symbolic.SymbolicJacobian`: the sympy matrix, --det, --hessian, --plot),
for a cell small enough to write out. With `--chain` the cell is also a graph (`network`): every number of the
walkthrough comes from numpy applying each operation's local Jacobian from its structure, checked against `whole`
exactly when there is one, else by central differences along random directions. A plain cell is its `whole`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sympy as sp

from jacmagic.errors import OptionError
from jacmagic.lazy import np
from jacmagic.line_view import LineView
from jacmagic.many_points import jacobian_at_points, points_given, whole_columns
from jacmagic.model import Options
from jacmagic.notes import Note
from jacmagic.options import direction_column, naming
from jacmagic.read.names import element_symbols, typed_values
from jacmagic.symbolic import own_shape

if TYPE_CHECKING:
    from jacmagic.chain.closed_form import Formula
    from jacmagic.chain.compiled_walk import CompiledNetwork
    from jacmagic.chain.network import Network
    from jacmagic.chain.network_walk import Cost, NetworkWalk
    from jacmagic.chain.verdict import Against
    from jacmagic.symbolic import SymbolicJacobian

@dataclass(frozen=True, eq=False)
class JacobianResult:
    options: Options
    whole: SymbolicJacobian | None = None  # None: too large to write out entry by entry
    network: Network | None = None  # with --chain: the graph the walkthrough runs on
    text: str = field(repr=False, default="")
    wrt: tuple[str, ...] = ()  # the names differentiated by
    constants: tuple[str, ...] = ()  # the names held fixed
    given: dict[str, np.ndarray] = field(default_factory=dict)  # the --at point by name, each in its shape
    chain_facts: tuple[Note, ...] = ()  # what the pipeline noted of a --chain cell (views/notes.py words them)
    dims: dict[str, tuple[int, ...]] = field(default_factory=dict)  # each input's numpy shape, as declared or given
    # The entry-level chain of a small cell of several lines, built on request (by the pipeline, which reads cells).
    entry_chain: Callable[[], Any] | None = field(default=None, repr=False)

    # -- the two views: entry by entry, and the graph -----------------------------------------------------------

    @property
    def graph(self) -> Network:
        """The graph of array operations the walkthrough runs on (`--chain`)."""
        if self.network is None:
            raise OptionError("the walkthrough, its numbers and the closed forms are worked out on the graph of a "
                              "--chain cell; add --chain")
        return self.network

    @property
    def symbolic(self) -> SymbolicJacobian:
        """The Jacobian entry by entry, for a cell small enough to write out."""
        if self.whole is None:
            raise OptionError(f"this network's {self.shape[0]:,} x {self.shape[1]:,} Jacobian is too large to write "
                              "out symbolically; result.at(...) gives its numbers")
        return self.whole

    # -- shapes and names ------------------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return self.wrt + self.constants

    @property
    def shape(self) -> tuple[int, int]:
        if self.network is None:
            return self.symbolic.shape
        return (self.cost.outputs, self.cost.inputs)

    @cached_property
    def inputs(self) -> tuple[sp.Symbol, ...]:
        """The Jacobian's columns as symbols: each array's entries, row-major."""
        if self.network is None:
            return self.symbolic.inputs
        return tuple(s for name in self.wrt for s in self._entries(name))

    @cached_property
    def outputs(self) -> tuple[sp.Symbol, ...]:
        if self.network is None:
            return self.symbolic.outputs
        return tuple(s for name in self.network.outputs for s in self._entries(name))

    @property
    def facts(self) -> tuple[Note, ...]:
        """What the result says beside its numbers, as facts: the entry-level result's, else the walkthrough's."""
        return self.whole.facts if self.whole is not None and self.network is None else self.chain_facts

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes in words, as every view says them."""
        from jacmagic.views.notes import notes_words

        return notes_words(self.facts)

    @property
    def point(self) -> tuple[tuple[str, float], ...]:
        """The --at point as the entry level reads it: one float per name, matrices expanded."""
        return self.whole.point if self.whole is not None else ()

    @property
    def det(self) -> sp.Expr:
        """The determinant (square maps only): how much the map scales volume near a point."""
        return self.symbolic.det

    @property
    def hessian(self) -> sp.ImmutableMatrix | tuple[sp.ImmutableMatrix, ...]:
        """`--hessian`: d^2 f / dx_j dx_k, one matrix per output."""
        return self.symbolic.hessian

    def hessian_at(self, /, **values: Any) -> np.ndarray:
        return self.symbolic.hessian_at(**values)

    @property
    def abbreviations(self) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        return self.symbolic.abbreviations

    @property
    def expressions(self) -> tuple[sp.Expr, ...]:
        return self.symbolic.expressions

    def area(self, domain: Mapping[str, tuple[float, float]], point: Mapping[str, float] | None = None) -> Any:
        """The change-of-variables formula checked over a rectangle of inputs (maps of the plane)."""
        return self.symbolic.area(domain, point)

    def _entries(self, name: str) -> list[sp.Symbol]:
        """A name's entries as the entry-level reader names them: an array's from 1 (even 1 x 1), a number (a
        layer cell's undeclared name, whatever shape its value came in, or a def's number parameter) as itself."""
        if self._is_number(name):
            return [sp.Symbol(name, real=True)]
        return list(element_symbols(name, *self.graph.shape_of(name)))

    def _is_number(self, name: str) -> bool:
        """One real number at the entry level: a layer cell's undeclared 1 x 1 name (whatever shape its value
        came in), a def's number parameter."""
        return self.graph.shape_of(name) == (1, 1) and (name not in self.graph.declared
                                                          or self.dims.get(name, ()) == ())

    @property
    def chain(self) -> tuple[LineView, ...]:
        return self.steps

    @cached_property
    def steps(self) -> tuple[LineView, ...]:
        """The lines in forward order (`--chain`), with their values at the point (`--at`, else 1.0 everywhere)."""
        if self.network is None:
            return ()
        values = self.walkthrough().values
        return tuple(LineView(line.name, line.number, line.shape, values[line.name], self._entry_steps)
                     for line in self.graph.lines)

    def _entry_steps(self) -> Any:
        """The local Jacobians entry by entry (the entry-level chain; one line is the whole map)."""
        if self.whole is None:
            return None
        if len(self.graph.lines) == 1:
            from jacmagic.model import Step

            return (Step(self.whole.model.stages[0], self.whole.inputs, self.whole.inputs, self.whole.matrix),)
        return self.entry_chain() if self.entry_chain is not None else None

    @property
    def matrix(self) -> sp.ImmutableMatrix:
        """The Jacobian as sympy entries: rows are outputs, columns inputs (numerator layout)."""
        return self.symbolic.matrix

    def plot(self, point: Mapping[str, Any] | None = None, domain: Mapping[str, tuple[float, float]] | None = None,
             true_class: int | None = None, **values: Any) -> Any:
        """A matplotlib Figure at a point given as to `gradient()` (by name or as a mapping; the rest keep their
        --at values), for every network. Differentiated by an image a conv2d or maxpool2d reads: the gradient in
        the image's shape, as the static output draws it, the predicted class and the true one (`true_class`, else
        the one-hot label in the point) marked. Otherwise the --plot picture of the map written out entry by entry
        when it is small, else each gradient as a heat map (a matrix) or bars (a vector)."""
        from jacmagic.views.network_pictures import MAX_IMAGE_PANELS, gradient_figure, image_figure, images_read

        point = {**(point or {}), **values}
        images = images_read(self) if self.network is not None else []
        if not images and self.whole is not None:
            return self.whole.plot(point or None, domain)
        if domain is not None:
            raise OptionError("plot: a domain is for the picture of a small map written out entry by entry; this "
                              "network draws its gradients at one point (give the point's arrays instead)")
        walked = self._walk(self._located(point)[0])
        if not images:
            return gradient_figure(self, walked)
        figure = image_figure(self, walked, images[0], true_class)
        if figure is None:
            raise OptionError(f"plot: ∂/∂{images[0]} has {self.shape[0]:,} output entries, one picture each; at "
                              f"most {MAX_IMAGE_PANELS} are drawn (sum the outputs to a loss)")
        return figure

    @cached_property
    def cost(self) -> Cost:
        """The walk's cost in each mode (read by `shape` on every call of many methods: counted once)."""
        from jacmagic.chain.network_walk import cost

        return cost(self.graph, self.wrt)

    # -- numbers -----------------------------------------------------------------------------------------------

    def default_point(self) -> dict[str, Any]:
        """The `--at` point, 1.0 for every entry not given: where the walkthrough and the panel start; each array
        in its own numpy shape, as `gradient()` and `walkthrough().point` give it."""
        if self.network is None:
            return dict(self.symbolic.default_point())
        return {name: value.reshape(self.dims.get(name, value.shape)) for name, value in self.start.items()}

    @property
    def start(self) -> dict[str, np.ndarray]:
        """`default_point()` in the working layout (a vector a column, a stack of images their rows stacked)."""
        return {name: self.given.get(name, np.ones(self.graph.shape_of(name))) for name in self.names}

    def point_arrays(self, values: Mapping[str, Any], complete: bool = True, copy: bool = True
                     ) -> dict[str, np.ndarray]:
        """A point by name, each value in its array's shape; every name needed when `complete`. Arrays of doubles
        in a shape their names take are read directly (`arrays_as_given`); anything else is read and checked value
        by value, with the same result or refusal."""
        from jacmagic.points import arrays_as_given, arrays_by_name

        found = arrays_as_given(self.compiled.taken, values, copy)
        if found is None or (complete and len(found) < len(self.names)):
            found = arrays_by_name(self.compiled.shapes, self.names, values, complete, copy, self.stacks)
        return found

    def _located(self, values: Mapping[str, Any], copy: bool = True
                 ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
        """The point from any of the arrays (the rest keep their `--at` values; none given: `default_point()`),
        and the shape each comes back in: as given here, else as declared or given to `--at`. A numpy array given
        is copied only if `copy`: a walkthrough keeps its point (its check runs later), a gradient does not."""
        values = typed_values(values, self.names)
        if not values:
            return self.start, dict(self.dims)
        given = self.point_arrays(values, complete=False, copy=copy)
        dims = {**self.dims, **{name: value.shape if isinstance(value, np.ndarray) else np.shape(value)
                                for name, value in values.items()}}
        if len(given) == len(self.names):  # every name given (only names of the point are read)
            return {name: given[name] for name in self.names}, dims
        missing = [n for n in self.names if n not in given and n not in self.given]
        if missing:
            raise OptionError(f"no value given for {', '.join(missing)}, and --at gives none (a point needs "
                              f"{', '.join(self.names)})")
        return {name: given[name] if name in given else self.given[name] for name in self.names}, dims

    def at(self, /, **given: Any) -> np.ndarray:
        """The numeric Jacobian matrix at a point (default: `default_point()`), (m, n): a row per output entry, a
        column per input entry (numerator layout), arrays row-major; the arrays not given keep their --at value.
        Numbers given as numpy arrays of points give (..., m, n), in every cell (`many_points`)."""
        if self.network is None:
            return self.symbolic.at(**given)
        from jacmagic.chain.network_walk import jacobian_at

        values = typed_values(given, self.names)
        if many := points_given(self, values):
            return jacobian_at_points(self, values, many)
        return jacobian_at(self.compiled, self._located(values, copy=False)[0])

    def gradient(self, /, **values: Any) -> dict[str, np.ndarray]:
        """The gradient with respect to each differentiated array, in that array's own shape (`dims`), with a
        leading axis per output entry when there are several (a vector by a vector: the Jacobian matrix)."""
        if self.network is None:
            return self.symbolic.gradient(**values)
        found = self.compiled.given_gradient(values)  # every input an array of doubles as taken: read directly
        if found is None:
            from jacmagic.chain.network_walk import gradient
            found = gradient(self.compiled, *self._located(values, copy=False))
        return found

    @cached_property
    def directions(self) -> np.ndarray:
        """Forward mode's directions (n x p): `--direction`, else one per input."""
        from jacmagic.chain.network_walk import MAX_TANGENT_NUMBERS, tangent_numbers

        n = self.shape[1]
        if not self.options.direction:
            if tangent_numbers(self.graph, n) > MAX_TANGENT_NUMBERS:
                raise OptionError(f"forward mode along all {n:,} inputs would carry {n:,} tangents through every "
                                  f"value (over {MAX_TANGENT_NUMBERS:,} numbers): that is the cost it counts; give "
                                  "one --direction, or use reverse mode")
            return np.eye(n)
        with naming("--direction"):
            given = self.point_arrays(dict(self.options.direction), complete=False)
        return direction_column(given, self.wrt, self.constants, lambda name: np.zeros(self.graph.shape_of(name)))

    def walkthrough(self, /, **values: Any) -> NetworkWalk:
        """The forward pass, reverse mode line by line and (with --mode forward or both) forward mode, at a
        point (default: `default_point()`; the arrays not given keep their --at value), checked against the
        Jacobian computed another way. The point, the values and the gradients come in the arrays' own shapes
        (as `gradient()`); the steps keep the working layout: a vector a column, one row per output entry."""
        from jacmagic.points import value_dims

        point, dims = self._located(values)
        walked = self._walk(point)
        dims.update(value_dims(self.graph, dims))
        return replace(walked, point={n: v.reshape(dims[n]) for n, v in walked.point.items()},
                       values={n: v.reshape(dims[n]) for n, v in walked.values.items()},
                       gradients={n: own_shape(g, dims[n]) for n, g in walked.gradients.items()})

    def _walk(self, point: Mapping[str, np.ndarray]) -> NetworkWalk:
        """The walkthrough in the working layout: every array 2-D, every gradient (m, rows, cols). Checked against
        the composed map's symbolic Jacobian when there is one; a map too large to compose is checked by central
        differences at 50 digits (its numbers stage by stage would be the walk's own product again, no check at
        all), and a map too large to write out along random directions."""
        from jacmagic.chain.network_walk import walk

        direct: np.ndarray | None = None
        against: Against = "direct"
        if self.whole is not None:
            values = {n: float(v[0, 0]) if self._is_number(n) else v for n, v in point.items()}
            if self.whole.eager_matrix is not None:
                found = self.whole.at(**values)
            else:
                found, against = self.whole.precise_jacobian(values), "central"
            direct = found[:, whole_columns(self)]
        directions = self.directions if self.options.mode != "reverse" else None
        return walk(self.compiled, point, direct, directions, against)

    @cached_property
    def stacks(self) -> dict[str, int]:
        from jacmagic.points import batches_of_images

        return batches_of_images(self.graph)

    @cached_property
    def compiled(self) -> CompiledNetwork:
        """The walk with its order, shapes and slots resolved once for this cell (gradient, at, walkthrough)."""
        from jacmagic.chain.compiled_walk import CompiledNetwork

        return CompiledNetwork(self.graph, self.wrt)

    # -- views -------------------------------------------------------------------------------------------------

    @cached_property
    def walked(self) -> NetworkWalk:
        """The walkthrough at the default point, once, in the working layout: what the views show."""
        return self._walk(self.start)

    def latex(self) -> str:
        """The LaTeX source shown in notebooks, `$\\displaystyle ...$` blocks."""
        if self.network is None:
            return self.symbolic.latex()
        from jacmagic.views.network_view import to_latex

        return to_latex(self, self.walked)

    def _repr_latex_(self) -> str:
        return self.latex()

    def __str__(self) -> str:
        if self.network is None:
            return str(self.symbolic)
        from jacmagic.views.network_view import to_text

        return to_text(self, self.walked)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def __repr__(self) -> str:
        m, n = self.shape
        return (f"<JacobianResult {m:,} x {n:,}: d({', '.join(map(str, self.outputs))}) / "
                f"d({', '.join(self.wrt)})>")

    @cached_property
    def displays(self) -> list[Any]:
        """What displaying this result shows, built once (the magic builds it before binding --out)."""
        if self.network is None:
            return self.symbolic.displays
        from jacmagic.views.network_view import displays

        return displays(self)

    def _ipython_display_(self) -> None:
        from jacmagic.panels.widgets import show

        show(self.displays)

    def widget(self, continuous_update: bool | None = None, digits: int = 4) -> Any:
        """The panel (an ipywidgets VBox), for placing it yourself: the evaluation panel of a plain cell, the
        walkthrough of a --chain cell."""
        if self.network is None:
            return self.symbolic.widget(continuous_update, digits)
        from jacmagic.panels.network_panel import NetworkPanel

        live = self.options.continuous_update if continuous_update is None else continuous_update
        return NetworkPanel(self, continuous_update=live, digits=digits)

    # -- in closed form --------------------------------------------------------------------------------------------

    def formula(self, name: str, general: bool = False) -> Formula:
        """∂(the loss)/∂name (an input or a line) as a textbook writes it (`.latex`, `.text`, `.tree`, `.steps`),
        or of a vector output its Jacobian by a vector (numerator layout); the softmax + cross-entropy identity
        p − y takes the label to sum to 1 (said in `.assumptions`) unless `general`."""
        from jacmagic.chain.closed_form import closed_forms
        from jacmagic.chain.closed_form_jacobian import jacobian_form
        from jacmagic.points import refuse_unknown

        refuse_unknown([name], self.graph.inputs + tuple(line.name for line in self.graph.lines), "formula: ")
        if self._vector_output:  # ∂f/∂x of a vector f: the Jacobian in matrix form (numerator layout)
            return jacobian_form(self.graph, name)
        return closed_forms(self.graph, (name,), assume=not general)[name]

    def hessian_formula(self, name: str) -> Formula:
        """∂²L/∂x∂xᵀ in matrix form (A + Aᵀ for xᵀAx, 2AᵀA for ‖Ax − y‖²): of the loss by a vector input, where the
        Hessian is a matrix; an OptionError says why not otherwise."""
        from jacmagic.chain.closed_form_jacobian import hessian_form
        from jacmagic.points import refuse_unknown

        refuse_unknown([name], self.graph.inputs, "hessian_formula: ")
        return hessian_form(self.graph, name)

    @property
    def _vector_output(self) -> bool:
        return len(self.graph.outputs) == 1 and self.graph.shape_of(self.graph.outputs[0])[0] > 1

    def code(self) -> str:
        """The source of a readable numpy function computing in closed form the gradients, `gradient(inputs...)`,
        or for a vector output the Jacobians, `jacobian(inputs...)`."""
        from jacmagic.chain.closed_form import closed_forms, gradient_source
        from jacmagic.chain.closed_form_jacobian import jacobian_source

        if self._vector_output:
            return jacobian_source(self.graph, self.wrt)
        closed_forms(self.graph, self.wrt)  # refuses a cell with no closed form
        return gradient_source(self.graph, self.wrt)
