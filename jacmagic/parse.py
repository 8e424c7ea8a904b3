"""Cell text -> model, for the math form `f(x, y) = [...]` and the assignment form `x = r*cos(theta)`.

The text is parsed with Python's `ast` and every node is checked against a whitelist: nothing here is ever
`eval`ed, so attribute access, imports, lambdas, strings and calls of anything but the known functions are refused
with a message naming the line. Python's grammar needs two adjustments first, done by `_prepare` without moving any
column: a function head `f(x, y) =` is not an assignment target in Python, and `^` must bind like `**`.
"""

from __future__ import annotations

import ast
import difflib
import keyword
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp

from .errors import CellError
from .functions import KNOWN_CONSTANTS, KNOWN_FUNCTIONS
from .model import CellModel, Stage

# A power whose exact value would have more bits than this is refused rather than computed (2**10**100 hangs).
_MAX_EXACT_POWER_BITS = 100_000
_PARSE_RECURSION_LIMIT = 25_000
_HEAD = re.compile(r"(\s*)([^\W\d]\w*)\s*\(([^()]*)\)\s*=(?!=)")
_DIGIT_THEN_NAME = re.compile(r"\d[A-Za-z_(]")


def real_symbol(name: str) -> sp.Symbol:
    """The symbol for a name typed in a cell: symbols are real, so that sqrt(x**2) and conjugates behave."""
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class _Head:
    name: str
    params: str
    column: int


@dataclass
class _Prepared:
    source: str
    heads: dict[int, _Head] = field(default_factory=dict)
    carets: dict[int, list[int]] = field(default_factory=dict)

    def original_column(self, line: int, column: int) -> int:
        """Maps a 1-based column of the prepared text back to the user's text (each `^` became `**`)."""
        shift = sum(1 for k, c in enumerate(self.carets.get(line, [])) if c + k + 1 < column)
        return column - shift


def _prepare(text: str) -> _Prepared:
    """Blanks out function heads and turns `^` into `**`, keeping every other character in its column."""
    prepared = _Prepared("")
    lines_out: list[str] = []
    depth = 0
    continued = False
    for lineno, line in enumerate(text.split("\n"), start=1):
        if depth == 0 and not continued:
            match = _HEAD.match(line)
            if match:
                indent, name, params = match.group(1), match.group(2), match.group(3)
                prepared.heads[lineno] = _Head(unicodedata.normalize("NFKC", name), params, len(indent) + 1)
                blank = " " * (match.end() - len(indent) - len(name) - 1)
                line = indent + name + blank + "=" + line[match.end():]
        chars: list[str] = []
        for col, ch in enumerate(line):
            if ch == "#":
                chars.append(line[col:])
                break
            if ch in "'\"":
                raise CellError("text in quotes is not allowed in a formula", lineno, col + 1)
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(depth - 1, 0)
            if ch == "^":
                prepared.carets.setdefault(lineno, []).append(col)
                chars.append("**")
            else:
                chars.append(ch)
        code = "".join(chars).split("#", 1)[0].rstrip()
        continued = code.endswith("\\")
        lines_out.append("".join(chars))
    prepared.source = "\n".join(lines_out)
    return prepared


def _syntax_error(err: SyntaxError, prepared: _Prepared, text: str) -> CellError:
    line = err.lineno or 1
    column = prepared.original_column(line, err.offset) if err.offset else None
    message = (err.msg or "invalid syntax").split(". Maybe you meant")[0]
    source_line = text.split("\n")[line - 1] if line <= text.count("\n") + 1 else ""
    if "cannot assign" in message or "cannot delete" in message:
        message = "the left side must be a name (x = ...) or a function head with plain parameters (f(x, y) = ...)"
    elif _DIGIT_THEN_NAME.search(source_line.split("#")[0]) and "literal" in message:
        message += "; write products with *, e.g. 2*x"
    elif "never closed" in message or "unmatched" in message or "does not match" in message:
        message += " (unbalanced brackets)"
    return CellError(f"{message}: {source_line.strip()[:80]}", line, column)


def _describe(node: ast.AST) -> str:
    """A short human name for a construct that is not allowed in a formula."""
    names = {
        ast.Attribute: "attribute access (a.b)",
        ast.Subscript: "indexing (a[i])",
        ast.Lambda: "lambda",
        ast.Import: "import",
        ast.ImportFrom: "import",
        ast.Constant: "this constant",
        ast.Starred: "*unpacking",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.NamedExpr: "the := operator",
        ast.Await: "await",
    }
    return names.get(type(node), type(node).__name__)


def _suggest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
}
_COMPARE: dict[type[ast.cmpop], Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Eq: sp.Eq, ast.NotEq: sp.Ne,
}


def _node_error(node: ast.AST, message: str, line: int, column: Callable[[int, int], int]) -> CellError:
    """An error located at `node`, in the user's own columns."""
    line = getattr(node, "lineno", line)
    col = getattr(node, "col_offset", None)
    return CellError(message, line, column(line, col + 1) if col is not None else None)


@dataclass(frozen=True)
class _CellFunction:
    """A function defined earlier in the cell, callable from later lines."""

    params: tuple[sp.Symbol, ...]
    expressions: tuple[sp.Expr, ...]
    line: int


class _ExpressionBuilder:
    """Builds a sympy expression from a whitelisted `ast` expression; anything else is a `CellError`."""

    def __init__(
        self,
        line: int,
        resolve: Callable[[str, ast.Name], sp.Expr],
        functions: Mapping[str, _CellFunction],
        column: Callable[[int, int], int],
    ) -> None:
        self.line = line
        self.resolve = resolve
        self.functions = functions
        self.column = column

    def error(self, node: ast.AST, message: str) -> CellError:
        return _node_error(node, message, self.line, self.column)

    def outputs(self, node: ast.expr) -> tuple[sp.Expr, ...]:
        """The right side of a definition: a bracketed list or tuple of expressions, or one expression."""
        if isinstance(node, (ast.List, ast.Tuple)):
            if not node.elts:
                raise self.error(node, "the list of outputs is empty")
            return tuple(self.scalar(e) for e in node.elts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            return self._call_cell_function(node, node.func.id)
        return (self.scalar(node),)

    def scalar(self, node: ast.expr) -> sp.Expr:
        value = self.expr(node)
        if not isinstance(value, sp.Expr):
            raise self.error(node, "a comparison is only allowed as the condition of where(cond, a, b)")
        return value

    def expr(self, node: ast.expr) -> sp.Basic:
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self.resolve(node.id, node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.IfExp):
            return sp.Piecewise((self.scalar(node.body), self.condition(node.test)), (self.scalar(node.orelse), True))
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return self.condition(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            raise self.error(node, "a list is only allowed as the whole right side (the outputs)")
        if isinstance(node, ast.Attribute):
            raise self.error(node, f"attribute access ({ast.unparse(node)[:40]}) is not allowed in a formula; "
                                   "write a Python def to use Python")
        raise self.error(node, f"{_describe(node)} is not allowed in a formula")

    def condition(self, node: ast.expr) -> sp.Basic:
        if isinstance(node, ast.Compare):
            parts: list[sp.Basic] = []
            left = self.scalar(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.scalar(comparator)
                make = _COMPARE.get(type(op))
                if make is None:
                    raise self.error(node, f"the comparison {type(op).__name__} is not supported")
                parts.append(make(left, right))
                left = right
            return sp.And(*parts)
        if isinstance(node, ast.BoolOp):
            values = [self.condition(v) for v in node.values]
            return sp.And(*values) if isinstance(node.op, ast.And) else sp.Or(*values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.condition(node.operand))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        raise self.error(node, "a condition must be a comparison such as x > 0")

    def _constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "complex numbers" if isinstance(value, complex) else f"the constant {value!r}"
            raise self.error(node, f"{kind} cannot appear in a formula (symbols are real numbers)")
        return sp.Integer(value) if isinstance(value, int) else sp.Float(repr(value))

    def _binop(self, node: ast.BinOp) -> sp.Expr:
        """Builds a chain of the same operator in one sympy call, iteratively: 10,000 terms neither recurse
        nor cost quadratic time."""
        op = type(node.op)
        if op not in _BINOPS:
            symbol = {ast.MatMult: "@", ast.BitXor: "^", ast.Mod: "%", ast.FloorDiv: "//"}.get(op, op.__name__)
            raise self.error(node, f"the operator {symbol} is not supported in a formula")
        if op is ast.Pow:
            bases: list[ast.expr] = []
            current: ast.expr = node
            while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Pow):
                bases.append(current.left)
                current = current.right
            result = self.scalar(current)
            for base_node in reversed(bases):
                result = self._power(base_node, self.scalar(base_node), result)
            return result
        family = (ast.Add, ast.Sub) if op in (ast.Add, ast.Sub) else (ast.Mult, ast.Div)
        terms: list[tuple[type[ast.operator], ast.expr]] = []
        current = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, family):
            terms.append((type(current.op), current.right))
            current = current.left
        first = self.scalar(current)
        if family[0] is ast.Add:
            rest = [self.scalar(t) if o is ast.Add else -self.scalar(t) for o, t in reversed(terms)]
            return sp.Add(first, *rest)
        factors = [self.scalar(t) if o is ast.Mult else sp.Pow(self.scalar(t), -1) for o, t in reversed(terms)]
        return sp.Mul(first, *factors)

    def _power(self, node: ast.expr, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if base.is_Rational and exponent.is_Rational and abs(base) not in (0, 1):
            bits = abs(float(exponent)) * max(abs(base.p).bit_length(), abs(base.q).bit_length())
            if bits > _MAX_EXACT_POWER_BITS:
                shown = str(exponent) if len(str(exponent)) < 20 else f"(a {len(str(exponent))}-digit number)"
                raise self.error(node, f"the number {base}**{shown} is too large to compute exactly")
        return sp.Pow(base, exponent)

    def _unary(self, node: ast.UnaryOp) -> sp.Expr:
        sign = 1
        current: ast.expr = node
        while isinstance(current, ast.UnaryOp) and isinstance(current.op, (ast.USub, ast.UAdd)):
            sign = -sign if isinstance(current.op, ast.USub) else sign
            current = current.operand
        if isinstance(current, ast.UnaryOp):
            raise self.error(current, "the operators not and ~ are not supported in a formula")
        value = self.scalar(current)
        return -value if sign < 0 else value

    def _call(self, node: ast.Call) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            what = ast.unparse(node.func)[:40]
            raise self.error(node, f"only the known functions can be called, not {what}; write a Python def "
                                   "to use Python")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.error(node, f"{name}() takes plain arguments, no keywords or *unpacking")
        if name in self.functions:
            values = self._call_cell_function(node, name)
            if len(values) != 1:
                raise self.error(node, f"{name} returns {len(values)} values (line {self.functions[name].line}); "
                                       "a vector can only be the whole right side")
            return values[0]
        if name not in KNOWN_FUNCTIONS:
            known = sorted(KNOWN_FUNCTIONS) + sorted(self.functions)
            raise self.error(node, f"unknown function {name}{_suggest(name, known)}")
        make, arities = KNOWN_FUNCTIONS[name]
        count = len(node.args)
        if (arities is None and count < 2) or (arities is not None and count not in arities):
            want = "two or more" if arities is None else " or ".join(str(a) for a in arities)
            raise self.error(node, f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {count}")
        if name == "where":
            return make(self.condition(node.args[0]), self.scalar(node.args[1]), self.scalar(node.args[2]))
        return make(*(self.scalar(a) for a in node.args))

    def _call_cell_function(self, node: ast.Call, name: str) -> tuple[sp.Expr, ...]:
        function = self.functions[name]
        if len(node.args) != len(function.params):
            raise self.error(node, f"{name} takes {len(function.params)} arguments (line {function.line}), "
                                   f"got {len(node.args)}")
        binding = dict(zip(function.params, (self.scalar(a) for a in node.args)))
        return tuple(e.xreplace(binding) for e in function.expressions)


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


def _check_new_name(name: str, line: int, what: str) -> None:
    if name.startswith("__"):
        raise CellError(f"the name {name} is not allowed", line)
    if name in KNOWN_FUNCTIONS or name in KNOWN_CONSTANTS:
        kind = "function" if name in KNOWN_FUNCTIONS else "constant"
        raise CellError(f"{name} is a built-in {kind}; choose another name for this {what}", line)


def _common_name(name: str, node: ast.Name, line: int, prepared: _Prepared) -> sp.Expr | None:
    """Names that mean the same in every form: constants, and the refusals."""
    if name in KNOWN_CONSTANTS:
        return KNOWN_CONSTANTS[name]
    if name.startswith("__"):
        raise _node_error(node, f"the name {name} is not allowed in a formula", line, prepared.original_column)
    if name in KNOWN_FUNCTIONS:
        raise _node_error(node, f"{name} is a function: call it, e.g. {name}(x)", line, prepared.original_column)
    return None


@dataclass(frozen=True)
class _Statement:
    line: int
    target: str
    value: ast.expr
    head: _Head | None


def _statements(module: ast.Module, prepared: _Prepared) -> list[_Statement]:
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
        raise CellError(f"{_describe(stmt).lower()} is not allowed here: write name = expression or "
                        "f(x, y) = expression", stmt.lineno)
    return out


def _parse_deep(source: str) -> ast.Module:
    """`ast.parse` with room for long operator chains (a 10,000-term sum is 10,000 levels deep to the parser)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _PARSE_RECURSION_LIMIT))
    try:
        return ast.parse(source)
    finally:
        sys.setrecursionlimit(limit)


def parse_cell(text: str, chain: bool = False) -> CellModel:
    """Reads a math-form or assignment-form cell. With `chain`, every definition stays a stage of its own."""
    if not any(line.split("#", 1)[0].strip() for line in text.split("\n")):
        raise CellError("the cell is empty: write f(x, y) = [...], lines such as x = r*cos(theta), "
                        "or a Python def below %%jacobian")
    prepared = _prepare(text)
    try:
        module = _parse_deep(prepared.source)
    except SyntaxError as err:
        raise _syntax_error(err, prepared, text) from None
    except (RecursionError, MemoryError, ValueError):
        raise CellError("the cell is nested too deeply or is too large to read") from None
    statements = _statements(module, prepared)
    try:
        if any(s.head for s in statements):
            return _function_form(statements, prepared, chain)
        return _assignment_form(statements, prepared, chain)
    except RecursionError:
        raise CellError("an expression is nested too deeply to differentiate") from None


def _function_form(statements: list[_Statement], prepared: _Prepared, chain: bool) -> CellModel:
    functions: dict[str, _CellFunction] = {}
    stages: list[Stage] = []
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
                raise _node_error(node, f"{name} is a function (line {functions[name].line}): call it", line,
                                  prepared.original_column)
            return names.see(name, node)

        builder = _ExpressionBuilder(st.line, resolve, functions, prepared.original_column)
        before = set(functions)
        called = _called_names(st.value) & before
        used |= called
        expressions = builder.outputs(st.value)
        functions[st.target] = _CellFunction(params, expressions, st.line)
        stages.append(Stage(st.target, params, output_symbols(st.target, len(expressions)), expressions, st.line))
    if chain:
        return _compose_functions(stages)
    last = stages[-1]
    for stage in stages[:-1]:
        if stage.name not in used:
            raise CellError(f"{stage.name} is defined but never used: keep one function per cell, call "
                            f"{stage.name} from {last.name}, or add --chain to compose them", stage.line)
    return CellModel("function", last.params, last.outputs, last.expressions, (last,), last.name)


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _parse_params(head: _Head, line: int) -> tuple[sp.Symbol, ...]:
    raw = [p.strip() for p in head.params.split(",")]
    if raw and raw[-1] == "" and len(raw) > 1:
        raw = raw[:-1]
    if raw == [""]:
        raise CellError(f"{head.name}() has no parameters: name the inputs, e.g. {head.name}(x, y) = ...", line)
    params: list[sp.Symbol] = []
    for p in raw:
        p = unicodedata.normalize("NFKC", p)
        if not p.isidentifier() or keyword.iskeyword(p):
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


def _compose_functions(stages: list[Stage]) -> CellModel:
    """h(g(x)): each stage's outputs feed the next stage's parameters, in cell order."""
    for before, after in zip(stages, stages[1:]):
        if len(before.expressions) != len(after.params):
            raise CellError(f"{before.name} (line {before.line}) has {len(before.expressions)} outputs but "
                            f"{after.name} (line {after.line}) takes {len(after.params)} inputs", after.line)
    composed = stages[0].expressions
    for stage in stages[1:]:
        binding = dict(zip(stage.params, composed))
        composed = tuple(e.xreplace(binding) for e in stage.expressions)
    return CellModel("function", stages[0].params, stages[-1].outputs, composed, tuple(stages), stages[-1].name)


def _assignment_form(statements: list[_Statement], prepared: _Prepared, chain: bool) -> CellModel:
    assigned_on: dict[str, int] = {}
    for st in statements:
        _check_new_name(st.target, st.line, "variable")
        if st.target in assigned_on:
            raise CellError(f"{st.target} is assigned again (first on line {assigned_on[st.target]}); "
                            "use a new name", st.line)
        assigned_on[st.target] = st.line
    names = _Names()
    values: dict[str, sp.Expr] = {}
    used_later: set[str] = set()
    stages: list[Stage] = []
    for st in statements:
        uses: set[str] = set()

        def resolve(name: str, node: ast.Name, st: _Statement = st, uses: set[str] = uses) -> sp.Expr:
            common = _common_name(name, node, st.line, prepared)
            if common is not None:
                return common
            if name in assigned_on:
                if assigned_on[name] >= st.line and name not in values:
                    raise _node_error(node, f"{name} is used before it is assigned (line {assigned_on[name]})",
                                      st.line, prepared.original_column)
                uses.add(name)
                return real_symbol(name)
            return names.see(name, node)

        builder = _ExpressionBuilder(st.line, resolve, {}, prepared.original_column)
        (expression,) = _single_output(builder, st)
        used_later |= uses
        params = tuple(sorted(expression.free_symbols, key=lambda s: s.name))
        stages.append(Stage(st.target, params, (real_symbol(st.target),), (expression,), st.line))
        values[st.target] = expression
    inputs = names.in_order()
    if not inputs:
        raise CellError("nothing to differentiate by: the formulas use no input variables")
    outputs = [s for s in stages if s.name not in used_later]
    substituted = _substitute_in_order(stages)
    expressions = tuple(substituted[s.name] for s in outputs)
    kept = tuple(stages) if chain else tuple(outputs)
    return CellModel("assignment", inputs, tuple(real_symbol(s.name) for s in outputs), expressions, kept,
                     outputs[-1].name)


def _single_output(builder: _ExpressionBuilder, st: _Statement) -> tuple[sp.Expr]:
    if isinstance(st.value, (ast.List, ast.Tuple)):
        raise builder.error(st.value, f"{st.target} = [...] assigns a list: assign one expression per name, "
                                      f"or write a function head such as {st.target}(x, y) = [...]")
    return (builder.scalar(st.value),)


def _substitute_in_order(stages: Sequence[Stage]) -> dict[str, sp.Expr]:
    """Replaces every intermediate name by its value, earlier lines first."""
    values: dict[sp.Symbol, sp.Expr] = {}
    for stage in stages:
        values[stage.outputs[0]] = stage.expressions[0].xreplace(values)
    return {s.name: v for s, v in values.items()}


def _split_top_level(text: str) -> list[str]:
    """Splits at commas outside brackets: `r=1, theta=atan2(1, 2)` has two parts."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_number(text: str, what: str) -> float:
    """A number written as a formula without variables: `1.5`, `-2`, `pi/4`, `sqrt(2)/2`, `2^-3`."""
    try:
        prepared = _prepare(text)
        tree = ast.parse(prepared.source.strip(), mode="eval")
    except (SyntaxError, CellError, RecursionError, MemoryError, ValueError):
        raise CellError(f"{what}: {text!r} is not a number") from None

    def resolve(name: str, node: ast.Name) -> sp.Expr:
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        raise CellError(f"{what}: {text!r} is not a number (it uses the name {name})")

    builder = _ExpressionBuilder(1, resolve, {}, lambda line, col: col)
    try:
        value = complex(builder.scalar(tree.body).evalf())
    except CellError as err:
        raise CellError(err.message) from None
    except (TypeError, ValueError, OverflowError):
        raise CellError(f"{what}: {text!r} is not a number") from None
    if value.imag != 0 or value.real != value.real:
        raise CellError(f"{what}: {text!r} is not a real number")
    return value.real


def parse_point(text: str) -> tuple[tuple[str, float], ...]:
    """`r=1, theta=pi/2` -> (("r", 1.0), ("theta", 1.5707...)), for --at."""
    point: dict[str, float] = {}
    for part in _split_top_level(text):
        name, equals, value = part.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())
        if not equals or not name.isidentifier():
            raise CellError(f"--at takes name=value pairs separated by commas, e.g. --at r=1,theta=pi/4; "
                            f"got {part!r}")
        if name in point:
            raise CellError(f"--at gives {name} twice")
        point[name] = parse_number(value, f"--at {name}")
    if not point:
        raise CellError("--at takes name=value pairs, e.g. --at r=1,theta=pi/4")
    return tuple(point.items())


def parse_names(text: str) -> tuple[str, ...]:
    """`z, x` -> ("z", "x"), for --wrt."""
    names = tuple(unicodedata.normalize("NFKC", n) for n in _split_top_level(text))
    bad = [n for n in names if not n.isidentifier()]
    if bad or not names:
        raise CellError(f"--wrt takes variable names separated by commas, e.g. --wrt r,theta; got {text!r}")
    return names


def parse_ranges(text: str) -> tuple[tuple[str, float, float], ...]:
    """`r=0:5, theta=0:2*pi` -> (("r", 0.0, 5.0), ("theta", 0.0, 6.28...)), for --range."""
    ranges = []
    for part in _split_top_level(text):
        name, equals, span = part.partition("=")
        low, colon, high = span.partition(":")
        name = unicodedata.normalize("NFKC", name.strip())
        if not (equals and colon and name.isidentifier()):
            raise CellError(f"--range takes name=low:high pairs, e.g. --range r=0:5,theta=0:2*pi; got {part!r}")
        lo, hi = parse_number(low, f"--range {name}"), parse_number(high, f"--range {name}")
        if not lo < hi:
            raise CellError(f"--range {name}: the low end must be below the high end")
        ranges.append((name, lo, hi))
    return tuple(ranges)
