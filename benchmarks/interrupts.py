"""Benchmark rows for the promises that are timed, not asserted in CI: Ctrl-C answered within 2 s, and a budget's
fallback soon after its deadline. The tests only check these with ten times an idle run's headroom (a busy
machine must not fail them); here they are measured, as medians of repeats, and reported."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import sympy as sp
from sympy.core.cache import clear_cache

from jacmagic.budget import Budget

_SLOW = " + ".join(f"sin(x + {k}*y)**3*cos(x - {k}*y)**2" for k in range(40))
INTERRUPTED_CELLS = {
    "A @ B @ A": "%%jacobian\nA: 30x30\nB: 30x30\nC = A @ B @ A\nL = sum(C)",
    "35-line chain": "%%jacobian --at a0=0.3\n" + "\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 36)),
    "simplify past the budget": f"%%jacobian --simplify full --budget 300\nf(x, y) = [{_SLOW}]",
    "200-line layer chain, --mode both": "%%jacobian --chain --mode both --out R\nx: 2x3\na1 = tanh(x)*2\n" + "\n".join(
        f"a{i} = tanh(a{i - 1})*2" for i in range(2, 201)),
}
INTERRUPT_AFTER = 1.0  # seconds: a user who waits a second, then presses stop

# One shell, the cell run `repeats` times, each interrupted (SIGINT, as a kernel interrupt) after a second: how
# long after the interrupt the shell had the cell's outcome, or how long the cell took if it ended first.
_CHILD = """
import json, os, signal, sys, threading, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jacmagic")
ip.run_cell("%%jacobian --out warm\\nf(x) = [sin(x)]")
cell, after, repeats = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
for _ in range(repeats):
    sent = []
    timer = threading.Timer(after, lambda: (sent.append(time.monotonic()), os.kill(os.getpid(), signal.SIGINT)))
    start = time.monotonic()
    timer.start()
    run = ip.run_cell(cell)
    timer.cancel()
    end = time.monotonic()
    print("@" + json.dumps({"answered": end - (sent[0] if sent else start), "interrupted": bool(sent),
                            "error": type(run.error_in_exec).__name__}), flush=True)
"""


def interrupt_answers(cell: str, repeats: int) -> list[dict[str, object]]:
    child = subprocess.run([sys.executable, "-c", _CHILD, cell, str(INTERRUPT_AFTER), str(repeats)],
                           capture_output=True, text=True, timeout=600)
    return [json.loads(line[1:]) for line in child.stdout.splitlines() if line.startswith("@")]


def interrupt_rows(row: Callable[..., None], repeats: int) -> None:
    for name, cell in INTERRUPTED_CELLS.items():
        answers = interrupt_answers(cell, repeats)
        interrupted = sum(bool(a["interrupted"]) for a in answers)
        how = f"interrupted {interrupted} of {len(answers)} times, else ended by itself first"
        row(f"interrupt answered (s): {name}", statistics.median(float(a["answered"]) for a in answers), 2.0,
            f"the 2 s promise ({how})", "<= 1 (2 s)")


def fallback_overshoot(seconds: float) -> float:
    """How long after its deadline a budget gave back the fallback of a simplify that needs far longer."""
    x, y = sp.symbols("x y", real=True)
    slow = sum(sp.sin(x + k * y) ** 3 * sp.cos(x - k * y) ** 2 for k in range(25))
    clear_cache()
    budget = Budget(seconds)
    budget.run(lambda: sp.simplify(slow), slow)
    return time.monotonic() - budget.deadline


def budget_rows(row: Callable[..., None], repeats: int) -> None:
    for seconds in (0.2, 2.0):
        row(f"budget fallback time: after a {seconds:g} s budget ran out", statistics.median(
            fallback_overshoot(seconds) for _ in range(repeats)), 0.1, "the 0.1 s target", "<= 1 (0.1 s)")
