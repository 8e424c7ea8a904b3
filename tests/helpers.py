"""Independent answers for the tests: numeric derivatives that never look at jacmagic's symbolic work."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import mpmath
import numpy as np


def numeric_jacobian(function: Callable[..., Sequence[float]], point: Sequence[float]) -> np.ndarray:
    """d function / d point by mpmath's high-precision numerical differentiation (30 digits); `function`
    must compute with mpmath, not floats."""
    with mpmath.workdps(30):
        point = [mpmath.mpf(p) for p in point]
        outputs = len(function(*point))
        rows = []
        for i in range(outputs):
            row = []
            for j in range(len(point)):
                def along(t: mpmath.mpf, i: int = i, j: int = j) -> mpmath.mpf:
                    shifted = list(point)
                    shifted[j] = t
                    return function(*shifted)[i]
                row.append(float(mpmath.diff(along, point[j])))
            rows.append(row)
    return np.array(rows)


def long_chain(stages: int) -> str:
    """A chain of `stages` math-form functions of three numbers, each fed by the one before: read entry by entry,
    each a stage of formulas of the one walk."""
    return "\n".join(f"f{k}(a{k}, b{k}, c{k}) = [sin(a{k})*b{k} + c{k}, tanh(b{k} + c{k}), a{k}*c{k} - exp(b{k}/10)]"
                     for k in range(stages))


def assert_close(got: np.ndarray, want: np.ndarray, rel: float = 1e-7) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.allclose(got, want, rtol=rel, atol=rel), f"\n{got}\n!=\n{want}"


def read_aloud(markup: str) -> str:
    """The characters a panel's HTML and MathML show, tags dropped: ∂L/∂W₂ as a MathML fraction reads "∂L∂W2"."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", markup)))


def run_isolated(code: str, timeout: float) -> object:
    """What `code`, run in a fresh Python, prints as JSON on its last line: a step that would hang or exhaust
    memory on old code fails the test at `timeout` instead of blocking the suite."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


_WRAPPED = re.compile(r"\}(?:\s*\\\\\s*|\\end\{aligned\}\$\n\$\\displaystyle \\begin\{aligned\})&(?:\\phantom\{=\}\\;)?"
                      r"\\text\{")


def joined_words(latex: str) -> str:
    """A LaTeX result with its lines of words joined again: they are wrapped to the page, anywhere."""
    return _WRAPPED.sub(" ", latex)
