"""--plot of a map with many outputs, and of a point too far out for its default range. Many outputs: every entry
of J is drawn (one cell of the heat map each), a handful of outputs labelled and the rest said in words, so the work
of drawing does not grow with the labels matplotlib would lay out (500 outputs took 7-9 s, all of it laying out
1,000 tick labels)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from IPython.core.error import UsageError
from matplotlib.figure import Figure
from matplotlib.text import Text

from jacmagic import jacobian
from jacmagic.notation import pretty
from jacmagic.views.plot import LABELLED, labelled, png

from .conftest import Shell
from .helpers import assert_close


def _cell(outputs: int) -> str:
    return "f(x, y) = [" + ", ".join(f"sin({k}*x) + y**{k % 5 + 1}" for k in range(1, outputs + 1)) + "]"


def _central_differences(outputs: int, x: float, y: float, h: float = 1e-6) -> np.ndarray:
    """J of the map written in numpy, by central differences (columns: x, y)."""
    k = np.arange(1, outputs + 1)

    def f(x: float, y: float) -> np.ndarray:
        return np.sin(k * x) + y ** (k % 5 + 1)

    return np.column_stack([(f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h)])


@pytest.fixture
def drawn_texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Text]]:
    """Every text matplotlib draws (each is laid out and measured at each draw: the work that grew)."""
    drawn: list[Text] = []
    draw = Text.draw

    def counted(self: Text, renderer: object) -> None:
        if self.get_visible() and self.get_text():
            drawn.append(self)
        draw(self, renderer)

    monkeypatch.setattr(Text, "draw", counted)
    yield drawn


@pytest.mark.parametrize("outputs", [30, 500])
def test_a_heat_map_of_many_outputs_draws_every_entry_labels_a_handful_and_says_the_rest(
        outputs: int) -> None:
    """J at the point in full against central differences; LABELLED outputs labelled (29 and 499 are primes: no
    one step from the first to the last), each at its own row; the title says how many of how many (idle: 0.6 s
    for 500, the old 7 s; no wall-clock here)."""
    result = jacobian(_cell(outputs), at={"x": 0.5, "y": 1.5}).whole
    fig = result.plot()
    heat = next(a for a in fig.findobj() if a.get_gid() == "jacmagic-heat")
    assert_close(np.asarray(heat.get_array()), _central_differences(outputs, 0.5, 1.5), rel=1e-6)  # type: ignore[attr-defined]
    axes = heat.axes
    rows = axes.get_yticks()
    assert len(rows) <= LABELLED and rows[0] == 0 and rows[-1] == outputs - 1
    assert [t.get_text() for t in axes.get_yticklabels()] == [pretty(result.outputs[int(k)]) for k in rows]
    assert f"{LABELLED} of the {outputs} outputs labelled" in axes.get_title()


def test_the_texts_a_heat_map_draws_do_not_grow_with_its_outputs(drawn_texts: list[Text]) -> None:
    """No more texts laid out and drawn for 500 outputs than for 24, the most labels an axis takes (the old
    picture drew 1,000 tick labels)."""
    counts = []
    for outputs in (24, 500):
        drawn_texts.clear()
        png(jacmagic_plot(outputs))
        counts.append(len(drawn_texts))
    assert counts[1] <= counts[0] < 150  # 24 outputs and 24 inputs labelled on both panels, titles, colour bar


def jacmagic_plot(outputs: int) -> Figure:
    return jacobian(_cell(outputs), at={"x": 0.5, "y": 1.5}).whole.plot()


def test_a_heat_map_of_few_outputs_labels_each() -> None:
    """Up to LABELLED outputs every one is labelled, and no words about labels are added."""
    result = jacobian(_cell(4), at={"x": 0.5, "y": 1.5}).whole
    axes = result.plot().axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == [pretty(s) for s in result.outputs]
    assert "labelled" not in axes.get_title()


def _gaps(at: list[int]) -> list[int]:
    return [b - a for a, b in zip(at, at[1:])]


@pytest.mark.parametrize("outputs", [13, 14, 17, 18, 22, 24])
def test_labels_between_13_and_24_outputs_are_evenly_spaced_first_and_last_included(outputs: int) -> None:
    """The review's find: 17 outputs were labelled 0, 1, 3, 4, 6, 7, 9, ... (12 points rounded: a skip here and
    there). Now one step all along, drawn on both the heat map and the sparsity pattern beside it."""
    result = jacobian(_cell(outputs), at={"x": 0.5, "y": 1.5}).whole
    fig = result.plot()
    for gid in ("jacmagic-heat", "jacmagic-sparsity"):
        axes = next(a for a in fig.findobj() if a.get_gid() == gid).axes
        rows = [int(k) for k in axes.get_yticks()]
        assert rows[0] == 0 and rows[-1] == outputs - 1 and len(set(_gaps(rows))) == 1, (gid, rows)
        assert [t.get_text() for t in axes.get_yticklabels()] == [pretty(result.outputs[k]) for k in rows]


@pytest.mark.parametrize("count", range(1, 201))
def test_every_count_of_rows_or_columns_is_labelled_evenly_from_the_first_to_the_last(count: int) -> None:
    """Each up to LABELLED; beyond, 6 to 24 labels from the first to the last at one step where count - 1 has a
    divisor for it (always up to 24), else LABELLED at steps that differ by one and are never 1 beside 2."""
    at = labelled(count)
    gaps = _gaps(at)
    assert at[0] == 0 and at[-1] == count - 1 and all(g > 0 for g in gaps)
    assert at == list(range(count)) if count <= max(LABELLED, 13) else LABELLED // 2 <= len(at) <= 2 * LABELLED
    if gaps and len(set(gaps)) > 1:
        assert max(gaps) - min(gaps) == 1 and min(gaps) >= 2 and len(at) == LABELLED, at
        assert not any((count - 1) % s == 0 and LABELLED // 2 <= (count - 1) // s + 1 <= 2 * LABELLED
                       for s in range(1, count)), "an even step existed"


# -- a point too far out for its default plotted range ----------------------------------------------------------------

_POLAR = "x = r*cos(theta)\ny = r*sin(theta)"


@pytest.mark.parametrize(("value", "advice"), [
    ("1e300", "--domain nearer 0 (e.g. --domain r=-1:1): no range around it can be drawn"),
    ("1e105", "--domain around it at most 1e+100 wide (e.g. --domain r="),
])
def test_a_point_too_far_out_to_plot_around_is_refused_by_the_point_given_not_a_domain_never_typed(
        shell: Shell, value: str, advice: str) -> None:
    """`--plot --at r=1e300` (no --domain typed): the words name the --at point and the default range, and say
    which --domain would draw; never "--domain r=0:2e+300 cannot be used"."""
    ran = shell.run(f"%%jacobian --plot --at r={value},theta=0.8\n{_POLAR}")
    words = str(ran.error)
    assert type(ran.error) is UsageError, words
    assert f"the point's r={float(value):g} is too far out to plot around" in words
    assert f"r=0:{2 * float(value):g}" in words and advice in words
    assert "cannot be used" not in words


def test_a_suggested_domain_for_a_far_point_draws(shell: Shell) -> None:
    """The --domain the refusal suggests, typed as it is written, draws the picture."""
    words = str(shell.run(f"%%jacobian --plot --at r=1e105,theta=0.8\n{_POLAR}").error)
    domain = words.split("(e.g. ")[1].split(")")[0]
    shell.ok(f"%%jacobian --plot --no-widgets --at r=1e105,theta=0.8 {domain}\n{_POLAR}")
