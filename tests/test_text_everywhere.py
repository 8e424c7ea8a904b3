"""Every line of text jacmagic writes keeps to its width (the terminal's, else 100 columns), by one rule
(`render.wrapped`): str(R), every display's text/plain (what an exported page, VS Code's fallback and terminal IPython
show), a panel's derivation, the pictures' words, the command line, for plain maps of every size and option and for
--chain cells of entries and of arrays, in both modes. Nothing is lost on the way: the numbers the text shows, read
back from it, are the numbers R.at, R.gradient and R.hessian_at compute, and each entry written out is the entry."""

from __future__ import annotations

import re
import sys
from functools import cache
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic import JacobianResult, jacobian
from jacmagic.__main__ import main
from jacmagic.notation import pretty
from jacmagic.notes import (
    BudgetStopped,
    CheckResult,
    DeterminantTooLarge,
    HeldConstant,
    MoreUndefined,
    Note,
    NotWrittenOut,
    OffMainThread,
    ThroughStages,
    UndefinedEntry,
)
from jacmagic.views import network_view, render
from jacmagic.views.displays import bundles, static_displays
from jacmagic.views.network_pictures import pictures
from jacmagic.views.notes import words
from jacmagic.views.numbers import window

from .test_network import classifier
from .test_text_width import _entries, _map, _parsed

WIDTHS = (60, 80, 100)

_EIGHT = "f(x0, x1, x2, x3, x4, x5, x6, x7) = [" + ", ".join(
    f"sin(x{i})*x{(i + 1) % 8}**2*exp(x{(i + 2) % 8}/7) + x{(i + 3) % 8}" for i in range(8)) + "]"
_HUGE = "f(" + ", ".join(f"x{j}" for j in range(30)) + ") = [" + ", ".join(
    f"x{i}*x{(i + 1) % 30} + sin(x{(i + 7) % 30})" for i in range(30)) + "]"
_CLASSIFIER, _CLASSIFIER_POINT = classifier(784, 128, 10)
_SMALL_NET = ("W1: 3x4\nb1: 3\nW2: 2x3\nb2: 2\nx: 4\ny: 2\nh = relu(W1 @ x + b1)\nz = W2 @ h + b2\n"
              "L = -sum(y * log(softmax(z)))")
_BATCH = ("W1: 16x12\nb1: 16\nW2: 10x16\nb2: 10\nX: 12x32\nY: 10x32\n"
          "L = -sum(Y * log_softmax(W2 @ relu(W1 @ X + b1) + b2, axis=0)) / 32")
_RNG = np.random.default_rng(60)

# id: (cell, options). Every kind of result: plain maps small, wide and huge with each option; --chain cells of
# entries (assignments, composed functions) and of arrays (the MNIST classifier, a conv net, a batch), both modes.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "small with det at a point": ("f(x, y) = [x**2*y, 5*x + sin(y)]", {"det": True, "at": {"x": 1.5, "y": -2}}),
    "wide": (_map(12, 12, 5), {}),
    "wide with partials and check": (_map(6, 6, 1), {"partials": True, "check": True}),
    "eight at a point with det and hessians": (_EIGHT, {"at": {f"x{j}": 0.1 * j + 0.3 for j in range(8)},
                                                         "det": True, "hessian": True, "simplify": "none"}),
    "huge at a point": (_HUGE, {"at": {f"x{j}": 0.05 * j - 0.4 for j in range(30)}}),
    "notes": ("f(x, y) = [sqrt(x)*y + a_rather_long_constant_name*x, log(y), another_constant*x]",
              {"at": {"x": -1, "y": 2, "a_rather_long_constant_name": 1, "another_constant": 2}, "wrt": "x,y"}),
    "chain of assignments": ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", {"chain": True}),
    "chain of composed functions": ("g(x1, x2) = [x1*x2, x1 + x2]\nh(u, v) = [sin(u)*v, u**2]",
                                    {"chain": True, "mode": "both"}),
    "classifier 784-128-10": (_CLASSIFIER, {"chain": True, "wrt": "W1,b1,W2,b2", "at": _CLASSIFIER_POINT}),
    "small network, both modes": (_SMALL_NET, {"chain": True, "mode": "both"}),
    "softmax along a direction": ("x: 3\ns = softmax(x)", {"chain": True, "direction": {"x": [1, 0, 2]},
                                                          "at": {"x": [0.3, -1.2, 2.5]}}),
    "conv net": ("x: 8x8\nK: 3x3\nh = conv2d(x, K)\nq = maxpool2d(relu(h), 2)\nL = sum(q**2)",
                 {"chain": True, "at": {"x": _RNG.normal(size=(8, 8)), "K": _RNG.normal(size=(3, 3))}}),
    "batch": (_BATCH, {"chain": True, "at": {"W1": _RNG.normal(size=(16, 12)) * 0.3, "b1": _RNG.normal(size=16),
                                             "W2": _RNG.normal(size=(10, 16)) * 0.3, "b2": _RNG.normal(size=10),
                                             "X": _RNG.normal(size=(12, 32)),
                                             "Y": np.eye(10)[:, _RNG.integers(10, size=32)]}}),
}


@cache
def _result(case: str) -> JacobianResult:
    cell, options = CASES[case]
    result = jacobian(cell, **options)
    assert isinstance(result, JacobianResult)
    return result


def _texts(result: JacobianResult, width: int, monkeypatch: pytest.MonkeyPatch,
           with_pictures: bool = False) -> dict[str, str]:
    """Every text the views write for `result` at a terminal `width` columns wide: str(R) and each display's
    text/plain, as a cell shows them (static) and as a panel's fallback carries them (bundles)."""
    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    if result.network is None:
        groups = render.result_groups(result.symbolic)
        text, shown = render.to_text(result.symbolic), static_displays(groups) + bundles(groups)
    else:
        walk = network_view.walkthrough_groups(result, result.walked)
        text, shown = network_view.to_text(result, result.walked), static_displays(walk) + bundles(walk)
        if result.whole is not None:
            shown += static_displays(render.result_groups(result.whole))
        if with_pictures:
            shown += pictures(result, result.walked)
    return {"str(R)": text, **{f"display {k}": d["text/plain"] for k, d in enumerate(shown)}}


def _too_wide(texts: dict[str, str], width: int) -> list[str]:
    return [f"{where}: {line}" for where, text in texts.items() for line in text.split("\n") if len(line) > width]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", list(CASES))
def test_no_line_of_any_text_of_any_result_passes_the_width(case: str, width: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _texts(_result(case), width, monkeypatch, with_pictures=width == 60)
    assert not _too_wide(texts, width), "\n".join(_too_wide(texts, width))


def test_text_going_to_no_terminal_keeps_to_100_columns() -> None:
    """A notebook's text/plain, an exported page, a file (as here: pytest captures the output, no terminal)."""
    R = jacobian(_SMALL_NET, chain=True, mode="both")
    shown = [d["text/plain"] for d in R.displays if isinstance(d, dict)]
    assert render.text_width() == 100 and max(len(line) for text in [str(R), *shown] for line in text.split("\n")) \
        <= 100


# -- nothing is lost: the numbers read back ------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def _numbers(text: str) -> list[float]:
    return [float(found) for found in _NUMBER.findall(text.replace("−", "-"))]


def _shown(values: np.ndarray) -> list[float]:
    """The entries a view shows of an array, row-major: the first 8 and last 2 rows and columns of a long one."""
    values = np.atleast_2d(values) if values.ndim < 2 else values.reshape(values.shape[0], -1)
    return [float(values[i, j]) for i in window(values.shape[0]) if i is not None
            for j in window(values.shape[1]) if j is not None]


def _in_order(expected: list[float], text: str, skip_zeros: bool = False) -> list[float]:
    """The expected numbers not found, in order, among the numbers of `text` (each to the 6 digits shown)."""
    found, k = _numbers(text), 0
    scale = max((abs(v) for v in expected), default=1.0)
    for value in expected:
        if skip_zeros and value == 0:
            continue
        while k < len(found) and found[k] != pytest.approx(value, rel=1e-5, abs=1e-9 * scale):
            k += 1
        if k == len(found):
            return [value]
        k += 1
    return []


def _after(text: str, marker: str) -> str:
    """The text from `marker` on, and from the first row of the 2-D art it labels (on its middle row)."""
    assert marker in text, marker
    lines = text[:text.index(marker)].split("\n")
    above = len(lines) - 1
    while above > 0 and re.search("[⎡⎢]", lines[above - 1]) and "⎣" not in lines[above - 1]:
        above -= 1
    return "\n".join(lines[above:]) + text[text.index(marker):]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_numbers_at_a_point_det_and_hessians_read_back_are_r_at_at_every_width(
        width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for case in ("small with det at a point", "eight at a point with det and hessians", "huge at a point"):
        R = _result(case)
        point = CASES[case][1]["at"]
        text = _texts(R, width, monkeypatch)["str(R)"]
        J = R.at(**point)
        assert not _in_order(_shown(J), _after(text, "J at "), skip_zeros=True), (case, width)
        if R.options.det:
            assert not _in_order([float(np.linalg.det(J))], _after(text, "det J at ")), (case, width)
        if R.options.hessian:
            for k, hessian in enumerate(R.hessian_at(**point)):
                marker = f"∇²{pretty(R.outputs[k])} at "
                assert not _in_order(_shown(hessian), _after(text, marker), skip_zeros=True), (case, width, k)


@pytest.mark.parametrize("width", WIDTHS)
def test_each_entry_written_out_at_any_width_is_r_at_at_a_random_point(width: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The wide maps written entry by entry, their continuation lines joined back: each entry read by sympy and
    evaluated is R.at there."""
    for case in ("wide", "eight at a point with det and hessians", "wide with partials and check"):
        R = _result(case)
        text = _texts(R, width, monkeypatch)["str(R)"]
        shown, zeros, defined = _entries(re.split(r"\n(?:note: |∇²|J at |det J)", text)[0])
        assert shown, (case, width)
        names = {symbol.name: symbol for symbol in R.inputs} | {name: sp.Symbol(name) for name, _ in defined}
        definitions = [(names[name], _parsed(definition, names)) for name, definition in reversed(defined)]
        point = dict(zip((s.name for s in R.inputs), _RNG.uniform(-1.5, 1.5, len(R.inputs))))
        J = R.at(**point)
        for i, output in enumerate(R.outputs):
            for j, variable in enumerate(R.inputs):
                key = f"∂{pretty(output)}/∂{pretty(variable)}"
                if key not in shown:
                    assert J[i, j] == 0, (case, key)
                    continue
                printed = _parsed(shown[key], names)
                for name, definition in definitions:
                    printed = printed.subs(name, definition)
                value = float(printed.subs({names[k]: v for k, v in point.items()}))
                assert value == pytest.approx(J[i, j], rel=1e-9, abs=1e-9), (case, key)
        assert zeros == len(R.outputs) * len(R.inputs) - len(shown)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["classifier 784-128-10", "small network, both modes", "conv net", "batch",
                                  "chain of assignments", "chain of composed functions"])
def test_the_gradients_read_back_from_the_walkthrough_are_r_gradient(case: str, width: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    R = _result(case)
    text = _after(_texts(R, width, monkeypatch)["str(R)"], "the gradients, each in its array's own shape:")
    gradient = R.gradient()
    for name in R.wrt:
        assert not _in_order(_shown(np.asarray(gradient[name])), _after(text, f"/∂{pretty(sp.Symbol(name))} = ")), \
            (case, width, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_forward_mode_tangents_read_back_are_j_times_the_direction(width: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    R = _result("softmax along a direction")
    text = _texts(R, width, monkeypatch)["str(R)"]
    tangent = R.at(x=np.array([0.3, -1.2, 2.5])) @ np.array([1.0, 0.0, 2.0])
    assert not _in_order(list(tangent), _after(text, "J·v = "))
    R = _result("small network, both modes")  # forward mode along every input: the tangents are J itself
    text = _texts(R, width, monkeypatch)["str(R)"]
    assert not _in_order(_shown(R.at()), _after(_after(text, "forward mode, from the inputs on"), "\nJ = "))


# -- notes of every kind, and the one rule itself ------------------------------------------------------------------

def _real_facts() -> list[Note]:
    R = _result("notes")
    undefined = jacobian("f(x, y) = [sqrt(x)*y, y**0.5 + x]", at={"x": 0, "y": 0})
    return [*R.facts, *undefined.facts]


_FACTS: list[Note] = [
    HeldConstant(tuple(f"a_rather_long_constant_name_{k}" for k in range(20))),
    DeterminantTooLarge(size=30, limit=12, seconds=2.0), DeterminantTooLarge(size=10, limit=12, seconds=2.0),
    OffMainThread(determinant_skipped=True), BudgetStopped(seconds=2.0), ThroughStages(),
    NotWrittenOut("a very long explanation of why the matrix could not be written out within its budget " * 2),
    UndefinedEntry(row=11, column=29, infinite=True), UndefinedEntry(row=0, column=0, infinite=False),
    MoreUndefined(count=7), CheckResult(checked=3, failed=1, worst=0.25, wanted=3),
    CheckResult(checked=1, failed=0, worst=0.0, wanted=3, stopped_at=2.0),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_note_of_every_kind_is_continued_within_the_width_with_every_word_kept(width: int) -> None:
    for fact in [*_FACTS, *_real_facts()]:
        line = f"note: {words(fact)}"
        lines = render.wrapped(line, width).split("\n")
        assert all(len(part) <= width for part in lines) and all(p.startswith("    ") for p in lines[1:]), lines
        assert " ".join(" ".join(lines).split()) == " ".join(line.split())


_WORD = st.one_of(st.text("abcxyz0123456789.,()·+-[]=/∂₁²", min_size=1, max_size=12),
                  st.text("abcdefghijklmnop", min_size=40, max_size=130))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.lists(_WORD, min_size=1, max_size=40)), min_size=1, max_size=6),
       st.sampled_from(WIDTHS))
def test_the_one_rule_keeps_every_character_and_continues_a_line_under_its_indent(
        lines: list[tuple[int, list[str]]], width: int) -> None:
    for indent, parts in lines:
        line = " " * indent + " ".join(parts)
        cut = render.wrapped(line, width).split("\n")
        assert all(len(part) <= width for part in cut), cut
        assert all(part.startswith(" " * (indent + 4)) for part in cut[1:]), cut
        assert "".join(cut).replace(" ", "") == line.replace(" ", "")  # only the spaces where it is cut go


def test_lines_whole_leaves_every_line_as_it_is() -> None:
    line = "x" * 30 + " " + "y · z " * 40
    with render.lines_whole():
        assert render.wrapped(line, 60) == line
    assert render.wrapped(line, 60) != line


# -- the command line ----------------------------------------------------------------------------------------------

def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


_ART = re.compile("[⎡⎢⎣]")


@pytest.mark.parametrize("width", [60, 100])
@pytest.mark.parametrize("argv", [[_map(12, 12, 5)], [_EIGHT, "--det", "--hessian", "--simplify", "none", "--at",
                                                      ",".join(f"x{j}={0.1 * j + 0.3:g}" for j in range(8))],
                                  [_SMALL_NET.replace("\n", ";"), "--chain", "--mode", "both"]],
                         ids=["wide", "at, det, hessian", "chain both"])
def test_the_command_line_fits_a_terminal_and_leaves_a_pipe_its_lines_whole(
        argv: list[str], width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """To a pipe or a file (as here) each line stays whole, for a program that reads a value's line; its 2-D blocks
    still keep to 100 columns. To a terminal every line keeps to the terminal's width, every character kept."""
    piped = _cli(argv, capsys).split("\n")
    assert max(map(len, piped)) > 100 and all(len(line) <= 100 for line in piped if _ART.search(line))
    monkeypatch.setattr(render, "_terminal_width", lambda: width)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    shown = _cli(argv, capsys)
    assert max(map(len, shown.split("\n"))) <= width, shown
    if width == 100:  # the same blocks as the pipe's: only the lines are continued
        assert "".join(shown.split()) == "".join("".join(piped).split())
