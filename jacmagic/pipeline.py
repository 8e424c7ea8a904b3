"""The one orchestrator: cell text (or a Python object) + options -> a result (`JacobianResult`: its Jacobian entry by
entry, and with --chain the graph its walkthrough runs on
for a cell read as array operations).

Used by the magic, the command line and the Python API alike, so all three show the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sympy as sp

from jacmagic.budget import Budget
from jacmagic.chain import calculus
from jacmagic.errors import CellError, OptionError, TooManyEntries
from jacmagic.lazy import np
from jacmagic.model import CellModel, Options, Step, symbols_in
from jacmagic.notation import counted
from jacmagic.notes import (
    BudgetStopped,
    DeterminantTooLarge,
    HeldConstant,
    Note,
    NotWrittenOut,
    OffMainThread,
    ThroughStages,
)
from jacmagic.option_words import refuse_unused, set_by, within_limit
from jacmagic.options import naming, refuse_repeated_wrt, spelled_as_typed, unknown_wrt
from jacmagic.read.names import STEP_NODES, closest, refuse_twins, step_in, step_refusal
from jacmagic.read.parse import NO_VARIABLES, parse_cell
from jacmagic.read.source import is_def_cell
from jacmagic.symbolic import SymbolicJacobian, expand_matrices, not_square

if TYPE_CHECKING:
    from jacmagic.chain.network import Network
    from jacmagic.result import JacobianResult

# A cell read as array operations with at most this many entries in all is also written out entry by entry: its
# symbolic Jacobian is shown first and checks the walkthrough exactly.
WHOLE_ENTRIES = 40


def read_cell(text: str, options: Options, namespace: Mapping[str, Any] | None = None) -> CellModel:
    """The model of a cell, whichever of the three forms it is written in."""
    if is_def_cell(text):
        from jacmagic.read.trace import trace_cell

        return trace_cell(text, namespace or {}, typed_shapes(options.at), options.budget)
    return parse_cell(text, chain=options.chain, budget=options.budget)


def typed_shapes(at: Sequence[tuple[str, Any]]) -> dict[str, tuple[int, ...]]:
    """The shape of each vector or matrix given whole in the point, as numpy has it (`z=[1, 2, 3]` is (3,),
    `W=[[1], [2]]` is (2, 1) and stays a matrix): how a Python function's array parameters are sized when the
    cell does not declare them."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, value in at:
        if isinstance(value, (list, tuple, np.ndarray, sp.MatrixBase)):
            shape = value.shape if isinstance(value, np.ndarray) else np.shape(np.asarray(value, dtype=object))
            if len(shape) in (1, 2):
                shapes[name] = shape
    return shapes


def compute(source: str | object, options: Options | None = None,
            namespace: Mapping[str, Any] | None = None, name: str = "") -> JacobianResult:
    """The Jacobian (and what the options ask for) of a cell's text, or of a function or sympy object."""
    options = options or Options()
    if isinstance(source, str):  # a lone carriage return ends a line for Python: so it does for the line numbers
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    within_limit("memory", options.memory, "--memory")
    within_limit("budget", options.budget, "--budget")
    refuse_unused(set_by(options))
    if options.chain:
        return _chain_result(source, options, namespace, name)
    from jacmagic.result import JacobianResult

    whole = compute_entries(source, options, namespace, name)
    return JacobianResult(options, whole, constants=tuple(s.name for s in whole.constants),
                          wrt=_names(whole.model, whole.inputs))


def _names(model: CellModel, symbols: Sequence[sp.Symbol]) -> tuple[str, ...]:
    """The names a user gives for these columns: each declared array's once, else each symbol's own."""
    owners = {s: shape.name for shape in model.shapes for s in shape.symbols}
    return tuple(dict.fromkeys(owners.get(s, s.name) for s in symbols))


def _chain_result(source: str | object, options: Options, namespace: Mapping[str, Any] | None, name: str
                  ) -> JacobianResult:
    """Every `--chain` cell walked on one graph: read as array operations line by line where the array reader
    covers it, else read entry by entry into stages that become the graph's lines."""
    # the array-level readers (and the operations they build) are loaded only for --chain: a plain cell, and
    # the command line's whole process, skip them (issue 27)
    from jacmagic.read.network import NotStructured
    from jacmagic.read.stages import network_of_stages
    from jacmagic.read.untraceable import CodeFailed, Untraceable

    uncovered: int | None = None  # the line the array-level reader left to the entry-level one
    if isinstance(source, str):
        try:
            return result_of_network(read_arrays(source, options, namespace), source, options, namespace)
        except NotStructured as why:
            uncovered = why.line
        except Untraceable as why:  # the entry-level tracer has no walkthrough of a def: say what stopped this one
            if isinstance(why, CodeFailed):  # the user's mistake, worded as in a plain cell where it is one there
                _entry_model(source, options, namespace, name)
            raise CellError(f"--chain follows a def through its numpy operations, and cannot follow this line: "
                            f"{why.reason}", why.line) from None
    try:
        model = _entry_model(source, options, namespace, name)
        refuse_twins(model.free_names + model.outputs + tuple(o for s in model.stages for o in s.outputs))
    except TooManyEntries as err:
        if uncovered is None:
            raise
        from jacmagic.read.network import COVERED

        covered = ", ".join(sorted(COVERED))
        raise CellError("this line uses something the array-level walkthrough does not cover (a condition "
                        "that is a constant), and the cell is too large for the entry-level one "
                        f"({err.message.split(';')[0]}); write it with + - * / ** @ .T, indexing and {covered}, or "
                        "use smaller shapes", uncovered) from None
    if not model.stages:  # one stage is a walkthrough too: its local Jacobian is the whole
        raise OptionError("--chain needs a stage to walk: a function, or assignment lines")
    _refuse_oversized_stages(model)
    if not options.wrt:  # the entry level's variables (a function's parameters), the rest constants
        options = replace(options, wrt=_names(model, model.inputs))
    return result_of_network(network_of_stages(model), source, options, namespace, model)


def result_of_network(network: Network, source: str | object, options: Options, namespace: Mapping[str, Any] | None,
                   model: CellModel | None = None) -> JacobianResult:
    """Checks the options against the network and builds the result, and the entry-level one from the stages
    `model` the network was made of, else when the network is small enough to write out."""
    from jacmagic.chain.network_walk import refuse_past_memory
    from jacmagic.points import arrays_by_name, batches_of_images, chosen_wrt, input_dims, refuse_unknown
    from jacmagic.result import JacobianResult

    if not network.inputs:
        raise CellError(NO_VARIABLES)
    options = spelled_as_typed(options, network.inputs)
    wrt = chosen_wrt(network, options.wrt)
    constants = tuple(n for n in network.inputs if n not in wrt)
    with naming("--at"):
        given = arrays_by_name({n: network.shape_of(n) for n in network.inputs}, wrt + constants, dict(options.at),
                               complete=False, stacks=batches_of_images(network))
    entries = sum(int(np.prod(network.shape_of(n))) for n in network.inputs)
    whole = None
    unwritten: tuple[Note, ...] = ()
    symbolic = [flag for flag, on in (("--det", options.det), ("--hessian", options.hessian),
                                      ("--partials", options.partials), ("--plot", options.plot)) if on]
    plain = replace(options, chain=False, mode="reverse", direction=())
    text = source if isinstance(source, str) else ""
    if model is not None:
        whole = _analyse(model, plain)
    elif entries <= WHOLE_ENTRIES and not network.batched:  # the entry level broadcasts numbers only, has no axis=
        try:
            whole = compute_entries(text, plain, namespace)
        except CellError as err:  # too slow, or a form only the array level reads (a def returning a matrix)
            if symbolic:
                raise
            unwritten = (NotWrittenOut("" if isinstance(err, TooManyEntries) else err.message),)
    elif symbolic:
        why = "broadcasts a column or row, or works along an axis" if network.batched else \
            f"has {entries:,} entries (at most {WHOLE_ENTRIES:,})"
        raise OptionError(f"{symbolic[0]} needs the Jacobian written out symbolically, and this network {why}; the "
                          "walkthrough works at any size")
    notes = unwritten + ((HeldConstant(constants),) if constants else ())

    def entry_chain() -> tuple[Step, ...]:  # the stages read once: the chain's own, else the whole's
        stages = model or (whole.model if whole is not None else _entry_model(text, options, namespace, ""))
        return _steps(stages, _variables(stages, wrt))

    result = JacobianResult(options, whole, network, text, wrt, constants, given, notes,
                           input_dims(network, text, dict(options.at)), entry_chain)
    if options.mode != "reverse":
        _ = result.directions  # refused now if too many
    refuse_past_memory(network, wrt, options.memory, 0 if options.mode == "reverse" else result.directions.shape[1])
    for option, ranges in (("--range: ", options.ranges), ("--domain: ", options.domain)):
        refuse_unknown([name for name, _, _ in ranges], result.names, option)
    return result


def read_arrays(text: str, options: Options, namespace: Mapping[str, Any] | None) -> Network:
    """A layer cell or a def cell as array operations; `NotStructured` for a cell (or a line) only the
    entry-level reader covers, `Untraceable` for a def the tracer cannot follow."""
    from jacmagic.read.array_trace import trace_network
    from jacmagic.read.network import read_network

    if is_def_cell(text):
        return trace_network(text, namespace or {}, dict(options.at), options.budget)
    return read_network(text)


def compute_entries(source: str | object, options: Options, namespace: Mapping[str, Any] | None = None,
                    name: str = "") -> SymbolicJacobian:
    """The entry-level result: every entry of every value a sympy expression (a layer cell's symbolic Jacobian,
    and its local Jacobians entry by entry)."""
    try:
        return _analyse(_entry_model(source, options, namespace, name), options)
    except RecursionError:
        raise TooManyEntries("an expression is nested too deeply to differentiate") from None


def _entry_model(source: str | object, options: Options, namespace: Mapping[str, Any] | None, name: str
                 ) -> CellModel:
    """The entry-level reading: every value a sympy expression, in stages; a softmax written shifted for
    stability (exp(z - max(z)) / sum) read as the softmax it is, in every form."""
    from jacmagic.chain.shifted import unshifted_model

    if isinstance(source, str):
        return unshifted_model(read_cell(source, options, namespace))
    from jacmagic.read.trace import trace_object

    return unshifted_model(trace_object(source, name, typed_shapes(options.at), options.budget))


def _variables(model: CellModel, wrt: tuple[str, ...]) -> tuple[sp.Symbol, ...]:
    """The columns of the Jacobian: the inputs, or what --wrt names (a declared matrix gives its entries,
    row-major)."""
    if not wrt:
        return model.inputs
    in_shapes = {s for shape in model.shapes for s in shape.symbols}
    by_name = {shape.name: shape.symbols for shape in model.shapes}
    by_name.update({s.name: (s,) for s in model.free_names})
    chosen: list[sp.Symbol] = []
    refuse_repeated_wrt(wrt)
    for name in wrt:
        if name not in by_name:
            computed = [o.name for s in model.stages for o in s.outputs] + [s.name for s in model.stages]
            names = [n for n, symbols in by_name.items() if len(symbols) > 1 or symbols[0] not in in_shapes]
            raise unknown_wrt(name, names, computed)
        chosen.extend(by_name[name])
    return tuple(chosen)


def _point(model: CellModel, at: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, float], ...]:
    """The --at point as one float per name, matrices expanded row-major."""
    with naming("--at"):
        expanded = expand_matrices(model.shapes, dict(at))
    point = []
    for name, given in expanded.items():
        values = np.asarray(given)  # a float, or an array of them
        if values.size != 1:
            raise OptionError(f"--at {name}: one number (it is not declared as an array), got "
                              f"{counted(values.size, 'value')} in the shape {values.shape}")
        value = float(values.reshape(-1)[0])
        if not np.isfinite(value):
            raise OptionError(f"--at {name}: {value} is not a finite number")
        point.append((name, value))
    return tuple(point)


def _analyse(model: CellModel, options: Options) -> SymbolicJacobian:
    refuse_twins(model.free_names + model.outputs + tuple(o for s in model.stages for o in s.outputs))
    options = spelled_as_typed(options, [shape.name for shape in model.shapes] + [s.name for s in model.free_names])
    point = _point(model, options.at) if options.at else ()
    variables = _variables(model, options.wrt)
    chosen = set(variables)
    constants = tuple(s for s in model.free_names if s not in chosen)
    notes: list[Note] = [held_constants(model, variables, constants)] if constants else []
    if options.det and len(model.outputs) != len(variables):
        raise OptionError("--det " + not_square(len(model.outputs), variables, model.free_names))
    matrix = None if model.composed is None else _differentiate(model, variables, options.budget)
    if matrix is None:
        return _through_stages(model, options, variables, constants, point, notes)
    budget = Budget(options.budget)  # started after differentiation, which has its own allowance
    if options.simplify == "full":
        matrix = calculus.tidy_matrix(matrix, budget)
    det = None
    if options.det:
        det = calculus.determinant(matrix, budget)
        if det is None and not budget.skipped:
            notes.append(DeterminantTooLarge(matrix.shape[0], calculus.MAX_SYMBOLIC_DET, options.budget))
        elif det is not None and options.simplify != "none":
            det = calculus.tidy(det, budget)
    hessians = calculus.hessians(matrix, variables, options.budget) if options.hessian else ()
    if budget.skipped:
        notes.append(OffMainThread(determinant_skipped=options.det and det is None))
    if budget.exceeded:
        notes.append(BudgetStopped(options.budget))
    return _checked(SymbolicJacobian(matrix, variables, model.outputs, model, constants, options, det, (),
                                   tuple(notes), point, hessians))


def _differentiate(model: CellModel, variables: tuple[sp.Symbol, ...], budget: float) -> sp.ImmutableMatrix | None:
    """The Jacobian within its time allowance; None when too large (the stages may still give it), refused if
    sympy could only leave a derivative unevaluated."""
    matrix = calculus.jacobian_within(model.expressions, variables, budget)
    if isinstance(matrix, CellError):
        if len(model.stages) == 1:
            raise matrix
        return None
    left = calculus.unevaluated(matrix)
    if left:
        step = step_in(left)
        if step is not None:  # sympy's own printing would show its dummy variables (Derivative(floor(_xi_1), _xi_1))
            raise CellError(step_refusal(STEP_NODES[step.func][0]))
        inner = sorted(left, key=sp.default_sort_key)[0].args[0]
        raise CellError(f"jacmagic cannot write the derivative of {sp.sstr(inner)[:80]}: it has no derivative "
                        "formula; write the map without it")
    return matrix


def _refuse_oversized_stages(model: CellModel) -> None:
    """Each stage's local Jacobian is built symbolically: one estimated too large is refused before any work."""
    for stage in model.stages:
        symbols = symbols_in(stage.expressions)  # a part all entries share (max(z)) walked once
        if not calculus.fits(stage.expressions, symbols):
            raise CellError(f"{stage.name} is too large to differentiate symbolically "
                            f"({counted(len(stage.outputs), 'output')} of {counted(len(symbols), 'variable')}, more "
                            f"than {calculus.MAX_SYMBOLIC_SIZE:,} terms to build); split it into smaller steps, one "
                            "per line, or use smaller shapes", stage.line)


def _through_stages(model: CellModel, options: Options, variables: tuple[sp.Symbol, ...],
                    constants: tuple[sp.Symbol, ...], point: tuple[tuple[str, float], ...],
                    notes: list[Note]) -> SymbolicJacobian:
    """A map whose composition is too large to write out or to differentiate as a whole: its Jacobian comes
    through the stages, each small enough to differentiate (else it is refused before any work starts)."""
    if options.hessian:
        raise OptionError("--hessian needs the Jacobian written out symbolically, and this map is too large for "
                          "that; differentiate by fewer variables with --wrt")
    _refuse_oversized_stages(model)
    steps = _steps(model, variables)
    notes.append(ThroughStages())
    return _checked(SymbolicJacobian(None, variables, model.outputs, model, constants, options, None, steps,
                                   tuple(notes), point))


def held_constants(model: CellModel, variables: Sequence[sp.Symbol],
                   constants: Sequence[sp.Symbol]) -> HeldConstant:
    """The names held constant as the user declared them (an array by its name, never its entries), each with
    the variable it looks like a typo of: only a lone name the user wrote, against the names the user wrote."""
    array_of = {s: shape.name for shape in model.shapes for s in shape.symbols}
    names = list(dict.fromkeys(array_of.get(c, c.name) for c in constants))
    chosen = list(dict.fromkeys(array_of.get(v, v.name) for v in variables))
    arrays = {shape.name for shape in model.shapes}
    return HeldConstant(tuple(names), tuple("" if name in arrays else closest(name, chosen, one_edit=True)
                                           for name in names))


def _checked(result: SymbolicJacobian) -> SymbolicJacobian:
    """A wrong --at or --range is the user's mistake: say so now, not when the panel opens."""
    if result.point:
        result.point_values(dict(result.point))
    result.check_names((name for name, _, _ in result.options.ranges), "--range: ")
    result.check_names((name for name, _, _ in result.options.domain), "--domain: ")
    return result


def _steps(model: CellModel, variables: Sequence[sp.Symbol]) -> tuple[Step, ...]:
    """The local Jacobian of each stage, in forward order. A stage's inputs are its parameters and any variable
    or earlier value it uses directly (h(u) = [u*x] after g(x) uses x both through u and as itself): the
    gradient flows back along each of them."""
    flowing = set(variables)
    steps = []
    for s in model.stages:
        used = set().union(*(e.free_symbols for e in s.expressions))
        direct = tuple(sorted((used & flowing) - set(s.params), key=lambda symbol: symbol.name))
        inputs = s.params + direct
        steps.append(Step(s, inputs, s.sources + direct, calculus.jacobian(s.expressions, inputs)))
        flowing.update(s.outputs)
    return tuple(steps)
