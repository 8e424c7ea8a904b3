"""Cell text -> model, for the math form `f(x, y) = [...]` and the assignment form `x = r*cos(theta)`.

Each line is read by `formula`; this module decides what the lines mean together: which names are inputs,
outputs, constants and intermediates, and how functions and stages compose.
"""

from __future__ import annotations

import ast
import keyword
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import sympy as sp

from jacmagic.budget import Budget
from jacmagic.chain import calculus
from jacmagic.chain.functions import KNOWN_CONSTANTS, KNOWN_FUNCTIONS
from jacmagic.errors import CellError, TooManyEntries
from jacmagic.model import CellModel, Guard, Options, Shape, Stage, compose, symbols_in
from jacmagic.notation import counted
from jacmagic.read.cell_functions import CellFunction, NestedCalls
from jacmagic.read.formula import ExpressionBuilder, describe
from jacmagic.read.guards import by_entry
from jacmagic.read.matrix_values import Value
from jacmagic.read.names import element_symbols, real_symbol, refuse_lookalikes
from jacmagic.read.source import (
    Head,
    Prepared,
    keyword_as_name,
    node_error,
    not_a_shape,
    parse_deep,
    prepare,
    refuse_entry_level,
    syntax_error,
)


@dataclass
class _Names:
    """Where each free name first appears, so that inputs come in reading order."""

    first_seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def see(self, name: str, node: ast.Name) -> sp.Symbol:
        position = (node.lineno, node.col_offset)
        if name not in self.first_seen or position < self.first_seen[name]:
            self.first_seen[name] = position
        return real_symbol(name)

    def in_order(self, exclude: set[str] | None = None) -> tuple[sp.Symbol, ...]:
        names = sorted(self.first_seen, key=self.first_seen.__getitem__)
        return tuple(real_symbol(n) for n in names if not exclude or n not in exclude)


# Said by every reader of a cell whose formulas read no input at all.
NO_VARIABLES = "nothing to differentiate by: the formulas use no input variables"


def _check_new_name(name: str, line: int, what: str) -> None:
    if name.startswith("__"):
        raise CellError(f"the name {name} is not allowed", line)
    if name in KNOWN_FUNCTIONS or name in KNOWN_CONSTANTS:
        kind = "function" if name in KNOWN_FUNCTIONS else "constant"
        raise CellError(f"{name} is a built-in {kind}; choose another name for this {what}", line)


def _common_name(name: str, node: ast.Name, line: int, prepared: Prepared) -> sp.Expr | None:
    """Names that mean the same in every form: constants, and the refusals."""
    if name in KNOWN_CONSTANTS:
        return KNOWN_CONSTANTS[name]
    if name.startswith("__"):
        raise node_error(node, f"the name {name} is not allowed in a formula", line, prepared.original_column)
    if name in KNOWN_FUNCTIONS:
        raise node_error(node, f"{name} is a function: call it, e.g. {name}(x)", line, prepared.original_column)
    return None


@dataclass(frozen=True)
class _Statement:
    line: int
    target: str
    value: ast.expr
    head: Head | None


def _statements(module: ast.Module, prepared: Prepared) -> list[_Statement]:
    out: list[_Statement] = []
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                head = prepared.heads.get(stmt.lineno)
                out.append(_Statement(stmt.lineno, target.id, stmt.value, head if head else None))
                continue
            if (isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple)
                    and len(target.elts) == len(stmt.value.elts)
                    and all(isinstance(t, ast.Name) for t in target.elts)):
                out.extend(_Statement(stmt.lineno, t.id, v, None)  # type: ignore[attr-defined]
                           for t, v in zip(target.elts, stmt.value.elts))
                continue
        if isinstance(stmt, ast.Expr):
            raise CellError("a formula needs a name: write f(x, y) = ... or z = ...", stmt.lineno)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise CellError("a Python def cannot be mixed with formulas in one cell", stmt.lineno)
        if isinstance(stmt, ast.AnnAssign):  # a line `name: ...` that is not a shape (`x: -3`, `W: 2.5`)
            raise not_a_shape(ast.unparse(stmt), stmt.lineno)
        what = _STATEMENTS.get(type(stmt), describe(stmt))
        raise CellError(f"{what} is not allowed here: write name = expression or f(x, y) = expression "
                        "(or a Python def for Python)", stmt.lineno)
    return out


# What each Python statement is called in a refusal (ast's own names, AugAssign and For, mean nothing to a user).
_STATEMENTS = {ast.AugAssign: "an updating assignment (+=, *=, ...)", ast.For: "a for loop",
               ast.While: "a while loop", ast.If: "an if statement (use where(cond, a, b))", ast.Return: "return",
               ast.ClassDef: "a class", ast.With: "a with block", ast.Try: "a try block", ast.Assert: "assert",
               ast.Delete: "del", ast.Pass: "pass", ast.Global: "global", ast.Nonlocal: "nonlocal",
               ast.Raise: "raise", ast.Break: "break", ast.Continue: "continue", ast.Import: "import",
               ast.ImportFrom: "import", ast.Match: "a match statement",
               ast.Assign: "this assignment (one name per value: x = ..., or x, y = a, b)"}


def parse_cell(text: str, chain: bool = False, budget: float = 2.0) -> CellModel:
    """Reads a math-form or assignment-form cell. With `chain`, every definition stays a stage of its own.
    `budget`: the seconds a line that calls the cell's functions may take to build written out."""
    if not any(line.split("#", 1)[0].strip() for line in text.split("\n")):
        raise CellError("the cell is empty: write f(x, y) = [...], lines such as x = r*cos(theta), "
                        "or a Python def below %%jacobian")
    prepared = prepare(text)
    try:
        module = parse_deep(prepared.source)
    except SyntaxError as err:
        raise syntax_error(err, prepared, text) from None
    except (RecursionError, MemoryError, ValueError):
        raise CellError("the cell is nested too deeply or is too large to read") from None
    statements = _statements(module, prepared)
    refuse_lookalikes(module, prepared)

    def read() -> CellModel:
        try:
            if any(s.head for s in statements):
                if prepared.declarations:
                    raise _declared_in_function_form(statements, prepared)
                return _function_form(statements, prepared, chain, budget)
            return _assignment_form(statements, prepared)
        except RecursionError:
            raise TooManyEntries("an expression is nested too deeply to differentiate") from None

    # sympy evaluates every term as it is built: 20,000 terms of sin(k*x) take over a minute. A small --budget
    # (for quick fallbacks) still reads as the default one: reading has no fallback.
    allowance = calculus.DIFFERENTIATION_BUDGETS * max(budget, Options.budget)
    model = Budget(allowance).run(read, None, optional=False)
    if model is None:
        raise TooManyEntries(f"reading the formulas did not finish within {allowance:g} s; write shorter formulas, "
                             "or give it more time with a larger --budget")
    return model


def _function_form(statements: list[_Statement], prepared: Prepared, chain: bool, budget: float) -> CellModel:
    functions: dict[str, CellFunction] = {}
    stages: list[Stage] = []
    staged: list[Stage] = []  # the last function's calls, when it is too large written out
    used: set[str] = set()
    names = _Names()
    for st in statements:
        if st.head is None:
            first = next(s for s in statements if s.head)
            raise CellError(f"this cell defines functions (line {first.line}); write {st.target} = ... inside "
                            "a function, or use only assignment lines", st.line)
        _check_new_name(st.target, st.line, "function")
        if st.target in functions:
            raise CellError(f"{st.target} is already defined on line {functions[st.target].line}", st.line)
        params = _parse_params(st.head, st.line)
        scope = {p.name: p for p in params}

        def resolve(name: str, node: ast.Name, scope: dict[str, sp.Symbol] = scope, line: int = st.line) -> sp.Expr:
            common = _common_name(name, node, line, prepared)
            if common is not None:
                return common
            if name in scope:
                return scope[name]
            if name in functions:
                raise node_error(node, f"{name} is a function (line {functions[name].line}): call it", line,
                                  prepared.original_column)
            return names.see(name, node)

        called = _called_names(st.value) & set(functions) if functions else set()  # none to call on the first line
        used |= called
        through_calls = not chain and st is statements[-1]  # where each call can be a stage of its own
        builder = ExpressionBuilder(st.line, resolve, functions, prepared.original_column)
        expressions, guards = (builder.outputs(st.value) if not called else
                               _with_calls(builder, st, params, budget, staged if through_calls else None))
        functions[st.target] = CellFunction(params, expressions, st.line, guards)
        stages.append(Stage(st.target, params, output_symbols(st.target, len(expressions)), expressions, st.line,
                            params, guards))
    _refuse_clashes(set(names.first_seen), {o.name: f"an output of {s.name}" for s in stages for o in s.outputs})
    _refuse_clashes(set(names.first_seen) | set(functions),
                    {o.name: f"the value of a call, {s.name}" for s in staged for o in s.outputs})
    if chain:
        return _compose_functions(stages, names.in_order())
    last = stages[-1]
    for stage in stages[:-1]:
        if stage.name not in used:
            raise CellError(f"{stage.name} is defined but never used: keep one function per cell, call "
                            f"{stage.name} from {last.name}, or add --chain to compose them", stage.line)
    if staged:
        read = _reads(last.expressions, last.guards)
        final = replace(last, params=read, sources=read)
        return CellModel("function", last.params, last.outputs, None, (*staged, final), last.name,
                         written=names.in_order())
    return CellModel("function", last.params, last.outputs, last.expressions, (last,), last.name,
                     written=names.in_order())


def _with_calls(builder: ExpressionBuilder, st: _Statement, params: tuple[sp.Symbol, ...], budget: float,
                staged: list[Stage] | None) -> tuple[tuple[sp.Expr, ...], tuple[tuple[Guard, ...], ...]]:
    """A line that calls the cell's functions, written out if that is built within the budget (sympy evaluates
    what it builds: nested where()s fold slowly) and small enough to differentiate; else, where `staged` is
    given, through its calls, each a stage appended to `staged`; else refused."""
    try:
        built = Budget(budget).run(lambda: builder.outputs(st.value), None, optional=False)
    except NestedCalls:
        if staged is None:
            raise
        built = None
    if staged is None or (built is not None and calculus.fits(built[0], params)):
        if built is None:
            raise CellError(f"{st.target}, with its calls written out, takes sympy longer than the {budget:g} s "
                            "budget to build; call it from the last function only, without --chain, where each "
                            "call becomes a step of its own", st.line)
        return built
    calls = _CallStages(st.line)
    through = ExpressionBuilder(st.line, builder.resolve, builder.functions, builder.column, calls).outputs(st.value)
    staged.extend(calls.stages)
    return through


def _reads(expressions: Sequence[sp.Expr], guards: Sequence[Sequence[Guard]]) -> tuple[sp.Symbol, ...]:
    """The symbols that values and their guards read, by name: a stage's inputs."""
    read = symbols_in([*expressions, *(g.expression for output in guards for g in output)])
    return tuple(sorted(read, key=lambda s: s.name))


def _declared_in_function_form(statements: list[_Statement], prepared: Prepared) -> CellError:
    """Refuses shapes in a function-form cell by writing the assignment line that would use them: the user
    sees what to type, not only what is wrong."""
    def used(st: _Statement) -> list[str]:
        return sorted(prepared.declarations.keys() & {n.id for n in ast.walk(st.value) if isinstance(n, ast.Name)})

    functions = [s for s in statements if s.head]
    st = next((s for s in functions if used(s)), functions[0])
    first = min(prepared.declarations.values(), key=lambda d: d.line)
    name = (used(st) or [first.name])[0]
    return CellError(f"shape declarations go with assignment lines, not with functions; write "
                     f"y = {ast.unparse(st.value)} (an assignment line) in place of line {st.line}'s "
                     f"{st.target}(...) = ... to use {name}", first.line)


@dataclass
class _CallStages:
    """Each call of a cell function as a stage of its own (g(g(x)) is g_1 = g(x), then g_2 = g(g_1)): a nested
    call written out grows exponentially (24 levels of g(t) = sin(t) + t: 42 million terms), its stages do not."""

    line: int
    stages: list[Stage] = field(default_factory=list)

    def __call__(self, name: str, values: tuple[sp.Expr, ...],
                 guards: tuple[tuple[Guard, ...], ...]) -> tuple[sp.Expr, ...]:
        called = f"{name}_{sum(s.name.rsplit('_', 1)[0] == name for s in self.stages) + 1}"
        read = _reads(values, guards)
        outputs = output_symbols(called, len(values))
        self.stages.append(Stage(called, read, outputs, values, self.line, read, guards))
        return outputs


# Stages whose composition passes this many nodes are kept as stages only: the numbers and the walkthrough do not
# need it, and the symbolic Jacobian of such a composition takes seconds to minutes (measured: 1,600 nodes 1.4 s,
# 3,200 nodes 80 s) and tens of thousands of LaTeX characters.
COMPOSE_LIMIT = 1_000


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _parse_params(head: Head, line: int) -> tuple[sp.Symbol, ...]:
    raw = [p.strip() for p in head.params.split(",")]
    if raw and raw[-1] == "" and len(raw) > 1:
        raw = raw[:-1]
    if raw == [""]:
        raise CellError(f"{head.name}() has no parameters: name the inputs, e.g. {head.name}(x, y) = ...", line)
    params: list[sp.Symbol] = []
    for p in raw:
        p = unicodedata.normalize("NFKC", p)
        if keyword.iskeyword(p):
            raise CellError(keyword_as_name(p), line, head.column)
        if not p.isidentifier():
            raise CellError(f"the parameter {p!r} of {head.name} is not a plain name", line, head.column)
        _check_new_name(p, line, "parameter")
        if any(q.name == p for q in params):
            raise CellError(f"the parameter {p} appears twice in {head.name}", line, head.column)
        params.append(real_symbol(p))
    return tuple(params)


def output_symbols(name: str, count: int) -> tuple[sp.Symbol, ...]:
    """f for one output; f_1, f_2, ... for several."""
    if count == 1:
        return (real_symbol(name),)
    return tuple(real_symbol(f"{name}_{i}") for i in range(1, count + 1))


def _compose_functions(stages: list[Stage], written: tuple[sp.Symbol, ...]) -> CellModel:
    """h(g(x)): each stage's outputs feed the next stage's parameters, in cell order."""
    for before, after in zip(stages, stages[1:]):
        if len(before.expressions) != len(after.params):
            raise CellError(f"{before.name} (line {before.line}) has {counted(len(before.expressions), 'output')} "
                            f"but {after.name} (line {after.line}) takes {counted(len(after.params), 'input')}",
                            after.line)
    fed = [stages[0]] + [replace(after, sources=before.outputs) for before, after in zip(stages, stages[1:])]
    values = compose(fed, COMPOSE_LIMIT)
    composed = None if values is None else tuple(values[o] for o in fed[-1].outputs)
    return CellModel("function", fed[0].params, fed[-1].outputs, composed, tuple(fed), fed[-1].name,
                     written=written)


def _assignment_form(statements: list[_Statement], prepared: Prepared) -> CellModel:
    declared = prepared.declarations
    refuse_entry_level(declared, "add --chain for the walkthrough at the level of arrays, which has no such limit")
    assigned_on: dict[str, int] = {}
    for st in statements:
        _check_new_name(st.target, st.line, "variable")
        if st.target in assigned_on:
            raise CellError(f"{st.target} is assigned again (first on line {assigned_on[st.target]}); "
                            "use a new name", st.line)
        if st.target in declared:
            raise CellError(f"{st.target} is declared as an input on line {declared[st.target].line}; "
                            "it cannot also be assigned", st.line)
        assigned_on[st.target] = st.line
    names = _Names()
    nodes: dict[str, Value] = {}
    used_later: set[str] = set()
    stages: list[Stage] = []
    for st in statements:
        uses: set[str] = set()

        def resolve(name: str, node: ast.Name, st: _Statement = st, uses: set[str] = uses) -> Value:
            common = _common_name(name, node, st.line, prepared)
            if common is not None:
                return common
            if name in assigned_on:
                if name not in nodes:
                    raise node_error(node, f"{name} is used before it is assigned (line {assigned_on[name]})",
                                     st.line, prepared.original_column)
                uses.add(name)
                return nodes[name]
            names.see(name, node)
            if name in declared:
                return element_symbols(name, declared[name].rows, declared[name].cols)
            return real_symbol(name)

        builder = ExpressionBuilder(st.line, resolve, {}, prepared.original_column)
        value = builder.finished(st.value, _single_output(builder, st))
        used_later |= uses
        if isinstance(value, sp.MatrixBase):
            nodes[st.target] = element_symbols(st.target, value.rows, value.cols) if len(value) > 1 else \
                sp.ImmutableMatrix([real_symbol(st.target)])  # x.T @ A @ x is one number: q, not q_1
            outputs, expressions = tuple(nodes[st.target]), tuple(value)
        else:
            nodes[st.target] = real_symbol(st.target)
            outputs, expressions = (real_symbol(st.target),), (value,)
        guards = tuple(builder.guards)
        params = _reads(expressions, (guards,))  # z = x/x reads x: it is 1, but only where x is not 0
        placed = by_entry(guards, expressions, partial(builder.written, st.value))
        stages.append(Stage(st.target, params, outputs, expressions, st.line, params, placed))
    entries = {s.name: f"an entry of {d.name}" for d in declared.values()
               for s in element_symbols(d.name, d.rows, d.cols)}
    entries.update((o.name, f"an entry of {s.name}") for s in stages if len(s.outputs) > 1 for o in s.outputs)
    _refuse_clashes(set(names.first_seen) | set(assigned_on), entries)
    unused = [d for d in declared.values() if d.name not in names.first_seen]
    if unused:
        raise CellError(f"{unused[0].name} is declared but never used", unused[0].line)
    shapes = tuple(Shape(d.name, d.rows, d.cols, tuple(element_symbols(d.name, d.rows, d.cols)), d.matrix)
                   for d in declared.values())
    by_name = {shape.name: shape.symbols for shape in shapes}
    inputs = tuple(s for n in names.in_order() for s in by_name.get(n.name, (n,)))
    if not inputs:
        raise CellError(NO_VARIABLES)
    finals = [s for s in stages if s.name not in used_later]
    outputs = tuple(o for s in finals for o in s.outputs)
    # with or without --chain: past the limit the composition itself can take minutes (sympy re-evaluates every
    # function of a huge argument as it substitutes, tanh asking whether it is finite), and its Jacobian longer
    values = compose(stages, COMPOSE_LIMIT)
    composed = None if values is None else tuple(values[o] for o in outputs)
    return CellModel("assignment", inputs, outputs, composed, tuple(stages), finals[-1].name, shapes,
                     written=names.in_order(exclude=set(declared)))


def _refuse_clashes(typed: set[str], generated: Mapping[str, str]) -> None:
    """A typed name equal to a name jacmagic generates (x_1 beside a vector x: 3, g_1 beside g's outputs) would
    silently be the same symbol; `generated` says what each generated name is."""
    clashes = sorted(typed & set(generated))
    if clashes:
        raise CellError(f"{clashes[0]} is also the name of {generated[clashes[0]]}; rename it")


def _single_output(builder: ExpressionBuilder, st: _Statement) -> Value:
    if isinstance(st.value, (ast.List, ast.Tuple)):
        raise builder.error(st.value, f"{st.target} = [...] assigns a list: assign one expression per name, "
                                      f"or write a function head such as {st.target}(x, y) = [...]")
    return builder.value(st.value)
