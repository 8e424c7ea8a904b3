"""Every example in README.md and docs/*.md runs as written, and says what the text around it says it says: each
fenced jacmagic cell through a real IPython shell (the `shell` fixture), each `python -m jacmagic` command as a
process, and each output the text shows (a block after a cell) found in what the cell displays."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Ran, Shell
from tests.helpers import run_isolated

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```[^\n]*\n(.*?)^ *```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: str
    index: int
    text: str

    @property
    def name(self) -> str:
        return f"{self.page}#{self.index}"

    @property
    def kind(self) -> str:
        first = self.text.lstrip().splitlines()[0] if self.text.strip() else ""
        if first.startswith(("%%jacobian", "%jacobian")):
            return "cell"
        if "python -m jacmagic" in first:
            return "cli"
        if first.startswith(("from ", "import ")):
            return "python"
        return "other"


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        for index, (indent, body) in enumerate(FENCE.findall(page.read_text())):
            text = "\n".join(line[len(indent):] for line in body.splitlines())
            found.append(Block(str(page.relative_to(ROOT)), index, text))
    return found


BLOCKS = blocks()
BY_NAME = {b.name: b for b in BLOCKS}


# An output shown on its own, with the cell that gives it.
SINN = "x = r*cos(theta)\ny = r*sinn(theta)"
MISTAKES = {"README.md#12": SINN, "docs/guarantees.md#0": SINN, "docs/guarantees.md#1": "u = x*y\nv = floor(u)"}


def shown_after(block: Block) -> Block | None:
    """The output block right after a cell or a Python block, which the text presents as what it shows."""
    following = BY_NAME.get(f"{block.page}#{block.index + 1}")
    shown = following is not None and following.kind == "other" and following.name not in MISTAKES
    return following if shown else None


# The shapes of the arrays a `def` example takes from the point (a layer cell declares its own).
CLASSIFIER = {"W1": (128, 784), "b1": (128,), "W2": (10, 128), "b2": (10,), "x": (784,), "y": (10,)}
DEF_SHAPES = {"README.md#10": CLASSIFIER, "docs/chain.md#2": CLASSIFIER,
              "docs/arrays.md#3": {"X": (32, 8, 8), "K": (3, 3), "W": (10, 9), "b": (10, 1), "Y": (10, 32)}}
LABELS = {"y", "Y", "t"}  # one-hot along the first axis, as the softmax + cross-entropy claims assume

# What the text says each example shows, beyond an output block printed right after it.
CLASSIFIER_CLOSED_FORM = ["∂L/∂b₂ = softmax(z) − y", "∂L/∂W₂ = (softmax(z) − y)hᵀ",
                          "∂L/∂W₁ = (W₂ᵀ(softmax(z) − y) ⊙ H(W₁x + b₁))xᵀ"]
CLAIMS = {
    "README.md#3": ["det J = r"],
    "README.md#8": ["forward pass", "reverse mode, from the output back", "it matches the Jacobian of the composed map",
                    "cost:"],
    "README.md#9": [*CLASSIFIER_CLOSED_FORM, "diag(H(W₁x + b₁))", "⊗ xᵀ", "diag(s) − s sᵀ"],
    "README.md#10": ["∂loss/∂W₁ = [[", "it matches"],
    "README.md#11": ["det J = r"],
    "docs/chain.md#0": ["forward pass", "reverse mode, from the output back", "∂L/∂z = upstream · ∂a/∂z",
                        "it matches the Jacobian of the composed map", "cost:"],
    "docs/chain.md#2": ["∂loss/∂W₁ = [[", "it matches"],
    "docs/arrays.md#0": ["a batch", "averages"],
}


def random_array(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if name in LABELS:
        return np.moveaxis(np.eye(shape[0])[rng.integers(shape[0], size=shape[1:])], -1, 0)
    return rng.normal(scale=0.1, size=shape)


def namespace(block: Block) -> dict[str, np.ndarray]:
    """The notebook variables the example's `--at` names: each a random array in the shape its declaration (or
    DEF_SHAPES) gives."""
    declared = {name: tuple(int(n) for n in dims.split("x"))
                for name, dims in re.findall(r"^(\w+): (\d+(?:x\d+)*)$", block.text, re.M)}
    declared |= DEF_SHAPES.get(block.name, {})
    given = re.search(r"--at (.*?)(?: --|$)", block.text.splitlines()[0])
    rng = np.random.default_rng(0)
    values: dict[str, np.ndarray] = {}
    for name, source in re.findall(r"(\w+)=([A-Za-z_]\w*)", given.group(1) if given else ""):
        if source != "pi":
            values[source] = random_array(name, declared[name], rng)
    return values


def normalised(text: str) -> str:
    return " ".join(text.split())


def shown_text(ran: Ran) -> str:
    return "\n".join(o["text/plain"] for o in ran.outputs if o.get("text/plain")) + ran.stdout


CELLS = [b for b in BLOCKS if b.kind == "cell"]


@pytest.mark.parametrize("block", CELLS, ids=[b.name for b in CELLS])
def test_every_cell_runs_and_shows_what_the_text_says(shell: Shell, block: Block) -> None:
    values = namespace(block)
    shell.ip.user_ns.update(values)
    try:
        ran = shell.ok(block.text)
    finally:
        for name in values:
            shell.ip.user_ns.pop(name, None)
    text = normalised(shown_text(ran))
    output = shown_after(block)
    claims = [*CLAIMS.get(block.name, []), *([output.text] if output else [])]
    for claim in claims:
        assert normalised(claim) in text, f"{block.name} does not show {claim!r}"




@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_shown_usage_error_is_the_one_the_cell_gives(shell: Shell, name: str) -> None:
    from IPython.core.error import UsageError

    ran = shell.run("%%jacobian\n" + MISTAKES[name])
    assert type(ran.error) is UsageError
    assert f"UsageError: {ran.error}" == BY_NAME[name].text.strip()


def test_the_closed_form_python_example_runs_and_prints_what_its_comments_say(shell: Shell) -> None:
    block = next(b for name, b in BY_NAME.items() if name.startswith("docs/closed-form.md#") and "R.code()" in b.text
                 and "R = jacobian(" in b.text)
    rng = np.random.default_rng(1)
    shell.ip.user_ns["values"] = {"A": rng.normal(size=(3, 3)), "x": rng.normal(size=3), "y": rng.normal(size=3)}
    ran = shell.ok(block.text)
    for name, said in re.findall(r"^(\w+) = .*?# \1\.text: '([^']*)'", block.text, re.M):
        assert shell.ip.user_ns[name].text == said
    code = shown_after(block)
    assert code is not None and normalised(code.text) in normalised(ran.stdout)


@pytest.mark.parametrize("row", re.findall(r"^\| `[^`]+` \| `(f = [^`]+)` \| (\w+) \| (.+) \|$",
                                           (ROOT / "docs" / "closed-form.md").read_text(), re.M),
                         ids=lambda row: row[0])
def test_each_matrixcalculus_example_gives_its_closed_form(row: tuple[str, str, str]) -> None:
    """The table's closed form (and Hessian, where it gives one) is the formula's text; which names are vectors
    and which matrices follows the table's own letters (capitals are matrices)."""
    from jacmagic import jacobian

    line, wrt, said = row
    names = sorted(set(re.findall(r"(?<!\.)\b([A-Za-z])\b", line)) - {"f"})
    shapes = "\n".join(f"{n}: 3x3" if n.isupper() else f"{n}: 3" for n in names)
    result = jacobian(f"{shapes}\n{line}", chain=True, wrt=[wrt])
    gradient, _, hessian = said.partition("; Hessian ")
    assert result.formula(wrt).text.endswith(" = " + gradient.removeprefix("Jacobian ")), result.formula(wrt).text
    if hessian:
        assert result.hessian_formula(wrt).text.endswith(" = " + hessian), result.hessian_formula(wrt).text


def run_command(command: str, replace: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command[command.index("python -m jacmagic"):])[3:]
    words = [(replace or {}).get(w, w) for w in words]
    return subprocess.run([sys.executable, "-m", "jacmagic", *words], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_the_readmes_first_command_prints_the_jacobian_and_its_determinant() -> None:
    done = run_command(BY_NAME["README.md#0"].text)
    assert done.returncode == 0, done.stderr
    assert "J = ∂(f₁, f₂)/∂(x, y)" in done.stdout and "det J = " in done.stdout


def test_the_plot_pages_command_draws_the_picture(tmp_path: Path) -> None:
    said = re.search(r"`(python -m jacmagic [^`]+)`", (ROOT / "docs" / "plot.md").read_text()).group(1)
    target = str(tmp_path / "polar.png")
    done = run_command(said.replace("\n", " "), {"docs/polar_change_of_variables.png": target})
    assert done.returncode == 0, done.stderr
    assert Path(target).read_bytes()[:4] == b"\x89PNG"


def test_every_example_is_covered() -> None:
    """A new cell or command in the docs is picked up by kind; this names what is not run, so none is lost."""
    skipped = sorted(b.name for b in BLOCKS if b.kind == "other" and not any(
        shown_after(c) == b for c in BLOCKS if c.kind in ("cell", "python")) and b.name not in MISTAKES)
    assert skipped == ["README.md#1", "README.md#2", "docs/clients.md#0", "docs/layout.md#0"], skipped


def test_the_def_classifier_gives_the_layer_cells_gradient(shell: Shell) -> None:
    """README: the numpy `def` of the classifier gives the same gradient as its layer cell."""
    layer, traced = BY_NAME["README.md#9"], BY_NAME["README.md#10"]
    shell.ip.user_ns.update(namespace(layer))
    gradients = [shell.ok(block.text).result.gradient() for block in (layer, traced)]
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(gradients[0][name], gradients[1][name], rtol=1e-9, atol=1e-12)


def test_text_is_unicode_even_when_sympy_first_prints_into_a_captured_stdout() -> None:
    code = ("import io, contextlib, json, jacmagic\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    jacmagic.jacobian('f(x) = x').displays\n"
            "R = jacmagic.jacobian('x = r*cos(theta)\\ny = r*sin(theta)', det=True)\n"
            "print(json.dumps(R.displays[0]['text/plain']))")
    assert "⎡cos(θ)" in str(run_isolated(code, timeout=120))
