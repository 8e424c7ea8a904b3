"""Time budgets interrupt slow steps, and leave an alarm set by someone else working."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable

import numpy as np
import pytest
from IPython.core.error import UsageError

from jacmagic import JacobianResult, budget, jacobian
from jacmagic.budget import Budget, interruptible, time_limit, undisturbed
from jacmagic.errors import BudgetExceeded, JacmagicError

from .conftest import Shell
from .helpers import assert_close


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_time_limit_interrupts() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded):
        with time_limit(0.1):
            spin(30)
    assert time.monotonic() - start < 10  # idle: 0.1 s (the alarm itself); far before the 30 s spin ends


def test_budget_run_returns_fallback_and_remembers() -> None:
    budget = Budget(0.1)
    assert budget.run(lambda: spin(5) or "done", "fallback") == "fallback"
    assert budget.exceeded
    assert Budget(5).run(lambda: "done", "fallback") == "done"


class OuterAlarm(Exception):
    pass


def test_an_outer_alarm_still_fires_with_its_own_handler() -> None:
    def outer(signum: int, frame: object) -> None:
        raise OuterAlarm()

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with time_limit(0.05):
            pass
        with pytest.raises(OuterAlarm):
            with time_limit(5):
                spin(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_alarm_is_rearmed_after_a_budget() -> None:
    def outer(signum: int, frame: object) -> None:
        raise OuterAlarm()

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(BudgetExceeded):
            with time_limit(0.05):
                spin(5)
        with pytest.raises(OuterAlarm):
            spin(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_a_thread(work: Callable[[], object]) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "an optional step ran unbudgeted in a thread"
    return box[0]


def test_outside_the_main_thread_optional_steps_are_skipped_and_required_ones_run() -> None:
    budget = Budget(0.1)
    assert _in_a_thread(lambda: budget.run(lambda: spin(60) or "done", "fallback")) == "fallback"
    assert budget.skipped and not budget.exceeded
    assert _in_a_thread(lambda: Budget(0.1).run(lambda: "differentiated", None, optional=False)) == "differentiated"


def test_a_jacobian_from_a_thread_says_what_it_skipped() -> None:
    slow = " + ".join(f"sin(x + {k}*y)**3*cos(x - {k}*y)**2" for k in range(40))
    result = _in_a_thread(lambda: jacobian(f"f(x, y) = [{slow}]", simplify="full", budget=300))
    assert isinstance(result, JacobianResult)
    assert any("outside the main thread" in note for note in result.notes)
    h = 1e-6
    value = [float(result.symbolic.map_function()(x, 0.2)[0]) for x in (0.3 - h, 0.3 + h)]
    assert_close(result.at(x=0.3, y=0.2)[0, 0], (value[1] - value[0]) / (2 * h), rel=1e-5)


def test_the_determinant_budget_starts_after_differentiation() -> None:
    """Differentiation has its own allowance: a slow one must not spend the determinant's time (it did, and a
    2 x 2 relu map's determinant came back "too large to expand" at --budget 0.2)."""
    cell = "f(x, y) = [relu(x*y) + sin(x)*x, relu(x - y)*cos(y) + tanh(x*y)]"
    # The determinant alone takes 0.010-0.017 s at load 3.5 on 2 cores: the 0.2 s budget is over 10x.
    result = jacobian(cell, det=True, budget=0.2, at={"x": 0.7, "y": 0.3})
    whole = result.symbolic
    assert whole.symbolic_det is not None and not any("too large" in note for note in result.notes)
    assert_close(whole.det_at(result.at(x=0.7, y=0.3)), float(whole.symbolic_det.subs({s: v for s, v in zip(
        result.inputs, (0.7, 0.3))})))


def test_walkthrough_data_can_be_compared_without_numpy_errors() -> None:
    walk = jacobian("u = x*y\nL = sin(u)", chain=True).walkthrough()
    assert walk == walk and walk != jacobian("u = x*y\nL = sin(u)", chain=True).walkthrough()


def _interrupt_me() -> None:
    """Ctrl-C as a kernel interrupt sends it: SIGINT to this process, handled wherever Python runs next."""
    os.kill(os.getpid(), signal.SIGINT)


def test_a_budget_alarm_waits_for_an_undisturbed_section_and_is_raised_as_it_ends() -> None:
    finished = left = False
    with pytest.raises(BudgetExceeded):
        with time_limit(0.05):
            with undisturbed():
                spin(0.3)  # past the alarm: it is held, not raised inside
                finished = True
            left = True
    assert finished and not left


def test_ctrl_c_held_in_an_undisturbed_section_comes_before_the_budget_alarm() -> None:
    """Both arrived while symengine read sympy: the interrupt wins, else the budget's fallback would hide it."""
    with pytest.raises(KeyboardInterrupt):
        with time_limit(0.05):
            with undisturbed():
                _interrupt_me()
                spin(0.3)


class _Box:
    pass


def test_an_interrupt_swallowed_by_a_finalizer_is_raised_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C landing in a finalizer (lambdify's weakref.finalize) was printed as `Exception ignored in: <finalize
    object ...> KeyboardInterrupt` and the cell ran on and bound --out."""
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)  # what would print "Exception ignored in"
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with interruptible():
            box = _Box()
            weakref.finalize(box, _interrupt_me)
            del box  # the finalizer runs here: Ctrl-C arrives inside it, where Python cannot raise it
            spin(30)
    assert time.monotonic() - start < 10  # idle: 0.01 s (raised again 10 ms later); the spin would take 30 s
    assert not ignored


def test_a_swallowed_interrupt_raised_again_late_never_reaches_the_next_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found under load (test_robustness, `A @ B @ A`): the cell ended with its own KeyboardInterrupt before the
    timer that raises a swallowed one again had fired; it then fired in the next cell and interrupted it."""
    monkeypatch.setattr(budget, "_AGAIN", 0.3)  # the timer fires only after this cell has ended
    with pytest.raises(KeyboardInterrupt):
        with interruptible():
            box = _Box()
            weakref.finalize(box, _interrupt_me)
            del box
            raise KeyboardInterrupt  # the cell's own interrupt ends it first
    with interruptible():  # the next cell
        spin(0.6)  # the late timer fires in here: it must not interrupt this cell


def test_an_alarm_swallowed_by_a_finalizer_is_not_printed_and_still_stops_the_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    with pytest.raises(BudgetExceeded):
        with time_limit(0.05):
            box = _Box()
            weakref.finalize(box, spin, 0.3)
            del box  # the alarm lands in the finalizer, where Python cannot raise it; it repeats 50 ms later
            spin(30)
    assert not ignored


def test_an_interrupt_swallowed_by_library_code_is_raised_on_leaving() -> None:
    with pytest.raises(KeyboardInterrupt):
        with interruptible():
            try:
                _interrupt_me()
                spin(30)
            except BaseException:  # what a careless library does
                pass


def test_tiny_budgets_give_a_result_or_a_clear_error_never_another_exception() -> None:
    """The alarm landed inside symengine reading sympy: about half of these runs failed with AttributeError
    ('sin' object has no attribute 'as_base_exp') or SystemError (... returned a result with an exception set)."""
    cell = "a0 = x\n" + "\n".join(f"a{k} = sin(a{k - 1}) + a{k - 1}" for k in range(1, 13))
    for options in ({"det": True, "simplify": "full"}, {"chain": True, "det": True}):
        for seconds in np.tile(np.linspace(0.001, 0.01, 10), 2):
            try:
                jacobian(cell, budget=float(seconds), **options).latex()
            except JacmagicError:
                pass
    assert_close(jacobian("f(x) = sin(x)").at(x=0.0), [[1.0]])


@pytest.mark.parametrize("budget", ["1e-9", "0.0001"])
def test_a_budget_too_small_to_differentiate_says_the_time_ran_out(shell: Shell, budget: str) -> None:
    """A 1 x 1 Jacobian is not "too large": the time ran out, and a larger --budget is what helps. (At 1e-9 it
    surely runs out; at 0.0001 a fast machine may finish.)"""
    ran = shell.run(f"%%jacobian --budget {budget}\nf(x) = [sin(sin(sin(x)))]")
    if ran.error is None:
        assert budget != "1e-9"
        return
    message = str(ran.error)
    assert type(ran.error) is UsageError and "time budget ran out" in message, message
    assert "larger --budget" in message and "too large" not in message


INTERRUPTED_CELL = """
import json, os, signal, sys, threading, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jacmagic")
for run_number, delay in enumerate(map(float, sys.argv[1:])):
    a = "abcdefgh"[run_number]  # fresh names each run: nothing printed before may be remembered
    names = [f"{a}{i}" for i in range(6)]
    rows = [" + ".join(f"sin({names[j]})*{names[(i + j) % 6]}/(1 + {names[(i * j) % 6]}**2)" for j in range(6))
            for i in range(6)]
    cell = f"%%jacobian --simplify full --budget 30 --out R\\nf({', '.join(names)}) = [{', '.join(rows)}]"
    sent = []
    timer = threading.Timer(delay, lambda: (sent.append(time.monotonic()), os.kill(os.getpid(), signal.SIGINT)))
    timer.start()
    run = ip.run_cell(cell)
    print("@" + json.dumps({"error": type(run.error_in_exec).__name__, "bound": "R" in ip.user_ns,
                            "answered": time.monotonic() - sent[0] if sent else None}), flush=True)
after = ip.run_cell("%%jacobian --out polar\\nx = r*cos(theta)\\ny = r*sin(theta)")
print("@" + json.dumps({"after": after.success}), flush=True)
"""


@pytest.mark.slow
def test_an_interrupted_cell_raises_keyboard_interrupt_and_binds_nothing() -> None:
    """A 6 x 6 map of trigonometric fractions simplified in full within a 30 s budget (it takes all of it: every
    delay below lands inside; fresh names each run, so that no printing is remembered from the one before; a chain
    no longer serves, its walk takes a fraction of a second) interrupted at several moments, in a shell of its own:
    each time KeyboardInterrupt reaches the caller, promptly, --out is not bound, and nothing says an exception was
    ignored."""
    delays = ["0.3", "1", "2", "3"]
    child = subprocess.run([sys.executable, "-c", INTERRUPTED_CELL, *delays], capture_output=True, text=True,
                           timeout=600)
    reports = [json.loads(line[1:]) for line in child.stdout.splitlines() if line.startswith("@")]
    assert reports[-1] == {"after": True}, child.stderr[-2000:]
    for report in reports[:-1]:
        assert report["error"] == "KeyboardInterrupt" and not report["bound"], report
        assert report["answered"] < 20, report  # idle: 0.1-0.5 s (IPython formats the short traceback)
    assert len(reports) == len(delays) + 1 and "Exception ignored" not in child.stderr
