"""Python functions and sympy objects -> model, by calling the function with real symbols.

A `def` cell is Python and runs as the user's own code would (in a copy of the user namespace, so nothing there is
changed). Before tracing, a function sees symbolic twins instead of numpy and math: `np.sin`, `numpy.exp`,
`math.sqrt` and names imported from them map to sympy (numpy_twins.py), so a function written for real numpy
traces unchanged; so do helpers defined in an earlier cell.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import io
import linecache
import sys
import types
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from jacmagic.budget import Budget
from jacmagic.chain.activations import Abs, sign
from jacmagic.chain.calculus import DIFFERENTIATION_BUDGETS, MAX_SYMBOLIC_SIZE
from jacmagic.errors import CellError, TooManyEntries
from jacmagic.model import CellModel, Options, Shape, Stage, distinct_nodes, exceeds, symbols_in
from jacmagic.notation import counted
from jacmagic.read.cell_code import HOOKS, rewritten
from jacmagic.read.guards import guards_within, refuse_undefined
from jacmagic.read.names import STEP_NODES, element_symbols, real_symbol, refuse_twins, step_in, step_refusal
from jacmagic.read.numpy_twins import ACTIVATIONS, MATH_SHIM, NUMPY_SHIM, entries_of, symbolic_array, symbolic_twin
from jacmagic.read.parse import output_symbols
from jacmagic.read.source import (
    MAX_ENTRY_LEVEL_ENTRIES,
    keyword_as_name,
    keyword_named,
    python_declarations,
    refuse_entry_level,
)
from jacmagic.read.unevaluated import evaluated, evaluator, unevaluated

CELL_FILENAME = "<jacobian cell>"
_ENTRY_BY_ENTRY = ("a Python function is traced entry by entry; write the layers as assignment lines with --chain "
                   "for any size")


class _Rebinder:
    """Copies of functions whose globals hold the symbolic twins. The user's own functions (those whose globals
    are one of `homes`: the namespace and the cell) are rebound too, so a helper defined in an earlier cell traces
    as one defined in the same cell; library functions are left alone. Functions sharing globals share one copy
    of them, made once."""

    def __init__(self, homes: tuple[Mapping[str, Any], ...] = ()) -> None:
        self.homes = {id(home) for home in homes}
        self.functions: dict[int, Callable[..., Any]] = {}
        self.scopes: dict[int, dict[str, Any]] = {}

    def function(self, function: types.FunctionType) -> Callable[..., Any]:
        if id(function) in self.functions:
            return self.functions[id(function)]
        original = function.__globals__
        self.homes.add(id(original))
        fresh = id(original) not in self.scopes
        scope = self.scopes.setdefault(id(original), {})
        cells = tuple(types.CellType() for _ in function.__closure__ or ()) or None
        copy = types.FunctionType(function.__code__, scope, function.__name__, None, cells)
        made = copy if function.__code__.co_filename == CELL_FILENAME else _evaluating(copy)
        self.functions[id(function)] = made  # before its globals are filled: a recursive function calls its copy
        if fresh:
            scope.update((key, self.value(value)) for key, value in original.items())
            scope.setdefault("__builtins__", original.get("__builtins__", __builtins__))
        copy.__defaults__ = tuple(map(self.value, function.__defaults__ or ())) or None
        copy.__kwdefaults__ = function.__kwdefaults__
        for cell, given in zip(cells or (), function.__closure__ or ()):
            try:
                cell.cell_contents = self.value(given.cell_contents)
            except ValueError:  # a cell not filled yet (a name its scope assigns after the def)
                continue
        return made

    def value(self, value: Any) -> Any:
        if isinstance(value, types.FunctionType) and id(value.__globals__) in self.homes:
            return self.function(value)
        return symbolic_twin(value)


def _evaluating(function: types.FunctionType) -> Callable[..., Any]:
    """A function not written in the def cell (a helper from an earlier cell, a function given to jacobian) runs
    with sympy evaluating: its tests and assignments are not rewritten to see numbers (`n == 3` of an unevaluated
    1 + 2 is False), so it runs as Python runs it, and its guards are what sympy leaves of them."""
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with evaluated():
            return function(*args, **kwargs)
    return run


def _error_line(tb: Any, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# numpy's words for a number used as an array (not its "needs two dimensions" of a vector)
_NO_AXES = ("0-dimensional", "zero-dimensional", "dimension 0", "0d array", "(has 0,")


def _explain(err: BaseException) -> str:
    text = " ".join(str(err).split())  # a library's message may hold line breaks: the refusal is one paragraph
    if isinstance(err, TypeError) and ("truth value" in text or "relational" in text.lower()):
        return ("the control flow depends on a symbolic value (an if, max() or comparison on an input); "
                "write it with np.where(cond, a, b) or sympy.Piecewise so it can be differentiated")
    if isinstance(err, TypeError) and "convert expression to float" in text.lower():
        return "float() or a math function got a symbolic value; use np. or math. functions, which are traced"
    if isinstance(err, TypeError) and any(words in text.lower() for words in (
            "cannot round", "convert symbols to int", "define __round__")):  # the last: round() of an array
        return step_refusal("round() or int() of a traced value")
    if isinstance(err, NameError):
        return f"{text}"
    if isinstance(err, (TypeError, AttributeError, ValueError)) and ("'Symbol'" in text or any(
            words in text for words in _NO_AXES)):
        return (f"{text}: an input is used as a vector or matrix but was traced as one number; give its shape "
                "with a line `z: 3` (or `W: 2x3`) in the cell, or with the point: --at z=[1, 2, 3]")
    # the traced array is numpy's to the user: numpy's name, not the tracing subclass's
    return f"{type(err).__name__}: {text}".replace("SymbolicArray", "numpy.ndarray")


_TRACED_MODULES = ("np", "numpy", "math", "sympy", "sp")
# The numpy spellings of a library's functions jacmagic can trace, by the function's last name
_SPELLED = {"expit": "sigmoid({0}) or 1/(1 + np.exp(-{0}))", "logistic": "sigmoid({0}) or 1/(1 + np.exp(-{0}))",
            "sigmoid": "sigmoid({0}) or 1/(1 + np.exp(-{0}))", "softmax": "np.exp({0}) / np.sum(np.exp({0}))",
            "logsumexp": "np.log(np.sum(np.exp({0})))", "log_softmax": "{0} - np.log(np.sum(np.exp({0})))",
            "relu": "relu({0}) or np.maximum({0}, 0)", "softplus": "softplus({0}) or np.log(1 + np.exp({0}))",
            "gelu": "gelu({0})", "leaky_relu": "leaky_relu({0})"}


def _foreign_call(tb: Any, filename: str | None, line: int | None, err: BaseException) -> str:
    """The refusal of a library function (not numpy's or math's) that failed on the traced symbols, as
    scipy.special.expit(x) does inside numpy: named, with its numpy spelling where jacmagic knows one; "" for
    any other failure."""
    if filename is None or line is None:
        return ""
    frame = innermost = tb
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
        frame = innermost if innermost.tb_frame.f_code.co_filename == filename else frame
    if innermost is frame and "ufunc" not in str(err):
        return ""  # the user's own line failed, not a library's function
    try:
        statement = ast.parse(linecache.getline(filename, line).strip())
    except (SyntaxError, ValueError):
        return ""
    names = {**frame.tb_frame.f_globals, **frame.tb_frame.f_locals}
    calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and _root(node.func) not in _TRACED_MODULES and isinstance(names.get(_root(node.func)), types.ModuleType)]
    if not calls:
        return ""
    call = calls[0]
    assert isinstance(call.func, ast.Attribute)
    dotted, last = ast.unparse(call.func), call.func.attr
    argument = ", ".join(ast.unparse(a) for a in call.args) or "x"
    spelled = _SPELLED.get(last, f"np.{last}({argument})" if hasattr(np, last) else "")
    instead = f"write {spelled.format(argument)}" if spelled else "write it with numpy functions and arithmetic"
    return f"{dotted} cannot be traced with symbols (jacmagic follows numpy and Python arithmetic); {instead}"


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def read_defs(text: str) -> tuple[ast.Module, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """A def cell's syntax tree and its functions, or the refusal of either: the one wording of both readers."""
    try:
        tree = ast.parse(text, CELL_FILENAME)
    except SyntaxError as err:
        lines = text.split("\n")  # the line named, not err.text: a line continued by \\ holds the next one too
        written = lines[err.lineno - 1] if err.lineno and err.lineno <= len(lines) else err.text or ""
        if word := keyword_named(text, err):
            raise CellError(keyword_as_name(word), err.lineno) from None
        raise CellError(f"{err.msg}: {written.strip()[:80]}", err.lineno, err.offset) from None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        raise CellError("this Python cell defines no function: write def f(x, y): return [...]", 1)
    return tree, defs


def trace_cell(text: str, namespace: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]] | None = None,
               budget: float = Options.budget) -> CellModel:
    """Runs a def cell in a copy of the user namespace and traces the last function it defines. Its vector
    and matrix parameters take their shapes from the cell's shape lines (`z: 3`) or from `shapes` (the point)."""
    text, declared = python_declarations(text)
    refuse_entry_level(declared, _ENTRY_BY_ENTRY)
    tree, defs = read_defs(text)
    linecache.cache[CELL_FILENAME] = (len(text), None, text.splitlines(True), CELL_FILENAME)  # for the refusals
    scope = {**ACTIVATIONS, **namespace, "np": NUMPY_SHIM, "numpy": NUMPY_SHIM, "math": MATH_SHIM, **HOOKS}
    code = rewritten(ast.parse(text, CELL_FILENAME))
    try:
        exec(compile(code, CELL_FILENAME, "exec"), scope)  # noqa: S102 - a def cell is the user's own Python
    except CellError:
        raise
    except Exception as err:  # the user's code failed: say where, as their own code would
        raise CellError(_explain(err), _error_line(sys.exc_info()[2], CELL_FILENAME)) from None
    target = scope[defs[-1].name]
    params = set(inspect.signature(target).parameters)
    for declaration in declared.values():
        if declaration.name not in params:
            raise CellError(f"{declaration.name} is declared but is not a parameter of {defs[-1].name}",
                            declaration.line)
    given = {**(shapes or {}), **{d.name: d.dims for d in declared.values()}}
    model = trace_function(target, defs[-1].name, CELL_FILENAME, given, budget, homes=(namespace,),
                           line=defs[-1].lineno)
    _refuse_steps(model.expressions or (), tree)
    return model


_OPERATORS = {"//": ast.FloorDiv, "%": ast.Mod}


def _refuse_steps(expressions: tuple[sp.Expr, ...], tree: ast.Module) -> None:
    """`x // 2` and `x % 2` on a traced value run as Python (no error) and leave sympy's floor or Mod, which have
    no derivative at their jumps: refused here, naming the line of the first such operator in the cell (or the
    function, sympy's own floor called in the def)."""
    step = step_in(expressions)
    if step is None:
        return
    name, operator = STEP_NODES[step.func]
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, _OPERATORS[operator])]
    raise CellError(step_refusal(operator if lines else name), min(lines, default=None))


def trace_function(function: Callable[..., Any], name: str = "", filename: str | None = None,
                   shapes: Mapping[str, tuple[int, ...]] | None = None, budget: float = Options.budget,
                   homes: tuple[Mapping[str, Any], ...] = (), line: int = 1) -> CellModel:
    """Calls `function` with one real symbol per parameter without a default (an array of them for a
    parameter with a shape: a vector for n x 1, a matrix otherwise) and reads what it returns. The call has the
    differentiation's allowance of time: it has no cheaper fallback either. Its outputs' guards (where numpy's
    value is defined) are found in what it returns and said to be on `line` (the def's)."""
    name = name or getattr(function, "__name__", "f")
    if isinstance(function, types.FunctionType):
        filename = filename or function.__code__.co_filename
        function = _Rebinder(homes).function(function)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise CellError(f"{name} has no signature to read its inputs from") from None
    names = [p.name for p in signature.parameters.values()
             if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not names:
        raise CellError(f"{name} takes no inputs: give it parameters, e.g. def {name}(x, y)")
    arguments, declared = _arguments(names, shapes or {})
    params = tuple(s for argument in arguments for s in entries_of(argument))
    allowance = DIFFERENTIATION_BUDGETS * budget
    evaluated = evaluator()
    try:
        traced = Budget(allowance).run(lambda: _outputs(function, arguments, name, evaluated), None,
                                       optional=False)
    except CellError as err:
        if err.line is None and filename:
            err = CellError(err.message, _error_line(sys.exc_info()[2], filename))
        raise err from None
    except Exception as err:
        failed = _error_line(sys.exc_info()[2], filename) if filename else None
        foreign = _foreign_call(sys.exc_info()[2], filename, failed, err)
        raise CellError(foreign or f"in {name}: {_explain(err)}", failed) from None
    if traced is None:
        raise TooManyEntries(f"calling {name} with symbols ({counted(len(params), 'input')}) did not finish within "
                             f"{allowance:g} s; use smaller shapes, or write the layers as assignment lines with "
                             "--chain for any size")
    written, expressions = traced
    _refuse_oversized(name, expressions, declared)
    _refuse_undefined(name, expressions)
    outputs = output_symbols(name, len(expressions))
    guards = guards_within(written, line, partial(_output_error, f"in {name}"), evaluated)
    stage = Stage(name, params, outputs, expressions, 1, params, guards)
    return CellModel("def", params, outputs, expressions, (stage,), name, declared)


def _outputs(function: Callable[..., Any], arguments: list[Any], name: str, evaluated: Callable[[sp.Basic], sp.Basic]
             ) -> tuple[tuple[sp.Expr, ...], tuple[sp.Expr, ...]]:
    """The outputs of `function` as it computed them, and their values. sympy evaluates nothing while the def
    runs, so each value keeps the parts it was computed from (np.exp(np.log(x)) keeps its log, 0*np.sqrt(x) its
    sqrt, x/x its divisor) and its guards are found in it; sympy's simplified value is taken after."""
    printed = io.StringIO()
    try:
        with unevaluated(), contextlib.redirect_stdout(printed):
            value = function(*arguments)
        written = _written(value, name)
        values = tuple(map(evaluated, written))
    except CellError:
        raise
    except Exception:  # noqa: BLE001 - sympy may fail on unevaluated parts, or on their values built after
        written = values = _written(function(*arguments), name)  # so run as it always was: it fails at its line
        return written, values  # what the first run printed is not shown: the def prints once
    sys.stdout.write(printed.getvalue())
    return written, values


def _written(value: Any, name: str) -> tuple[sp.Expr, ...]:
    written = tuple(_as_expression(v, name) for v in _flatten(value))
    if not written:
        raise CellError(f"{name} returns nothing to differentiate")
    return written


def _output_error(where: str, message: str) -> CellError:
    return CellError(f"{where}: {message}")


def _refuse_undefined(name: str, expressions: tuple[sp.Expr, ...]) -> None:
    """Outputs undefined for every input refused as a formula's are (x/0.0, math.log(x, 1.0)), naming the output.
    The outputs are looked at together first, in one walk over the parts they share: one by one, the 3000
    outputs of a softmax walked its shared sum 3000 times (25 s)."""
    constants = [e for e in expressions if e.is_number]  # small; undefined without any undefined atom: (-8)**(1/3)
    try:
        for whole in (*constants, sp.Tuple(*expressions)):
            refuse_undefined(whole, CellError)
    except CellError:  # so an output is undefined: the same test, output by output, refuses it by its number
        for k, expression in enumerate(expressions, start=1):
            refuse_undefined(expression, partial(_output_error, f"in {name}: output {k}"))


def _arguments(names: list[str], shapes: Mapping[str, tuple[int, ...]]) -> tuple[list[Any], tuple[Shape, ...]]:
    """What the function is called with: a real symbol per scalar parameter, an array of entry symbols
    (named as declared matrices' entries are) per parameter with a shape. Too many entries in all are refused
    before any symbol is made."""
    sized = {name: (*shapes[name], 1)[:2] for name in names if name in shapes}  # (n,) is n x 1
    total = sum(rows * cols for rows, cols in sized.values())
    if total > MAX_ENTRY_LEVEL_ENTRIES:
        biggest = max(sized, key=lambda n: sized[n][0] * sized[n][1])
        rows, cols = sized[biggest]
        shape = f" ({rows} x {cols})" if cols > 1 else ""
        others = f", {total:,} with the other parameters" if total > rows * cols else ""
        raise TooManyEntries(f"the parameter {biggest} has {rows * cols:,} entries{shape}{others}; jacmagic writes at "
                             f"most {MAX_ENTRY_LEVEL_ENTRIES:,} out symbol by symbol: {_ENTRY_BY_ENTRY}")
    arguments: list[Any] = []
    declared: list[Shape] = []
    for name in names:
        if name not in sized:
            arguments.append(real_symbol(name))
            continue
        rows, cols = sized[name]
        entries = element_symbols(name, rows, cols)
        declared.append(Shape(name, rows, cols, tuple(entries), len(shapes[name]) == 2))
        array = symbolic_array(entries.tolist())
        arguments.append(array.reshape(rows) if len(shapes[name]) == 1 else array)
    return arguments, tuple(declared)


def _refuse_oversized(name: str, expressions: tuple[sp.Expr, ...], shapes: tuple[Shape, ...]) -> None:
    """Outputs too large to write out are refused at once: every later step (the inputs each uses, the size of
    the Jacobian, differentiating) walks them written out, and could not be stopped inside sympy's walks."""
    if exceeds(expressions, MAX_SYMBOLIC_SIZE):
        sizes = " (from " + ", ".join(f"{s.name}: {s.rows}" + (f"x{s.cols}" if s.cols > 1 else "")
                                      for s in shapes) + ")" if shapes else ""
        raise CellError(f"{name} returns {counted(len(expressions), 'output')} that, written out, have more than "
                        f"{MAX_SYMBOLIC_SIZE:,} terms{sizes}, too large to differentiate symbolically: use smaller "
                        "shapes, or write the layers as assignment lines with --chain for any size")


def trace_object(value: object, name: str, shapes: Mapping[str, tuple[int, ...]] | None = None,
                 budget: float = Options.budget) -> CellModel:
    """A function, sympy expression or sympy Matrix from the user namespace."""
    if isinstance(value, (sp.MatrixBase, sp.Expr)):
        expressions = _as_real_map(tuple(_flatten(value)), name)
        symbols = sorted(symbols_in(expressions), key=lambda s: s.name)
        if not symbols:
            raise CellError(f"{name} has no symbols to differentiate by")
        outputs = output_symbols(name or "f", len(expressions))
        stage = Stage(name, tuple(symbols), outputs, expressions, 1, tuple(symbols))
        return CellModel("object", tuple(symbols), outputs, expressions, (stage,), name)
    if callable(value):
        return trace_function(value, name, shapes=shapes, budget=budget)
    raise CellError(f"{name} is a {type(value).__name__}; %jacobian takes a function, a sympy expression or "
                    "a sympy Matrix")


def _as_real_map(expressions: tuple[sp.Expr, ...], name: str) -> tuple[sp.Expr, ...]:
    """A sympy object as a map of real variables, as cells are: its symbols made real (two different symbols of
    one name are refused), |.| and sign with the derivatives of real functions; unevaluated integrals,
    derivatives and undefined functions are refused, having no formula to differentiate."""
    symbols = symbols_in(expressions)
    refuse_twins(symbols)
    for expression in expressions:
        unknown = [n for n in distinct_nodes((expression,))
                   if isinstance(n, (AppliedUndef, sp.Integral, sp.Derivative, sp.Sum, sp.Product))]
        if unknown:
            shown = sp.sstr(sorted(unknown, key=sp.default_sort_key)[0])[:60]
            raise CellError(f"{name} contains {shown}, which has no explicit formula to differentiate; call .doit() "
                            "or write the function out")
    real = {s: real_symbol(s.name) for s in symbols}
    return tuple(e.xreplace(real).replace(sp.Abs, Abs).replace(sp.sign, sign) for e in expressions)


# A matrix's Jacobian is that of its entries in a row: the way to it, as docs/cell-forms.md says
_RAVEL = "return a vector: return {} to differentiate every entry, row by row"


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, sp.MatrixBase):
        if value.rows != 1 and value.cols != 1:
            raise CellError(f"the function returns a {value.rows} x {value.cols} matrix; {_RAVEL.format('list(M)')}")
        return list(value)
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for item in value:
            if isinstance(item, (list, tuple, sp.MatrixBase, np.ndarray)):
                raise CellError("the function returns a nested list; return a flat list of outputs")
            out.append(item)
        return out
    if isinstance(value, np.ndarray) and value.ndim > 1 and sorted(value.shape)[-2] > 1:
        shape = " x ".join(map(str, value.shape))
        raise CellError(f"the function returns a {shape} array; {_RAVEL.format('M.ravel()')}")
    if hasattr(value, "tolist") and not isinstance(value, sp.Basic):
        return entries_of(value) if isinstance(value, np.ndarray) else _flatten(value.tolist())
    return [value]


def _as_expression(value: Any, name: str) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (bool, sp.logic.boolalg.Boolean)):
        raise CellError(f"{name} returns a condition, not a number")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        return sp.Float(value)
    raise CellError(f"{name} returns a {type(value).__name__}, not a number or expression")
