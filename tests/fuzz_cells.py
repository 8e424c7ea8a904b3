"""A seeded generator of mistaken cells for the fuzz hunt: valid cells of every form, mutated by characters,
tokens, lines and options, and the contract each must keep ("bad input gets a clear error and loses nothing")."""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass

from IPython.core.error import UsageError

from jacmagic.read.source import is_def_cell

from .conftest import Shell
from .test_robustness import hang_guard  # budget.py re-arms its alarm: the magic's own budgets nest in it

SEEDS: list[tuple[str, str]] = [
    ("", "f(x, y) = [x**2*y, 5*x + sin(y)]"),
    ("--det --at r=1,theta=pi/4", "f(r, theta) = [r*cos(theta), r*sin(theta)]"),
    ("", "g(t) = t^2\nf(x, y) = [g(x), y]"),
    ("--hessian --at x=1,y=2", "f(x, y) = x*y + exp(x)"),
    ("", "f(x, y, z) = [x*y, y*z, atan2(y, x)]"),
    ("--at x=1,y=-1", "f(x, y) = [max(x, y), where(x > 0, x, y)]"),
    ("--det", "x = r*cos(theta)\ny = r*sin(theta)"),
    ("--wrt r,t", "x, y = r*cos(t), r*sin(t)"),
    ("--at W=[[1,2,3],[4,5,6]],x=[1,2,3]", "W: 2x3\nx: 3\nL = sum(tanh(W @ x))"),
    ("", "z: 3\ny: 3\nL = -sum(y * log(softmax(z)))"),
    ("--partials", "u = x*y\nv = sin(u)\nw = v + x"),
    ("--check", "def f(x, y):\n    return [x**2 * y, np.sin(y)]"),
    ("--at z=[1,2,3]", "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum()"),
    ("", "def f(x, y):\n    h = math.exp(x)\n    return [h * y, np.where(x > 0, x, y)]"),
    ("--chain", "g(x, y) = [x*y, x + y]\nf(u, v) = [sin(u), u*v]"),
    ("--chain --at W=[[1,2,3],[4,5,6]],x=[1,2,3]", "W: 2x3\nx: 3\nh = tanh(W @ x)\nL = sum(h)"),
    ("--chain --mode both", "a = x*y\nb = sin(a) + y\nc = a*b"),
    ("--chain --direction x=1", "u = x**2 + y\nv = exp(u)"),
    ("--range r=0:5,theta=0:2*pi", "f(r, theta) = [r*cos(theta), r*sin(theta)]"),
    ("--plot --domain x=-1:1,y=-1:1", "f(x, y) = x**2 - y**2"),
    ("--simplify full --budget 1", "f(x, y) = [sqrt(x**2 + y**2), atan2(y, x)]"),
    ("--chain --memory 0.5 --at z=[1,2,3]", "def f(z):\n    return np.sum(np.tanh(z) ** 2)"),
    ("--at x=1,y=2", "# a comment\nf(x, y) = [x + y,  # first\n          x*y]  # second"),
    ("--at x=[1,2],W=[[1,0],[0,1]]", "x: 2\nW: 2x2\nL = x.T @ W @ x + W[0, 1]*x[1]"),
    ("", "f(x, y) = [[x, y], [y, 2]] @ [x, 1]"),
    ("--chain --at X=[[1,2,3],[4,5,6],[7,8,9]],K=[[1,0],[0,1]]", "X: 3x3\nK: 2x2\nL = sum(conv2d(X, K))"),
    ("--at z=[1,2],y=[0,1]", "z: 2\ny: 2\nL = cross_entropy(z, y) + mse(z, y)"),
    ("", "f(x, y) = [leaky_relu(x, 0.1), gelu(y), relu(x)*sigmoid(y), softplus(x)]"),
    ("--chain --hessian --at x=1,y=2", "g(x, y) = x*y + y^2\nf(u, v) = exp(g(u, v))"),
]
FUNCTIONS = ["sin", "cos", "tan", "asin", "atan2", "exp", "log", "log2", "sqrt", "cbrt", "abs", "sign", "erf",
             "hypot", "min", "max", "where", "heaviside", "sigmoid", "relu", "softplus", "leaky_relu", "gelu",
             "cross_entropy", "mse", "sum", "mean", "norm", "dot", "logsumexp", "softmax", "log_softmax", "conv2d",
             "maxpool2d", "flatten", "tr", "det", "logdet", "inv", "floor", "round", "int", "float", "len", "print",
             "np.sin", "np.sum", "np.max", "np.where", "np.dot", "np.outer", "np.zeros", "np.ones", "np.linalg.det",
             "math.exp", "math.floor", "np.floor", "np.argmax", "np.sort", "np.cumsum", "np.clip", "frobnicate"]
SHAPES = ["0", "1", "2", "3", "4", "2x3", "3x2", "1x1", "0x3", "3x0", "3x", "x3", "2x3x4", "-1", "2.5", "1e3",
          "100000", "10000x10000", "99999999999999999999", "2 x 3", "2*3", "(2, 3)", "[2, 3]", "two", "2x2x2x2"]
NUMBERS = ["0", "-0", "1e308", "1e-320", "10**400", "2**64", "-1", "1e999", "0.0", "1/0", "0**-1", "nan", "1_0",
           "0x10", "1.5e+3", "00", "7" * 40, "3.", ".5"]

PAYLOADS = [
    "__import__('os').system('touch MARKER')", "lambda: 0", "lambda q: q", "x.__class__", "f'{x}'", "(y := 2)",
    "[i for i in (1, 2)]", "{i: i for i in (1,)}", "*x", "**x", "@x", "10**10**10", "9" * 400, "1e999", "nan",
    "inf", "().__class__.__base__", "__builtins__", "globals()", "eval('1')", "exec('1')", "open('MARKER', 'w')",
    "getattr(x, 'real')", "type(x)", "x if y else", "yield x", "await x", "not", "..." , "None", "True", "b'x'",
    "'s'", '"""s"""', "x[::]", "x[0][0][0]", "x[1:2]", "{x}", "{1: x}", "()", "[]", "x.T.T.T", "x.real", "0x1F",
    "0b101", "1_000", "1j", "-0.0", "10**-400", "1e-400",
    "sin(x, y)", "atan2(x)", "where(x)", "where(x > 0, x)", "sum()", "max()", "softmax(x)", "norm(x)",
    "foo(x)", "sinn(x)", "np.foo(x)", "math.tau", "np.linalg.inv(x)", "x @ y", "[[x, y], [y]]", "[x, [y]]",
    "𝐱", "х", "ѕin(x)", "x\u200b", "\ufeffx", "１２", "x²", "ℯ", "π", "∂x", "x\u00a0+ y", "x\u2212y",
]
KEYWORDS = ["lambda", "def", "if", "else", "for", "in", "yield", "await", "import", "return", "None", "class", "del",
            "global", "not", "and", "or", "is", "with", "async", "assert", "raise", "pass", "from", "as", "while",
            "try", "except", "nonlocal", "break", "match", "case", "_", "print", "open", "eval", "exec",
            "__import__", "getattr", "globals", "len", "range", "type", "id", "input", "breakpoint", "exit",
            "self", "np", "math", "sp", "In", "Out", "get_ipython", "__class__", "__dict__", "E", "pi", "I", "oo",
            "S", "N", "Q", "beta", "gamma", "lambda_", "zeta", "f", "g", "x", "y", "L", "W"]
CHARS = list("()[]{}#\\'\"@.:;,=*^+-/%<>!~&|_0123456789xyzW \t\n\r") + [
    "\u200b", "\ufeff", "\u00a0", "х", "ο", "１", "²", "\u2028", "\x00", "\x0c", "$", "?", "`", "é", "∑"]
OPTION_VALUES = [
    "--at x=nan,y=1", "--at x=inf,y=1", "--at x=1e400,y=1", "--at x=[[1,2],[3]]", "--at x=[1,2,3",
    "--at x=", "--at =1", "--at x=1=2", "--at x=" + ",".join(["1"] * 3000), "--at x=[" + "[" * 500 + "1" +
    "]" * 501, "--at x=1,x=2", "--at x=1 --at x=2", "--at z=[1,2]", "--at z=[[1,2,3]]", "--at W=[1,2,3]",
    "--at x=sin", "--at x=__import__('os').system('touch MARKER')", "--at x=1+", "--at x=10**10**10",
    "--at x=9e9999j", "--at x=(1,2)", "--at x={1}", "--at x=True", "--at x=sentinel", "--at x=get_ipython",
    "--wrt", "--wrt x,x", "--wrt q", "--wrt 1", "--wrt x,,y", "--wrt __class__", "--range x=5:1", "--range x=0:nan",
    "--range x=0:inf", "--range x=a:b", "--range x", "--range x=1e308:1e309", "--domain x=0:0", "--domain x=2:1",
    "--domain y=-inf:1", "--budget -1", "--budget nan", "--budget inf", "--budget 1e300", "--budget 0",
    "--budget x", "--memory 0", "--memory -1", "--memory nan", "--memory 1e30", "--mode sideways",
    "--mode forward", "--mode reverse", "--direction x=nan", "--direction q=1", "--direction x=[1,2]",
    "--direction", "--simplify bad", "--simplify", "--out", "--out 1x", "--out print", "--out sentinel",
    "--out prev", "--out new_name", "--out é", "--out x\u200b", "--bogus", "--de", "-d", "--", "-", "'", '"',
    "--at 'x=1'", "--at \"x=1,y=2\"", "--det --det", "--chain --chain", "--hessian --chain", "--plot --chain",
    "--check --chain", "--partials --chain", "--no-widgets", "--no-continuous-update", "$x", "{x}", "\\",
]


@dataclass
class Case:
    options: str
    cell: str
    line: int | None  # the mutated line of the cell (1-based), where one line was changed
    line_magic: bool = False  # `%jacobian OPTIONS` (the name first), with no cell

    def source(self) -> str:
        return f"%jacobian {self.options}" if self.line_magic else f"%%jacobian {self.options}\n{self.cell}"


def _tokens(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"[A-Za-z_]\w*|\d+\.?\d*(?:e[-+]?\d+)?|\*\*|[^\s\w]", text)]


def _line_of(cell: str, index: int) -> int:
    return cell.count("\n", 0, index) + 1


def mutate_cell(rng: random.Random, cell: str) -> tuple[str, int | None]:
    """One random mutation of the cell's text, and the line it touched (None: several lines or none)."""
    kind = rng.randrange(11)
    lines = cell.split("\n")
    if kind == 0 and cell:  # delete a character
        i = rng.randrange(len(cell))
        return cell[:i] + cell[i + 1:], _line_of(cell, i) if cell[i] != "\n" else None
    if kind == 1:  # insert a character
        i = rng.randrange(len(cell) + 1)
        c = rng.choice(CHARS)
        return cell[:i] + c + cell[i:], None if c in "\n\r\u2028\x0c" else _line_of(cell, i)
    spans = _tokens(cell)
    if kind in (2, 3) and spans:  # replace a token by a keyword, builtin, payload or another token
        a, b = rng.choice(spans)
        new = rng.choice(KEYWORDS if kind == 2 else PAYLOADS)
        return cell[:a] + new + cell[b:], _line_of(cell, a)
    if kind == 4 and len(spans) > 1:  # swap two tokens
        (a, b), (c, d) = sorted(rng.sample(spans, 2))
        one_line = _line_of(cell, a) == _line_of(cell, c)
        return cell[:a] + cell[c:d] + cell[b:c] + cell[a:b] + cell[d:], _line_of(cell, a) if one_line else None
    semantic = _semantic(rng, cell, spans, kind)
    if semantic is not None:
        return semantic
    if kind == 5:  # duplicate, delete or swap lines
        i = rng.randrange(len(lines))
        choice = rng.randrange(3)
        if choice == 0:
            lines.insert(i, lines[i])
        elif choice == 1 and len(lines) > 1:
            del lines[i]
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines), None
    if kind == 6:  # whole-cell changes: line ends, BOM, comments, continuations, tabs
        change = rng.choice(["crlf", "bom", "comments", "backslash", "tabs", "empty", "only_comments", "blank"])
        if change == "crlf":
            return cell.replace("\n", "\r\n"), None
        if change == "bom":
            return "\ufeff" + cell, None
        if change == "comments":
            return "\n".join(f"# c\n{line}  # c" for line in lines), None
        if change == "backslash":
            i = rng.randrange(len(lines))
            return "\n".join(lines[:i] + [lines[i] + " \\"] + lines[i:]), None
        if change == "tabs":
            return cell.replace("    ", "\t"), None
        if change == "empty":
            return "", None
        if change == "only_comments":
            return "# nothing\n  # here\n", None
        return "\n\n" + cell + "\n\n", None
    # unbalance the brackets of a line
    i = rng.randrange(len(lines))
    lines[i] += rng.choice(["(", ")", "[", "]", "{", "}", "((", "]]"])
    return "\n".join(lines), i + 1


def _semantic(rng: random.Random, cell: str, spans: list[tuple[int, int]], kind: int
              ) -> tuple[str, int | None] | None:
    """A mutation that keeps the syntax: another function, shape, number or name of the cell."""
    if kind == 8:  # another function (wrong arity, unknown, step functions), or another name of the cell
        calls = [m for m in re.finditer(r"[A-Za-z_][\w.]*(?=\()", cell)]
        names = [cell[a:b] for a, b in spans if re.fullmatch(r"[A-Za-z_]\w*", cell[a:b])]
        if calls and rng.random() < 0.6:
            m = rng.choice(calls)
            return cell[:m.start()] + rng.choice(FUNCTIONS) + cell[m.end():], _line_of(cell, m.start())
        if names:
            a, b = rng.choice([sp for sp in spans if cell[sp[0]:sp[1]] in names])
            return cell[:a] + rng.choice(names) + cell[b:], _line_of(cell, a)
    if kind == 9:  # another shape on a shape line
        shapes = list(re.finditer(r"(?m)^(\w+): (.*)$", cell))
        if shapes:
            m = rng.choice(shapes)
            return cell[:m.start(2)] + rng.choice(SHAPES) + cell[m.end(2):], _line_of(cell, m.start())
    if kind == 10:  # another number, or an argument more or less
        numbers = list(re.finditer(r"(?<![\w.])\d+(?:\.\d*)?", cell))
        if numbers and rng.random() < 0.5:
            m = rng.choice(numbers)
            return cell[:m.start()] + rng.choice(NUMBERS) + cell[m.end():], _line_of(cell, m.start())
        commas = [m.start() for m in re.finditer(r",", cell)]
        if commas:
            i = rng.choice(commas)
            more = rng.random() < 0.5
            return (cell[:i] + ", x" + cell[i:] if more else cell[:i] + cell[i + 1:]), _line_of(cell, i)
    return None


def mutate_options(rng: random.Random, options: str) -> str:
    words = options.split(" --")
    if rng.random() < 0.3 and options:
        words.pop(rng.randrange(len(words)))
    head = " --".join(w for w in words if w)
    if head and not head.startswith("--"):
        head = "--" + head
    return (head + " " + rng.choice(OPTION_VALUES)).strip()


def cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        options, cell = rng.choice(SEEDS)
        line: int | None = None
        what = rng.random()
        if what < 0.7:
            cell, line = mutate_cell(rng, cell)
            if rng.random() < 0.2:
                cell, _ = mutate_cell(rng, cell)
                line = None
        if what >= 0.8:
            options = mutate_options(rng, options)
        found.append(Case(options, cell, line))
    return found


_INTERNAL = re.compile(r"Traceback|object has no attribute|unsupported operand|NoneType|not subscriptable|"
                       r"takes \d+ positional|got an unexpected keyword|object is not|KeyError|TypeError|"
                       r"AttributeError|IndexError|RecursionError|sympy\.(?!Piecewise)|jacmagic\.|File \"")
_LEAK = re.compile(r"Traceback|SymbolicArray|File \"|module 'numpy'")
_LINE = re.compile(r"\bline (\d+)")


def check(shell: Shell, case: Case) -> tuple[str, list[str]]:
    """The error message the case gave ("" for a result), and how it broke the contract (empty: it kept it)."""
    ns = shell.ip.user_ns
    sentinel, prev = object(), ns.get("prev")
    ns["sentinel"] = sentinel
    ns.pop("new_name", None)
    ran = shell.run(case.source())
    wrong = []
    if ran.error is not None:
        message = str(ran.error)
        if type(ran.error) is not UsageError:
            wrong.append(f"{type(ran.error).__name__}: {message[:300]}")
        else:
            if "\n" in message.strip() or len(message) > 600:
                wrong.append(f"long or multi-line message ({len(message)} chars): {message[:300]!r}")
            # a def cell is the user's Python: its own exception is named, in the words Python gives
            if (_LEAK if case.line_magic or is_def_cell(case.cell) else _INTERNAL).search(message):
                wrong.append(f"internal words: {message[:300]}")
            lines = len(case.cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"))  # as Python counts
            for named in [] if case.line_magic else _LINE.findall(message):  # a function's: its own source lines
                if not 1 <= int(named) <= lines:
                    wrong.append(f"line {named} of a {lines}-line cell: {message[:300]}")
        if "new_name" in ns:
            wrong.append("--out new_name bound by a failing cell")
    if "Traceback" in ran.stdout:
        wrong.append(f"traceback shown: {ran.stdout[-300:]}")
    if ns.get("sentinel") is not sentinel and not (ran.error is None and "--out sentinel" in case.options):
        wrong.append("sentinel rebound")
    if ran.error is not None and ns.get("prev") is not prev:
        wrong.append("prev rebound by a failing cell")
    return ("" if ran.error is None else str(ran.error)), wrong


def follow_up_works(shell: Shell) -> bool:
    ran = shell.run("%%jacobian --out prev\nf(x, y) = [x*y, x + y]")
    return ran.error is None and ran.result.matrix.shape == (2, 2)


def broken(shell: Shell, family: list[Case], seconds: int) -> list[str]:
    """Every case of the family that broke the contract, with what it did, as a reproducer; run in a scratch
    directory, where a formula that ran `touch MARKER` would leave the file (a def cell is Python: it may)."""
    found = []
    for case in family:
        try:
            with hang_guard(seconds):
                _, wrong = check(shell, case)
        except AssertionError as err:
            wrong = [str(err)]
        if os.path.exists("MARKER"):
            os.remove("MARKER")
            if not is_def_cell(case.cell):
                wrong.append("a formula ran code: MARKER was created")
        if not follow_up_works(shell):
            wrong.append("the next valid cell failed")
        if wrong:
            found.append(f"{case.source()!r}: {wrong}")
    return found


# -- the line magic: every kind of namespace object, with options that fit it or not -------------------------------

NAMESPACE = '''
import functools, math
import numpy as np
import sympy as sp
x, y = sp.symbols("x y")
def _gen(a):
    yield a
fuzz_objects = dict(
    lam=lambda a, b: [a*b, np.sin(a)], lam0=lambda: 1, lamstar=lambda *a: a, lamkw=lambda a, *, b=1: a*b,
    boom=lambda a: 1/0, gen=_gen, expr=x**2*y, mat=sp.Matrix([[x*y], [x + y]]), arr=np.arange(3.0), num=3,
    text="f(x) = x**2", cls=int, meth="".upper, blt=print, ufunc=np.sin, part=functools.partial(lambda a, b: a*b, 2),
    und=sp.Function("q")(x) + x, integ=sp.Integral(x**2, x), cplx=sp.Symbol("z", complex=True)**2, eq=sp.Eq(x, y),
    both=sp.And(x > 0, y > 0), huge=x**(10**100), floored=lambda a: math.floor(a), strret=lambda a: "s",
    noneret=lambda a: None, nested=lambda a: [[a, a], [a]], setret=lambda a: {a}, matfn=lambda W: np.tanh(W).sum(),
    vecret=lambda v: v * 2, idfn=lambda a: a, mod=np, sym=x, zero=sp.S(0), inf=sp.oo,
    deep=lambda a: functools.reduce(lambda u, _: np.sin(u), range(300), a))
globals().update(fuzz_objects)
'''
LINE_NAMES = ["nope", "1x", "__class__", "print", "x.y", "lam(1)", "[1]", ""]
LINE_OPTIONS = ["", "--det", "--at a=1,b=2", "--at x=1,y=2", "--hessian", "--chain", "--wrt a", "--at W=[[1,2],[3,4]]",
                "--at v=[1,2,3]", "--check", "--out new_name", "--at a=nan", "--budget 0.5"]


def line_cases(shell: Shell) -> list[Case]:
    """`%jacobian NAME OPTIONS` for every object of NAMESPACE (bound in the shell) and every option line."""
    shell.ok(NAMESPACE)
    names = [*shell.ip.user_ns["fuzz_objects"], *LINE_NAMES]
    return [Case(f"{name} {options}", "", None, line_magic=True) for name in names for options in LINE_OPTIONS]
