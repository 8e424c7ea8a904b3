"""max and min over a vector's entries: one unevaluated reduction (sympy's own Max compared every two entries: a
stable softmax of 300 entries took a minute to be refused), and one convention at a tie at every level: the first
of the tied entries takes the whole slope (np.argmax's). So the stable softmax exp(z - max z) / sum(...) is exact
at ties (it was nan at z = (0, 0, 0) in a plain cell), and max(z) itself gets a one-hot slope there."""

from __future__ import annotations

import numpy as np
import pytest

from jacmagic import jacobian

from .helpers import assert_close, run_isolated

CELLS = {
    "softmax": {"math form": "f(a, b, c) = exp([a, b, c] - max([a, b, c])) / sum(exp([a, b, c] - max([a, b, c])))",
                "assignment": "z: 3\ne = exp(z - max(z))\nf = e / sum(e)",
                "numpy def": "import numpy as np\nz: 3\ndef f(z):\n    e = np.exp(z - np.max(z))\n"
                             "    return e / np.sum(e)"},
    "log_softmax": {"assignment": "z: 3\nu = z - max(z)\nf = u - log(sum(exp(u)))",
                    "numpy def": "import numpy as np\nz: 3\ndef f(z):\n    u = z - np.max(z)\n"
                                 "    return u - np.log(np.sum(np.exp(u)))"},
    "logsumexp": {"assignment": "z: 3\nm = max(z)\nf = m + log(sum(exp(z - m)))",
                  "numpy def": "import numpy as np\nz: 3\ndef f(z):\n    m = np.max(z)\n"
                               "    return m + np.log(np.sum(np.exp(z - m)))"},
}
TIES = [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [2.0, 0.5, 0.5], [0.3, -1.0, 2.0]]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _analytic(kind: str, z: np.ndarray) -> np.ndarray:
    """softmax: diag(s) - s sᵀ; log_softmax: I - 1 sᵀ; logsumexp: sᵀ."""
    s = _softmax(z)
    return {"softmax": np.diag(s) - np.outer(s, s), "log_softmax": np.eye(3) - np.outer(np.ones(3), s),
            "logsumexp": s[None, :]}[kind]


def _at(result: object, z: list[float]) -> np.ndarray:
    if list(result.names)[:1] == ["a"]:  # type: ignore[attr-defined]
        return np.asarray(result.at(a=z[0], b=z[1], c=z[2]), dtype=float)  # type: ignore[attr-defined]
    return np.asarray(result.at(z=np.array(z)), dtype=float)  # type: ignore[attr-defined]


def _cases() -> list[object]:
    return [pytest.param(kind, form, chain, id=f"{kind}-{form}-{'chain' if chain else 'plain'}")
            for kind, forms in CELLS.items() for form in forms for chain in (False, True)]


@pytest.mark.parametrize(("kind", "form", "chain"), _cases())
def test_the_stable_softmax_family_is_exact_at_ties_of_the_logits(kind: str, form: str, chain: bool) -> None:
    result = jacobian(CELLS[kind][form], chain=chain)
    for z in TIES:
        assert_close(_at(result, z).reshape(_analytic(kind, np.array(z)).shape), _analytic(kind, np.array(z)))


@pytest.mark.parametrize("z", TIES[:3])
def test_the_stable_softmax_at_a_tie_is_checked_whole_not_set_aside(z: list[float]) -> None:
    """Its outputs do not depend on the shift: no break, every entry judged, nothing undefined."""
    check = jacobian(CELLS["softmax"]["assignment"], chain=True).walkthrough(z=np.array(z)).check
    assert check.agrees and check.judged is None and not check.aside and not check.undefined


def test_a_gradient_of_a_loss_through_the_stable_softmax_at_a_tie_is_the_analytic_one() -> None:
    cell = "z: 3\nt: 3\ne = exp(z - max(z))\np = e / sum(e)\nL = sum((p - t)**2)"
    z, t = np.zeros(3), np.array([1.0, 0.0, 0.0])
    want = 2 * (_softmax(z) - t) @ _analytic("softmax", z)
    got = jacobian(cell, chain=True, wrt=["z"]).gradient(z=z, t=t)["z"]
    assert_close(np.ravel(got), want)


MAXES = {"max": ("z: 3\nL = max(z)", "import numpy as np\nz: 3\ndef f(z):\n    return np.max(z)", np.argmax),
         "min": ("z: 3\nL = min(z)", "import numpy as np\nz: 3\ndef f(z):\n    return np.min(z)", np.argmin)}


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("kind", MAXES)
def test_max_and_min_of_a_vector_at_a_tie_give_the_first_tied_the_slope(kind: str, form: int, chain: bool) -> None:
    result = jacobian(MAXES[kind][form], chain=chain)
    for z in ([1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 3.0, 3.0], [-1.0, -1.0, 0.0]):
        assert_close(_at(result, z).ravel(), np.eye(3)[MAXES[kind][2](z)])


def test_max_of_a_vector_at_a_tie_is_still_a_break_for_the_check() -> None:
    check = jacobian("z: 3\nL = max(z)", chain=True).walkthrough(z=np.array([1.0, 1.0, 0.0])).check
    assert check.aside and "kink" in check.aside[0]


@pytest.mark.parametrize("axis", [0, 1])
def test_max_along_an_axis_at_a_tie_gives_the_first_tied_the_slope(axis: int) -> None:
    X = np.array([[1.0, 2.0], [1.0, 2.0]]) if axis == 0 else np.array([[1.0, 1.0], [2.0, 2.0]])
    got = np.asarray(jacobian(f"X: 2x2\nL = sum(max(X, axis={axis}))", chain=True).gradient(X=X)["X"])
    first = np.zeros((2, 2))
    for k in range(2):
        first[(0, k) if axis == 0 else (k, 0)] = 1.0
    assert_close(got.reshape(2, 2), first)


@pytest.mark.parametrize("form", ["assignment", "numpy def"])
@pytest.mark.parametrize("chain", [False, True])
def test_away_from_ties_the_stable_softmax_matches_central_differences(form: str, chain: bool) -> None:
    result = jacobian(CELLS["softmax"][form], chain=chain)
    rng = np.random.default_rng(3)
    for _ in range(3):
        z, h = rng.normal(size=3), 1e-6
        want = np.array([(_softmax(z + h * e) - _softmax(z - h * e)) / (2 * h) for e in np.eye(3)]).T
        assert_close(_at(result, list(z)), want, rel=1e-6)


def _timed(cell: str) -> str:
    return ("import json, time\nfrom jacmagic import jacobian\nfrom jacmagic.errors import JacmagicError\n"
            f"start = time.perf_counter()\ntry:\n    jacobian({cell!r})\n    outcome = 'read'\n"
            "except JacmagicError as error:\n    outcome = str(error)\n"
            "print(json.dumps([outcome, time.perf_counter() - start]))")


def _forms(n: int) -> dict[str, str]:
    names = ", ".join(f"z{k}" for k in range(n))
    return {"math form": f"f({names}) = exp([{names}] - max([{names}]))",
            "assignment": f"z: {n}\ne = exp(z - max(z))\nf = e / sum(e)",
            "numpy def": f"import numpy as np\nz: {n}\ndef f(z):\n    e = np.exp(z - np.max(z))\n"
                         "    return e / np.sum(e)"}


@pytest.mark.parametrize("n", [120, 300, 3000])
@pytest.mark.parametrize("form", ["math form", "assignment", "numpy def"])
def test_a_stable_softmax_of_many_entries_is_read_or_refused_promptly(form: str, n: int) -> None:
    """Idle: under 3 s each here (3000 entries); was 24 s for 120 entries, 53 s for 300, minutes for 3000."""
    if form == "math form" and n == 3000:
        pytest.skip("3000 parameters written out in a math-form line is not the case reported")
    outcome, seconds = run_isolated(_timed(_forms(n)[form]), timeout=120)  # type: ignore[misc]
    assert outcome == "read" or "too large" in outcome or "terms" in outcome, outcome
    assert seconds < 60, seconds
