"""Time budgets for expensive symbolic steps (simplify, big determinants), so that nothing hangs the kernel; and
Ctrl-C, which must always reach the caller, promptly.

A budget is a real-time alarm (SIGALRM) that raises `BudgetExceeded` inside the running computation. It nests with
an alarm someone else already set (a test harness, an outer budget): that alarm is re-armed on exit and, if it was
due first, its own handler runs. Outside the main thread signals cannot be used: an optional step (simplifying,
expanding a determinant) is then skipped, and a required one (differentiating, bounded by its size estimate
beforehand) runs without a clock.

Both signals are held back while symengine reads a sympy expression (`undisturbed`): raised in the Python it
calls back, they left it half-way (`'sin' object has no attribute 'as_base_exp'`, `SystemError`), so they are
raised as the section ends instead.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sympy.core.cache import clear_cache
from sympy.core.parameters import global_parameters

from jacmagic.errors import BudgetExceeded

T = TypeVar("T")
# After the first alarm, keep nudging: library code may swallow one exception in a broad `except BaseException`.
_REPEAT = 0.05
# A Ctrl-C swallowed where Python cannot raise (a finalizer, __del__) is raised again this much later.
_AGAIN = 0.01

# Main-thread state (signal handlers only ever run there).
_depth = 0  # how many `undisturbed` sections are open
_held: set[int] = set()  # signals that arrived inside one, raised as the outermost ends
_interrupted = False  # Ctrl-C arrived while `interruptible` was open
_nudge = threading.Lock()
_nudging = False  # `interruptible` is open: a swallowed Ctrl-C may still be raised again
_opened = 0  # how many times `interruptible` opened: a Ctrl-C is raised again only in the cell that swallowed it
_outer_hook: Callable[[Any], object] = sys.unraisablehook  # what `_unraisable` passes other exceptions on to


def _can_use_signals() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


def _surely(*steps: Callable[[], object]) -> None:
    """Runs every step even when a pending signal's handler raises in between (Python runs handlers after any
    call, and `signal.signal` runs them before it changes anything): the steps are idempotent, so they are all
    done again, and the first such exception is raised afterwards."""
    error: BaseException | None = None
    for _ in range(5):
        try:
            for step in steps:
                step()
            break
        except BaseException as err:  # noqa: B036 - raised below, once the steps are done
            error = error or err
    if error is not None:
        raise error


def _on_interrupt(signum: int, frame: Any) -> None:
    global _interrupted
    if _depth:
        _held.add(signum)
        return
    _interrupted = True
    raise KeyboardInterrupt


@contextmanager
def undisturbed() -> Iterator[None]:
    """Holds a budget's alarm and Ctrl-C back while compiled code runs Python it calls back without checking
    every exception (symengine reading sympy); raised as the outermost section ends. Callers keep sections small
    (one expression)."""
    global _depth
    if not _can_use_signals():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    swap = _depth == 0 and callable(previous) and previous is not _on_interrupt
    _depth += 1
    try:
        if swap:
            signal.signal(signal.SIGINT, _on_interrupt)
        yield
    finally:
        try:
            if swap:
                signal.signal(signal.SIGINT, previous)  # pending signals still reach the holding handlers first
        finally:
            _depth -= 1
        if not _depth:
            _deliver_held()


def _deliver_held() -> None:
    """Runs the handlers of what arrived inside `undisturbed`: Ctrl-C before an alarm, so that a budget's
    fallback never hides an interrupt."""
    for signum in sorted(_held):
        _held.discard(signum)
        handler = signal.getsignal(signum)
        if callable(handler):
            handler(signum, None)


def _interrupt_again(opened: int) -> None:
    with _nudge:
        if _nudging and opened == _opened:  # on a busy machine the timer may fire after the next cell began
            _thread.interrupt_main()


def _unraisable(unraisable: Any) -> None:
    """Where Python cannot raise (a finalizer such as lambdify's, a __del__), our signals' exceptions are not
    printed as ignored: a budget's alarm repeats by itself, and Ctrl-C is raised again a moment later."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt) and _nudging:
        threading.Timer(_AGAIN, _interrupt_again, (_opened,)).start()
    elif not issubclass(unraisable.exc_type, BudgetExceeded):
        _outer_hook(unraisable)


@contextmanager
def _watching_unraisable() -> Iterator[None]:
    global _outer_hook
    if sys.unraisablehook is _unraisable:
        yield
        return
    _outer_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    try:
        yield
    finally:
        sys.unraisablehook = _outer_hook


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C always reaches the caller, promptly and with a short traceback: one swallowed where Python cannot
    raise (a finalizer such as lambdify's, a __del__) is raised again a moment later; one swallowed by library code
    is raised on leaving; and a fresh KeyboardInterrupt replaces the one from deep inside sympy, whose traceback
    IPython took seconds to format. sympy's cache is cleared: the interrupt may have landed half-way through
    filling an entry."""
    global _interrupted, _nudging, _opened
    if not _can_use_signals() or signal.getsignal(signal.SIGINT) is _on_interrupt:
        yield
        return

    def stop() -> None:
        global _nudging
        with _nudge:
            _nudging = False

    previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        with _nudge:
            _interrupted, _nudging, _opened = False, True, _opened + 1
        with _watching_unraisable():
            yield
        if _interrupted:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        clear_cache()
        raise KeyboardInterrupt from None
    finally:
        _surely(stop, lambda: signal.signal(signal.SIGINT, previous))


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raises `BudgetExceeded` in the body once `seconds` have passed. Any other exception raised after the alarm
    fired is taken for its doing (it interrupted library code that then failed) and becomes `BudgetExceeded`."""
    if seconds <= 0:
        raise BudgetExceeded()
    if not _can_use_signals():
        yield
        return
    start = time.monotonic()
    outer_handler = signal.getsignal(signal.SIGALRM)
    outer_delay, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_due = start + outer_delay if outer_delay > 0 else None
    fired = done = False

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal fired
        if done:  # arrived as the body ended: too late to stop anything
            return
        if _depth:
            _held.add(signum)
            return
        if outer_due is not None and time.monotonic() >= outer_due and callable(outer_handler):
            signal.signal(signal.SIGALRM, outer_handler)
            outer_handler(signum, frame)
        fired = True
        signal.setitimer(signal.ITIMER_REAL, _REPEAT)
        raise BudgetExceeded()

    def restore() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_due is not None:
            signal.setitimer(signal.ITIMER_REAL, max(outer_due - time.monotonic(), 1e-4))

    signal.signal(signal.SIGALRM, on_alarm)
    first = seconds if outer_due is None else min(seconds, max(outer_delay, 1e-4))
    signal.setitimer(signal.ITIMER_REAL, first)
    try:
        with _watching_unraisable():
            yield
    except Exception as err:
        if fired:
            raise BudgetExceeded() from err
        raise
    finally:
        done = True
        _surely(restore)


class Budget:
    """A total time allowance shared by several steps of one cell."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.exceeded = False
        self.skipped = False  # an optional step was skipped: no clock outside the main thread

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, step: Callable[[], T], fallback: T, optional: bool = True) -> T:
        """`step()` within what is left of the budget, or `fallback` once the budget is spent (or at once when
        no clock can stop an optional step)."""
        if not _can_use_signals():
            if optional:
                self.skipped = True
                return fallback
            return step()
        evaluating = global_parameters.evaluate
        try:
            with time_limit(self.remaining()):
                return step()
        except BudgetExceeded:
            self.exceeded = True
            clear_cache()  # the alarm may have landed inside sympy, half-way through filling a cache entry
            if global_parameters.evaluate != evaluating:  # ... or just before a section switched it back
                global_parameters.evaluate = evaluating
            return fallback
