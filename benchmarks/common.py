"""What the benchmark scripts share: the issue's symbolic map, the hand sympy reference, a real shell's display,
and medians of repeated timings."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

import sympy as sp
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import Math, display
from IPython.utils.capture import capture_output
from sympy.core.cache import clear_cache

fresh = itertools.count()  # fresh symbol names per measurement: nothing remembered from the one before
SHELL = InteractiveShell.instance()  # display() goes through a real shell's formatter and publisher


def shown(value: object) -> None:
    with capture_output():
        display(value)


def mixed_map_text(n: int, prefix: str) -> tuple[str, list[str]]:
    """The issue's map: f_i = sin(x_i)*x_(i+1)**2 + exp(x_(i-1)/10) + x_i*x_(i+3) - cos(x_(i+5))*x_i, cyclic."""
    names = [f"{prefix}{i}" for i in range(n)]

    def v(i: int) -> str:
        return names[i % n]

    rows = [f"sin({v(i)})*{v(i + 1)}**2 + exp({v(i - 1)}/10) + {v(i)}*{v(i + 3)} - cos({v(i + 5)})*{v(i)}"
            for i in range(n)]
    return f"f({', '.join(names)}) = [" + ", ".join(rows) + "]", names


def by_hand_end_to_end(n: int) -> float:
    """What a user writes without jacmagic: symbols, the map, Matrix.jacobian, latex, display(Math(...))."""
    _, names = mixed_map_text(n, f"b{next(fresh)}_")
    clear_cache()
    start = time.perf_counter()
    xs = sp.symbols(names, real=True)
    f = sp.Matrix([sp.sin(xs[i]) * xs[(i + 1) % n] ** 2 + sp.exp(xs[(i - 1) % n] / 10) + xs[i] * xs[(i + 3) % n]
                   - sp.cos(xs[(i + 5) % n]) * xs[i] for i in range(n)])
    shown(Math(sp.latex(f.jacobian(xs))))
    return time.perf_counter() - start


def timed(call: Callable[[], object], inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        call()
    return (time.perf_counter() - start) / inner


def median(measure: Callable[[], float], repeats: int) -> float:
    measure()  # warm-up: imports and first-call setup are not what we compare
    return statistics.median(measure() for _ in range(repeats))
