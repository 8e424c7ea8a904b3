"""The one orchestrator: cell text (or a Python object) + options -> `JacobianResult`.

Used by the magic, the command line and the Python API alike, so all three show the same thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

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
    if not wrt:
        return model.inputs
    by_name = {s.name: s for s in model.free_names}
    chosen = []
    for name in wrt:
        if name not in by_name:
            hint = difflib.get_close_matches(name, list(by_name), n=1)
            computed = {o.name for s in model.stages for o in s.outputs}
            why = " is computed in the cell, not an input;" if name in computed else " is not a variable of this map"
            raise OptionError(f"--wrt: {name}{why}" + (f" (did you mean {hint[0]}?)" if hint else "") +
                              f"; the variables are {', '.join(by_name)}")
        if by_name[name] in chosen:
            raise OptionError(f"--wrt names {name} twice")
        chosen.append(by_name[name])
    return tuple(chosen)


def _analyse(model: CellModel, options: Options) -> JacobianResult:
    variables = _variables(model, options.wrt)
    constants = tuple(s for s in model.free_names if s not in variables)
    budget = Budget(options.budget)
    notes: list[str] = []
    matrix = calculus.jacobian(model.expressions, variables)
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
    steps = _steps(model, options) if options.chain else ()
    result = JacobianResult(matrix, variables, model.outputs, model.expressions, constants, options, det,
                            steps, tuple(notes), model.stages)
    if options.at:
        result.point_values(dict(options.at))  # a wrong --at is the user's mistake: say so now
    result.check_names((name for name, _, _ in options.ranges), "--range: ")
    return result


def _steps(model: CellModel, options: Options) -> tuple[Step, ...]:
    """The local Jacobian of each stage, in its own variables, in forward order."""
    if len(model.stages) < 2:
        raise OptionError("--chain needs at least two stages: two functions, or assignment lines that build on "
                          "each other")
    steps = []
    for k, s in enumerate(model.stages):
        sources = model.stages[k - 1].outputs if model.form == "function" and k > 0 else s.params
        steps.append(Step(s.name, s.params, s.outputs, s.expressions, calculus.jacobian(s.expressions, s.params),
                          s.line, sources))
    return tuple(steps)
