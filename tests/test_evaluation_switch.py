"""A def is traced with sympy's evaluation switched off (its guards are found in what it computed); the switch is
global to the kernel. A budget's alarm landing as it is switched back must not leave every later cell's sympy
unevaluated (found by a probe: one budget in 300 cut a def's trace there)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
import sympy as sp
import sympy.core.parameters as parameters
from sympy.core.parameters import global_parameters

from jacmagic import jacobian
from jacmagic.errors import JacmagicError
from jacmagic.read import unevaluated

DEF_CELL = "import numpy as np\ndef f(x, y):\n    return [np.exp(np.log(x)) + y, x * y]\n"


def _alarm_as_evaluation_returns(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """An alarm raised once just as the def's run switches sympy's evaluation back on (before the switch's own
    undisturbed section): sympy's flag is still off and the run's caches in place when it lands. Where sympy's
    cache is not as expected the switch is sympy's own, which clears the cache before it sets the flag: there."""
    fired: list[int] = []

    def alarm_once() -> None:
        if not global_parameters.evaluate and not fired:
            fired.append(1)
            signal.raise_signal(signal.SIGALRM)
    use = unevaluated._Run.use
    real_clear: Callable[[], None] = parameters.clear_cache

    def use_after_alarm(run: unevaluated._Run, evaluate: bool) -> None:
        if evaluate and not unevaluated._running:  # the run's end, not np.where's evaluated moment
            alarm_once()
        use(run, evaluate)

    def clear_then_alarm() -> None:
        alarm_once()
        real_clear()
    monkeypatch.setattr(unevaluated._Run, "use", use_after_alarm)
    monkeypatch.setattr(parameters, "clear_cache", clear_then_alarm)
    return fired


def test_an_alarm_as_a_defs_trace_switches_evaluation_back_leaves_sympy_evaluating(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fired = _alarm_as_evaluation_returns(monkeypatch)
    try:
        jacobian(DEF_CELL, budget=30)
    except JacmagicError:
        pass  # the budget may say it ran out: the point is what is left behind
    assert fired, "the alarm was not raised where the switch comes back"
    assert global_parameters.evaluate is True
    x = sp.Symbol("x")
    assert x + x == 2 * x and (x + x).func is sp.Mul


def test_the_next_cell_after_a_cut_trace_is_computed_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    _alarm_as_evaluation_returns(monkeypatch)
    try:
        jacobian(DEF_CELL, budget=30)
    except JacmagicError:
        pass
    monkeypatch.undo()
    result = jacobian("f(x, y) = [x + x, x*y]")
    assert result.at(x=1.5, y=2.0).tolist() == [[2.0, 0.0], [2.0, 1.5]]  # type: ignore[union-attr]
    assert str(result.matrix[0, 0]) == "2"  # type: ignore[union-attr]
