"""Never hang, never lie: big inputs, budgets, interrupts, adversarial cells. Every case must end, quickly, in a
correct result or one clear error; `hang_guard` fails a test that runs away instead of blocking the suite."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import sympy as sp
from IPython.core.error import UsageError

from jacmagic import jacobian
from jacmagic.errors import JacmagicError
from jacmagic.views.numbers import number_latex

from .conftest import Shell
from .helpers import run_isolated

# Seconds: far beyond any budget; reaching it means something hangs. The slowest guarded case, the 5000-term sum,
# takes 3-6 s (measured on the shared 2-core machine at load 1-4): over 20x headroom.
HANG = 120


@contextmanager
def hang_guard(seconds: int = HANG) -> Iterator[None]:
    def fail(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def laplacian_cell(n: int) -> str:
    names = [f"u{i}" for i in range(n)]
    rows = [f"{names[i - 1]} - 2*{names[i]} + {names[(i + 1) % n]} + {names[i]}**3" for i in range(n)]
    return f"f({', '.join(names)}) = [" + ", ".join(rows) + "]"


def test_a_big_sparse_map_is_shown_truncated_with_the_whole_matrix_kept() -> None:
    with hang_guard():
        result = jacobian(laplacian_cell(100))
        latex, text = result.latex(), str(result)
    assert result.matrix.shape == (100, 100)
    assert len(latex) < 20_000  # the 10 x 10 window, too wide for the page at 1000 px: its entries one per line
    assert "the other 72 shown entries are 0" in latex
    assert r"\frac{\partial f_{100}}{\partial u_{99}} &= 3 u_{99}^{2} - 2" in latex
    assert "showing 10 of 100 rows and 10 of 100 columns" in latex and "showing 10 of 100 rows" in text
    u = sp.symbols("u0:100", real=True)
    assert result.matrix[5, 5] == 3 * u[5] ** 2 - 2 and result.matrix[5, 6] == 1 and result.matrix[5, 50] == 0


def test_big_results_also_show_their_sparsity(shell: Shell) -> None:
    ran = shell.ok(f"%%jacobian\n{laplacian_cell(30)}")
    svg = [o for o in ran.outputs if "image/svg+xml" in o]
    assert len(svg) == 1 and svg[0]["image/svg+xml"].count("<rect") == 1 + 30 * 3
    assert "90 of 900 entries are not identically zero" in svg[0]["text/plain"]


def test_a_huge_entry_is_elided_before_printing() -> None:
    terms = " + ".join(f"sin({k}*x)*cos(x**{k})*exp(x/{k})" for k in range(1, 200))
    with hang_guard():
        result = jacobian(f"f(x, y) = [{terms}, x*y]")
        latex = result.latex()
    assert len(latex) < 5_000 and r"\cdots" in latex and "too long to typeset here" in latex
    assert result.matrix[1, 1] == sp.Symbol("x", real=True)


def test_a_wide_layer_jacobian_stays_small_on_screen() -> None:
    with hang_guard():
        result = jacobian("W: 16x16\nx: 16\nz = tanh(W @ x)", wrt="W")
        latex = result.latex()
    assert result.matrix.shape == (16, 256) and len(latex) < 20_000


def test_a_jacobian_too_large_to_build_goes_stage_by_stage_within_its_allowance() -> None:
    lines = ["a1 = sin(a0)*b0 + c0", "b1 = tanh(b0 + c0)", "c1 = a0*c0 - exp(b0/10)"]
    for k in range(1, 10):  # ten layers: past the composition's size limit
        lines += [f"a{k + 1} = sin(a{k})*b{k} + c{k}", f"b{k + 1} = tanh(b{k} + c{k})",
                  f"c{k + 1} = a{k}*c{k} - exp(b{k}/10)"]
    with hang_guard():  # composing it whole would take 0.5 s to minutes (the hash seed decides)
        result = jacobian("\n".join(lines), budget=0.01)
    assert result.symbolic.eager_matrix is None and result.shape == (3, 3)
    point = {"a0": 0.3, "b0": -0.4, "c0": 0.8}

    def step(v: list[float]) -> list[float]:
        a, b, c = v
        return [math.sin(a) * b + c, math.tanh(b + c), a * c - math.exp(b / 10)]

    def composed(v: list[float]) -> list[float]:
        for _ in range(10):
            v = step(v)
        return v

    h, base = 1e-6, list(point.values())
    columns = [(np.array(composed([p + h * (i == j) for j, p in enumerate(base)])) -
                np.array(composed([p - h * (i == j) for j, p in enumerate(base)]))) / (2 * h) for i in range(3)]
    assert np.allclose(result.at(**point), np.column_stack(columns), rtol=1e-5, atol=1e-7)


def test_a_determinant_past_the_budget_falls_back_to_numbers() -> None:
    n = 9
    names = [f"v{i}" for i in range(n)]
    rows = [" + ".join(f"sin({names[j]})*{names[(i + j) % n]}" for j in range(n)) for i in range(n)]
    with hang_guard():
        result = jacobian(f"f({', '.join(names)}) = [" + ", ".join(rows) + "]", det=True,
                          at={v: 0.1 * (k + 1) for k, v in enumerate(names)})
        latex = result.latex()
    assert result.symbolic.symbolic_det is None and "too large to expand" in latex
    values = result.at(**{v: 0.1 * (k + 1) for k, v in enumerate(names)})
    # at the point (written under |_{...}, or on lines of its own above where it is too wide for the page)
    assert re.search(r"\\det J(\\,\\Big\|_\{.*\})? &= " + re.escape(number_latex(np.linalg.det(values))), latex)


INTERRUPTED_SHELL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jacmagic")
keep = ip.user_ns["kept"] = object()
slow = " + ".join(f"sin(x + {k}*y)**3*cos(x - {k}*y)**2" for k in range(40))
print("ready", flush=True)
run = ip.run_cell(f"%%jacobian --simplify full --budget 300 --out kept\\nf(x, y) = [{slow}]")
after = ip.run_cell("%%jacobian --det --out polar\\nx = r*cos(theta)\\ny = r*sin(theta)")
print(json.dumps({"error": type(run.error_in_exec).__name__, "kept": ip.user_ns["kept"] is keep,
                  "after": str(ip.user_ns["polar"].det) if after.success else repr(after.error_in_exec)}))
"""


@pytest.mark.slow
def test_an_interrupt_leaves_the_shell_and_namespace_intact() -> None:
    """A kernel interrupt is SIGINT from outside, into a shell busy simplifying: sent the same way here, to a
    shell in its own process so that nothing else in the test run can change how it receives the signal."""
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED_SHELL], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=HANG)
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"error": "KeyboardInterrupt", "kept": True, "after": "r"}


KERNEL_CELL = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jacmagic")
ip.run_cell("%%jacobian --out warm\\nf(x) = [sin(x)]")
print("@started", flush=True)
start = time.monotonic()
run = ip.run_cell(sys.argv[1])
print("@" + json.dumps({"seconds": time.monotonic() - start, "error": type(run.error_in_exec).__name__}), flush=True)
after = ip.run_cell("%%jacobian --det --out polar\\nx = r*cos(theta)\\ny = r*sin(theta)")
print("@" + json.dumps({"after": str(ip.user_ns["polar"].det) if after.success else repr(after.error_in_exec)}))
"""


def _reports(lines: Iterator[str]) -> Iterator[str]:
    """The child's own report lines (marked with @), past whatever the cells print."""
    return (line[1:].strip() for line in lines if line.startswith("@"))

HEAVY_CELLS = {
    "A @ B @ A": "%%jacobian\nA: 30x30\nB: 30x30\nC = A @ B @ A\nL = sum(C)",
    "35-line chain": "%%jacobian --at a0=0.3\n" + "\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 36)),
    "exp of exp": "%%jacobian --at x=3\nf(x) = [exp(exp(exp(exp(x))))]",
    "100 x 100 tanh layer": "%%jacobian --wrt W\nW: 100x100\nx: 100\nh = tanh(W @ x)\nL = sum(h)",
    "simplify past the budget": "%%jacobian --simplify full --budget 300\nf(x, y) = [" + " + ".join(
        f"sin(x + {k}*y)**3*cos(x - {k}*y)**2" for k in range(40)) + "]",
}
INTERRUPT_AFTER = 1.0  # seconds: a user who waits a second, then presses stop
# Seconds after the interrupt (or after the start, for a cell that ends by itself). Measured at load 3.5 on the
# shared 2-core machine: an interrupt answered in 0.3-0.4 s, the cells that end by themselves within 0.5 s; so 10 s
# is over 20x. The 2 s promise itself is measured in benchmarks/run.py ("interrupt answered (s)"), not asserted.
ANSWER_WITHIN = 10.0


@pytest.mark.slow
@pytest.mark.parametrize("cell", list(HEAVY_CELLS.values()), ids=list(HEAVY_CELLS))
def test_a_heavy_cell_ends_or_is_interrupted_promptly_and_the_next_cell_runs(cell: str) -> None:
    """In a real shell in its own process: the cell ends by itself (a result or a clear refusal) before the
    interrupt, or the interrupt stops it promptly; either way the next cell works."""
    child = subprocess.Popen([sys.executable, "-c", KERNEL_CELL, cell], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    reports = _reports(iter(child.stdout.readline, ""))
    assert next(reports) == "started"
    sent = threading.Timer(INTERRUPT_AFTER, child.send_signal, (signal.SIGINT,))
    hung = threading.Timer(HANG, child.kill)  # then the reads below end, and the test fails instead of hanging
    sent.start()
    hung.start()
    try:
        report = json.loads(next(reports, "{}"))
        after = json.loads(next(reports, "{}"))
    finally:
        sent.cancel()
        hung.cancel()
        child.kill()
    assert report and report["seconds"] < INTERRUPT_AFTER + ANSWER_WITHIN, report
    assert report["error"] in ("NoneType", "UsageError", "KeyboardInterrupt"), report
    assert after == {"after": "r"}


ADVERSARIAL = [
    ("f(x) = x**(10**100)", None),
    ("f(x) = 2**10**100 * x", "too large to compute exactly"),
    ("f(x) = x**x**x**x**x**x", None),
    ("f(x) = exp(exp(exp(exp(exp(x)))))", None),
    ("f(x) = (x + 1)**100000", None),
    ("f(x) = " + "(" * 10_000 + "x" + ")" * 10_000, "nested|too many"),
    ("f(x) = " + "-" * 10_000 + "x", "nested too deeply"),
    ("f(x) = " + "-" * 5_000 + "x", None),
    ("f(x) = " + " + ".join(["x"] * 10_000), None),
    ("f(x) = " + "sin(" * 150 + "x" + ")" * 150, None),
    ("f(x) = x + 1\n" + "# " + "a" * 1_000_000, None),
    ("f(x) = " + " + ".join(f"x**{k}" for k in range(120_000)), "too large to read"),
    ("f(x) = " + " + ".join(f"x**{k}" for k in range(5_000)), None),
    ("f(frac, begin, left, mathrm, end) = frac*begin*left + mathrm/end", None),
    ("f(alpha_beta, x__1, Lambda) = alpha_beta*x__1*Lambda", None),
    ("f(x) = х**2", "look alike"),
    ("f(x) = ѕin(x)", "looks like sin"),
    ("f(ｘ) = ｘ**2", None),
    ("f(x) = 1/0", "division by zero"),
    ("f(x) = __builtins__", "not allowed"),
    ("f(x) = x.__class__.__mro__", "attribute"),
    ("f(x) = [x for x in (1, 2)]", "comprehension"),
    ("f(x) = (x := 2)", "not allowed"),
    ("f(x) = 1e308*1e308*x", None),
]


# Differentiation may take 5 budgets: 50 s, over 10x the slowest case (the 5000-term sum: 3-6 s at load 1-4).
ADVERSARIAL_BUDGET = 10


@pytest.mark.parametrize(("cell", "error"), ADVERSARIAL, ids=[c[:30] for c, _ in ADVERSARIAL])
def test_adversarial_cells_end_in_a_result_or_a_clear_error(cell: str, error: str | None) -> None:
    with hang_guard():
        try:
            result = jacobian(cell, budget=ADVERSARIAL_BUDGET)
            latex = result.latex()
            str(result)
        except JacmagicError as err:
            assert error is not None, f"unexpected error: {err}"
            assert re.search(error, str(err)), str(err)
            return
    assert error is None, "expected an error"
    assert latex.count("{") == latex.count("}") and len(latex) < 50_000


def test_adversarial_results_are_correct() -> None:
    x = sp.Symbol("x", real=True)
    assert jacobian("f(x) = x**(10**100)").matrix[0, 0] == 10**100 * x ** (10**100 - 1)
    assert np.isinf(jacobian("f(x) = x**(10**100)").at(x=2.0)[0, 0])
    assert jacobian("f(x) = " + "-" * 5_001 + "x").matrix[0, 0] == -1
    assert jacobian("f(x) = " + " + ".join(["x"] * 10_000)).matrix[0, 0] == 10_000
    assert jacobian("f(ｘ) = ｘ**2").matrix[0, 0] == 2 * x


def test_adversarial_cells_through_the_magic_are_usage_errors(shell: Shell) -> None:
    ran = shell.run("%%jacobian\nf(x) = " + "(" * 10_000 + "x" + ")" * 10_000)
    assert type(ran.error) is UsageError and "Traceback" not in ran.stdout


NESTED = '''
import json, time
import numpy as np
from jacmagic import jacobian
from jacmagic.errors import JacmagicError
FAMILY = {"sin(t) + t": lambda t: np.sin(t) + t, "t + sin(t)/10": lambda t: t + np.sin(t) / 10,
          "t*exp(-t/10)": lambda t: t * np.exp(-t / 10), "log(1 + t**2) + t": lambda t: np.log(1 + t**2) + t,
          "where(t > 0, t + sin(t)/10, t/2)": lambda t: np.where(t > 0, t + np.sin(t) / 10, t / 2),
          "max(t, sin(t)) + t/2": lambda t: np.maximum(t, np.sin(t)) + t / 2}
found = []
for body, g in FAMILY.items():
    for depth in (24, 40):
        cell = "g(t) = [" + body + "]\\nf(x, y) = [y*" + "g(" * depth + "x" + ")" * depth + "]"
        start = time.monotonic()
        got = jacobian(cell, at={"x": 0.3, "y": 2.0}, check=True)
        def f(x, y):
            for _ in range(depth):
                x = g(x)
            return y * x
        h = 1e-6
        want = [(f(0.3 + h, 2.0) - f(0.3 - h, 2.0)) / (2 * h), (f(0.3, 2.0 + h) - f(0.3, 2.0 - h)) / (2 * h)]
        found.append({"cell": body, "depth": depth, "seconds": time.monotonic() - start, "want": want,
                      "got": got.at(x=0.3, y=2.0)[0].tolist(), "notes": list(got.notes)})
try:
    jacobian("g(t) = [sin(t) + t]\\nf(x) = [" + "g(" * 24 + "x" + ")" * 24 + "]", chain=True)
    refused = ""
except JacmagicError as err:
    refused = str(err)
print(json.dumps({"found": found, "refused": refused}))
'''


def test_a_function_nested_in_itself_answers_through_its_calls() -> None:
    """g(g(...g(x))) 24 times took over 40 s and 819 MB (sympy built, then walked, 42 million terms); each call
    is now estimated before it is built and the map goes through its calls. Idle: about 1 s a case; allowed 30."""
    report = run_isolated(NESTED, timeout=600)
    assert isinstance(report, dict)
    for case in report["found"]:
        assert case["seconds"] < 30, case
        assert np.allclose(case["got"], case["want"], rtol=1e-5, atol=1e-8), case
        assert any(note.startswith("check passed") for note in case["notes"]), case
    assert "line 2" in report["refused"] and "--chain is not given" in report["refused"]


HESSIAN_100 = '''
import json, time
import numpy as np
from jacmagic import jacobian
n = 100
names = [f"x{i}" for i in range(n)]
cell = f"f({', '.join(names)}) = [" + ", ".join(f"{names[i]}**2*{names[(i + 1) % n]}" for i in range(n)) + "]"
point = {name: 0.5 + i / 100 for i, name in enumerate(names)}
start = time.monotonic()
result = jacobian(cell, hessian=True, at=point)
text = str(result)
hessians = result.hessian_at(**point)
print(json.dumps({"seconds": time.monotonic() - start, "text": text[-3000:], "h0": hessians[0][:2, :2].tolist(),
                  "h99": hessians[99][[0, 99]][:, [0, 99]].tolist(), "nonzero": int(np.count_nonzero(hessians))}))
'''


def test_the_hessians_of_a_sparse_100_by_100_map_answer_within_seconds() -> None:
    """--hessian --at compiled 100 Hessians of 100 x 100, zeros and all: 140 s and 863 MB. Idle now: about 8 s."""
    report = run_isolated(HESSIAN_100, timeout=600)
    assert isinstance(report, dict)
    assert report["seconds"] < 80
    x0, x1, x99 = 0.5, 0.51, 0.5 + 99 / 100  # f_0 = x0^2 x1, f_99 = x99^2 x0: their second derivatives by hand
    assert np.allclose(report["h0"], [[2 * x1, 2 * x0], [2 * x0, 0]])
    assert np.allclose(report["h99"], [[0, 2 * x99], [2 * x99, 2 * x0]])
    assert report["nonzero"] == 100 * 3  # x_i^2 x_{i+1}: d2/dxi2 and d2/dxi dx(i+1) (twice), nothing else
    assert "the Hessians of 10 of 100 outputs are shown" in report["text"]


# Names of modules, builtins and of what generated code defines itself (lambdify's x0 = ... lines, its _Dummy_
# arguments, our jacmagic_erf): none may reach compiled code as a user's variable.
CODE_NAMES = ["numpy", "np", "self", "math", "mpmath", "builtins", "sympy", "sp", "print", "range", "float", "list",
              "_x", "x0", "x1", "_0", "_1", "_Dummy_1", "lamda", "jacmagic_erf", "cse", "Dummy", "y0"]


@pytest.mark.parametrize("name", CODE_NAMES)
def test_a_variable_named_like_code_is_just_a_variable(name: str) -> None:
    """f(numpy) = [sin(numpy)] with --at numpy=1 was `'numpy.float64' object has no attribute 'cos'`, and
    f(self, y) with --at a TypeError: arguments are renamed in compiled code, and `at` takes any name."""
    cell = f"f({name}, y) = [sin({name})*y + {name}**2, {name}*exp(y) + erf({name})]"
    point = {name: 0.7, "y": -0.4}
    result = jacobian(cell, at=point, check=True, hessian=True)
    n, w = 0.7, -0.4
    want = [[math.cos(n) * w + 2 * n, math.sin(n)], [math.exp(w) + 2 / math.sqrt(math.pi) * math.exp(-n * n),
                                                     n * math.exp(w)]]
    assert np.allclose(result.at(**point), want)
    assert np.allclose(result.hessian_at(**point)[0], [[-math.sin(n) * w + 2, math.cos(n)], [math.cos(n), 0]])
    assert "check passed" in str(result)
    chain = jacobian(f"g({name}, y) = [sin({name})*y, {name}*y]\nh(a, b) = [a*b]", chain=True, at=point)
    assert chain.walkthrough().agrees
    assert np.allclose(chain.at(**point), [[(math.cos(n) * w * n + math.sin(n) * w) * w, 2 * math.sin(n) * w * n]])


def test_a_layer_named_self_is_just_a_name() -> None:
    result = jacobian("self: 2\nh = tanh(self)\nL = sum(h * h)", chain=True)
    v = np.array([0.3, -0.5])
    assert np.allclose(result.at(self=v), [2 * np.tanh(v) / np.cosh(v) ** 2])


@pytest.mark.parametrize("seed", ["3", "4", "5"])
def test_nested_layers_of_a_plain_cell_are_composed_within_the_limit_whatever_the_hash_seed(seed: str) -> None:
    """Found by the CI run: ten nested layers with tanh, without --chain, were composed without a size limit, and
    under some hash seeds sympy's re-evaluation of tanh of a huge argument took minutes (0.5 s under others).
    Each run is its own process with its own seed (idle: 0.4 s of work, 2 s with the import)."""
    import os
    import subprocess
    import sys

    code = ("from jacmagic import jacobian\n"
            "lines = ['a1 = sin(a0)*b0 + c0', 'b1 = tanh(b0 + c0)', 'c1 = a0*c0 - exp(b0/10)']\n"
            "for k in range(1, 10):\n"
            "    lines += [f'a{k + 1} = sin(a{k})*b{k} + c{k}', f'b{k + 1} = tanh(b{k} + c{k})',\n"
            "              f'c{k + 1} = a{k}*c{k} - exp(b{k}/10)']\n"
            "result = jacobian('\\n'.join(lines))\n"
            "print(result.shape, any('stage by stage' in n for n in result.notes))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONHASHSEED": seed})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(3,", "3)", "True"]
