"""The one orchestrator: cell text (or a Python object) + options -> `JacobianResult`.

Used by the magic, the command line and the Python API alike, so all three show the same thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import sympy as sp

from . import calculus
from .budget import Budget
from .errors import CellError, OptionError
from .model import CellModel, Options
from .parse import parse_cell
from .result import JacobianResult, Step


def read_cell(text: str, options: Options, namespace: Mapping[str, Any] | None = None) -> CellModel:
    """The model of a cell, whichever of the three forms it is written in."""
    from .trace import is_def_cell, trace_cell

    if is_def_cell(text):
        return trace_cell(text, namespace or {})
    return parse_cell(text, chain=options.chain)


def compute(source: str | object, options: Options | None = None,
            namespace: Mapping[str, Any] | None = None, name: str = "") -> JacobianResult:
    """The Jacobian (and what the options ask for) of a cell's text, or of a function or sympy object."""
    options = options or Options()
    if isinstance(source, str):
        model = read_cell(source, options, namespace)
    else:
        from .trace import trace_object

        model = trace_object(source, name)
    try:
        return _analyse(model, options)
    except RecursionError:
        raise CellError("an expression is nested too deeply to differentiate") from None


def _variables(model: CellModel, wrt: tuple[str, ...]) -> tuple[sp.Symbol, ...]:
    """The columns of the Jacobian: the inputs, or what --wrt names (a declared matrix gives its entries,
    row-major)."""
    if not wrt:
        return model.inputs
    in_shapes = {s for shape in model.shapes for s in shape.symbols}
    by_name = {shape.name: shape.symbols for shape in model.shapes}
    by_name.update({s.name: (s,) for s in model.free_names})
    chosen: list[sp.Symbol] = []
    for name in wrt:
        if name not in by_name:
            hint = difflib.get_close_matches(name, list(by_name), n=1)
            computed = {o.name for s in model.stages for o in s.outputs} | {s.name for s in model.stages}
            why = " is computed in the cell, not an input;" if name in computed else " is not a variable of this map"
            names = [n for n, symbols in by_name.items() if len(symbols) > 1 or symbols[0] not in in_shapes]
            raise OptionError(f"--wrt: {name}{why}" + (f" (did you mean {hint[0]}?)" if hint else "") +
                              f"; the variables are {', '.join(names)}")
        if any(s in chosen for s in by_name[name]):
            raise OptionError(f"--wrt names {name} twice")
        chosen.extend(by_name[name])
    return tuple(chosen)


def _expand_point(model: CellModel, at: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, float], ...]:
    """`W=[[...], [...]]` at a declared matrix becomes one value per entry, row-major."""
    shapes = {shape.name: shape for shape in model.shapes}
    expanded: list[tuple[str, float]] = []
    for name, value in at:
        shape = shapes.get(name)
        if shape is None:
            if not isinstance(value, (int, float)):
                raise OptionError(f"--at {name}: a list of values is only for a declared matrix or vector")
            expanded.append((name, float(value)))
            continue
        array = np.asarray(value, dtype=float)
        if array.size != shape.rows * shape.cols or array.ndim > 2:
            raise OptionError(f"--at {name}: {name} is {shape.rows} x {shape.cols}, so it needs "
                              f"{shape.rows * shape.cols} values in that shape")
        expanded.extend(zip((s.name for s in shape.symbols), array.ravel().tolist()))
    return tuple(expanded)


def _analyse(model: CellModel, options: Options) -> JacobianResult:
    if options.at:
        options = replace(options, at=_expand_point(model, options.at))
    variables = _variables(model, options.wrt)
    constants = tuple(s for s in model.free_names if s not in variables)
    budget = Budget(options.budget)
    notes: list[str] = []
    steps = _steps(model) if options.chain else ()
    if model.composed is None:
        return _too_big_to_compose(model, options, variables, constants, steps)
    matrix = _differentiate(model, variables, options.budget)
    if options.simplify == "full":
        matrix = calculus.tidy_matrix(matrix, budget)
    det = None
    if options.det:
        if matrix.rows != matrix.cols:
            m, n = matrix.shape
            raise OptionError(f"--det needs a square Jacobian, but this one is {m} x {n} ({m} outputs, {n} "
                              f"inputs); pick {min(m, n)} variables with --wrt, e.g. --wrt "
                              f"{','.join(s.name for s in variables[:min(m, n)])}")
        det = calculus.determinant(matrix, budget)
        if det is None:
            notes.append("the determinant is too large to expand symbolically within the time budget; "
                         "its value at a point is still computed")
        elif options.simplify != "none":
            det = calculus.tidy(det, budget)
    if budget.exceeded:
        notes.append(f"simplification stopped at the {options.budget:g} s time budget; "
                     "some entries are shown unsimplified")
    return _checked(JacobianResult(matrix, variables, model.outputs, model, constants, options, det, steps,
                                   tuple(notes)))


# Differentiating may take this many budgets before it is given up as too large: it has no cheaper fallback.
DIFFERENTIATION_BUDGETS = 5


def _differentiate(model: CellModel, variables: tuple[sp.Symbol, ...], budget: float) -> sp.ImmutableMatrix:
    allowance = DIFFERENTIATION_BUDGETS * budget
    matrix: sp.ImmutableMatrix | None = Budget(allowance).run(lambda: calculus.jacobian(model.expressions, variables),
                                                               None)
    if matrix is None:
        raise CellError(f"the Jacobian has too many terms to build within {allowance:g} s (a deeply nested "
                        "composition?); write the map as stages with --chain, or allow more time with --budget")
    return matrix


def _too_big_to_compose(model: CellModel, options: Options, variables: tuple[sp.Symbol, ...],
                        constants: tuple[sp.Symbol, ...], steps: tuple[Step, ...]) -> JacobianResult:
    """A chain whose composition would be too large to write out: its Jacobian comes through the stages."""
    if options.det and len(model.outputs) != len(variables):
        raise OptionError(f"--det needs a square Jacobian, but this one is {len(model.outputs)} x {len(variables)}")
    notes = ("the composed map is too large to write out symbolically, so its Jacobian is built stage by stage; "
             "result.matrix composes it on request",)
    return _checked(JacobianResult(None, variables, model.outputs, model, constants, options, None, steps, notes))


def _checked(result: JacobianResult) -> JacobianResult:
    """A wrong --at or --range is the user's mistake: say so now, not when the panel opens."""
    if result.options.at:
        result.point_values(dict(result.options.at))
    result.check_names((name for name, _, _ in result.options.ranges), "--range: ")
    result.check_names((name for name, _, _ in result.options.domain), "--domain: ")
    return result


def _steps(model: CellModel) -> tuple[Step, ...]:
    """The local Jacobian of each stage, in its own variables, in forward order."""
    if len(model.stages) < 2:
        raise OptionError("--chain needs at least two stages: two functions, or assignment lines that build on "
                          "each other")
    return tuple(Step(s.name, s.params, s.outputs, s.expressions, calculus.jacobian(s.expressions, s.params),
                      s.line, s.sources) for s in model.stages)
