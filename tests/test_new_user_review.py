"""Findings of a new-user review: what a refusal tells the user to write, and names given as the display shows
them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jacmagic import jacobian
from jacmagic.errors import CellError, OptionError
from jacmagic.model import Options
from jacmagic.pipeline import compute
from jacmagic.read.parse import parse_cell
from tests.conftest import Shell
from tests.helpers import run_isolated
from tests.test_docs_examples import CELLS, Block, namespace


@pytest.mark.parametrize("cell, written, line, name", [
    ("W: 2x3\nf(x) = W @ x", "y = W @ x", 2, "W"),
    ("W: 2x3\nx: 3\ng(u) = u\nf(x) = W @ x + 1", "y = W @ x + 1", 4, "W"),
    ("f(x) = x\nW: 2", "y = x", 1, "W"),
])
def test_shapes_in_a_function_cell_say_which_assignment_line_to_write(cell: str, written: str, line: int,
                                                                        name: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_cell(cell)
    message = str(caught.value)
    assert f"write {written} (an assignment line)" in message
    assert f"line {line}'s" in message and message.endswith(f"to use {name}")


def _central(f, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.stack([(f(point + h * e) - f(point - h * e)) / (2 * h) for e in np.eye(len(point))], axis=-1)


def _polar(p: np.ndarray) -> np.ndarray:
    return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("greek, spelled", [("θ", "theta"), ("φ", "phi"), ("α", "alpha")])
def test_at_takes_the_greek_letter_the_display_shows(chain: bool, greek: str, spelled: str) -> None:
    R = compute(f"f(r, {spelled}) = [r*cos({spelled}), r*sin({spelled})]", Options(chain=chain))
    expected = _central(_polar, np.array([2.0, 1.0]))
    np.testing.assert_allclose(R.at(**{greek: 1.0, "r": 2.0}), expected, rtol=1e-6)
    np.testing.assert_allclose(R.gradient(**{greek: 1.0, "r": 2.0})[spelled], expected[:, 1], rtol=1e-6)
    many = R.at(**{greek: np.array([1.0, 1.0]), "r": 2.0})
    np.testing.assert_allclose(many[0], expected, rtol=1e-6)


def test_at_still_refuses_a_name_the_cell_does_not_have() -> None:
    R = compute("f(r, theta) = [r*cos(theta), r*sin(theta)]")
    with pytest.raises(OptionError, match="φ is not a variable"):
        R.at(φ=1.0, r=2.0)


STEP = re.compile(r"^ *step \d+ of \d+: ", re.M)


def assert_spaced_by_step(text: str) -> None:
    """One blank line between the walkthrough's groups, never two; each step a paragraph of its own, its header
    first."""
    assert "\n\n\n" not in text and not text.startswith("\n")
    paragraphs = text.split("\n\n")
    for paragraph in paragraphs:
        headers = STEP.findall(paragraph)
        assert len(headers) <= 1, paragraph
        assert not headers or STEP.match(paragraph), paragraph
    assert sum(bool(STEP.match(p)) for p in paragraphs) == len(STEP.findall(text))


CHAIN_CELLS = [b for b in CELLS if "--chain" in b.text.splitlines()[0]]


@pytest.mark.parametrize("block", CHAIN_CELLS, ids=[b.name for b in CHAIN_CELLS])
def test_a_walkthrough_has_a_blank_line_between_steps_and_none_inside_one(shell: Shell, block: Block) -> None:
    shell.ip.user_ns.update(namespace(block))
    first, rest = block.text.split("\n", 1)
    ran = shell.ok(re.sub(r" --out \w+", "", first) + " --out _walked\n" + rest)
    text = str(shell.ip.user_ns["_walked"])
    assert_spaced_by_step(text)
    # A terminal prints each display's text/plain on its own lines: the same text, pictures' words after it.
    assert "\n".join(o["text/plain"] for o in ran.outputs if o.get("text/plain")).startswith(text)


def _product(x, y):  # type: ignore[no-untyped-def]
    u = x * y
    return np.sin(u) + x


@pytest.mark.parametrize("source, mode", [
    ("u = x*y\nv = sin(u)\nw = v + x", None),
    ("f(x) = sin(x)\ng(u) = u^2\nh(x) = g(f(x))", None),
    ("u = x*y\nv = sin(u)", "forward"),
    ("u = x*y\nv = sin(u)", "both"),
    (_product, "both"),
])
def test_every_walkthrough_kind_is_spaced_by_step(source: object, mode: str | None) -> None:
    text = str(jacobian(source, chain=True, mode=mode))  # type: ignore[arg-type]
    assert STEP.search(text)
    assert_spaced_by_step(text)


TERMINAL = """
import contextlib, io, json
from traitlets.config import Config
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from jacmagic.views.render import text_width
config = Config()
config.HistoryAccessor.enabled = False
config.TerminalInteractiveShell.simple_prompt = True
ip = TerminalInteractiveShell.instance(config=config)
ip.run_cell("%load_ext jacmagic")
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    for cell in CELLS:
        ip.run_cell(cell, store_history=True)
print(json.dumps([printed.getvalue(), text_width()]))
"""


def test_a_terminal_prints_the_result_under_its_out_prompt_within_the_width() -> None:
    cells = ["%%jacobian\nf(r, theta) = [r*cos(theta), r*sin(theta)]",
             "%%jacobian --chain\nu = x*y\nv = sin(u)",
             "%%jacobian --chain --mode forward\nW: 2x3\nx: 3\ny = tanh(W @ x)"]
    printed, width = run_isolated(f"CELLS = {cells!r}\n" + TERMINAL, timeout=120)  # type: ignore[misc]
    lines = printed.splitlines()
    prompts = [line for line in lines if line.startswith("Out[")]
    assert len(prompts) == len(cells) and all(re.fullmatch(r"Out\[\d+\]: ", p) for p in prompts)
    assert max(len(line) for line in lines) <= width
