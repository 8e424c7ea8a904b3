"""`python -m jacmagic`: the main job without a notebook."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh Python process per test: about a second each


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jacmagic", *args], capture_output=True, text=True, timeout=120)


def test_prints_text_and_latex_only_when_asked() -> None:
    out = run("x = r*cos(theta); y = r*sin(theta)", "--det", "--at", "r=2,theta=0")
    assert out.returncode == 0, out.stderr
    assert "det J = r" in out.stdout and "det J at r = 2, θ = 0 = 2" in out.stdout
    assert "\\" not in out.stdout  # no LaTeX source unasked
    out = run("x = r*cos(theta); y = r*sin(theta)", "--det", "--latex")
    assert r"\det J &= r" in out.stdout


def test_forward_mode_along_a_direction() -> None:
    """The walk ends with J times the direction, the directional derivative: here along x, so ∂w/∂x by central
    differences. The cell has its own u, v and w, so the direction is named d."""
    out = run("u = x*y; v = u + x; w = u*v", "--chain", "--direction", "x=1", "--at", "x=0.4,y=1.7")
    assert out.returncode == 0, out.stderr
    shown = re.search(r"^J·d = (\S+)$", out.stdout, re.M)
    assert shown, out.stdout
    h = 1e-6
    assert float(shown.group(1)) == pytest.approx((_w(0.4 + h, 1.7) - _w(0.4 - h, 1.7)) / (2 * h), rel=1e-5)
    assert "forward pass, at\n  x = 0.4\n  y = 1.7" in out.stdout
    assert "J times the direction alone takes forward mode 1 pass" in out.stdout
    bad = run("u = x*y; v = u + x", "--direction", "x=1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --direction is how --chain multiplies")


def _w(x: float, y: float) -> float:
    u = x * y
    return u * (u + x)


def test_mistakes_exit_2_with_one_line() -> None:
    out = run("f(x, y) = [x*y, x, y]", "--det")
    assert out.returncode == 2
    assert out.stderr.startswith("error: --det needs a square Jacobian")
    assert "Traceback" not in out.stderr


def test_plot_writes_a_png(tmp_path: object) -> None:
    target = f"{tmp_path}/polar.png"
    out = run("x = r*cos(theta); y = r*sin(theta)", "--det", "--at", "r=1,theta=0.5", "--domain",
              "r=0.2:2,theta=0:2*pi", "--plot", target)
    assert out.returncode == 0, out.stderr
    with open(target, "rb") as file:
        assert file.read(4) == b"\x89PNG"


def test_plot_to_a_folder_that_does_not_exist_is_refused_before_any_work(tmp_path: object) -> None:
    out = run("x = r*cos(theta); y = r*sin(theta)", "--plot", f"{tmp_path}/missing/polar.png")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: --plot: cannot write") and "Traceback" not in out.stderr


def test_a_domain_too_wide_or_too_narrow_to_draw_is_refused(tmp_path: object) -> None:
    for domain in ["r=0:1e300,theta=0:1", "r=0:1e-300,theta=0:1", "r=1:1,theta=0:1", "r=1e12:1e12+1,theta=0:1"]:
        out = run("x = r*cos(theta); y = r*sin(theta)", "--domain", domain, "--plot", f"{tmp_path}/p.png")
        assert out.returncode == 2 and out.stderr.startswith("error: --domain r"), (domain, out.stderr)
        assert "Traceback" not in out.stderr


def test_a_semicolon_inside_a_comment_does_not_split_the_cell() -> None:
    out = run("f(x) = [x**2]  # a; b", "--at", "x=3")
    assert out.returncode == 0, out.stderr
    assert "J at x = 3 = [6]" in out.stdout


def test_standard_input_that_is_not_utf8_says_so() -> None:
    out = subprocess.run([sys.executable, "-m", "jacmagic", "-"], input=b"f(x) = [x]\xff\n", capture_output=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.decode().startswith("error: the standard input is not UTF-8 text (byte 0xff at position 10)")


def test_thousands_of_nested_brackets_give_one_line_not_a_traceback() -> None:
    out = run("W: 2\ny = W[0]*W[1]", "--at", "W=" + "[" * 3000 + "1" + "]" * 3000)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr) < 300
    assert "nests brackets 3000 deep" in out.stderr


def test_a_point_beyond_a_double_is_refused_within_seconds() -> None:
    # idle: about 2 s in all (1 s to start Python and import, 1 s of evaluation before the time limit stops it)
    out = subprocess.run([sys.executable, "-m", "jacmagic", "f(x) = [x]", "--at", "x=exp(exp(exp(exp(3))))"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    assert out.stderr.startswith("error: --at x: 'exp(exp(exp(exp(3))))' is too large for a floating-point number")


def test_output_is_complete_through_a_pipe_and_into_a_file_when_the_process_skips_its_teardown(
        tmp_path: Path) -> None:
    """The command line ends with os._exit once its output is flushed (issue 27: the interpreter's teardown was
    60 ms): nothing printed may be lost, whether stdout is a pipe or a block-buffered file."""
    from jacmagic import jacobian

    cell = "x = r*cos(theta); y = r*sin(theta)"
    result = jacobian(cell, det=True)
    wanted = f"{result}\n\n{result.latex()}\n"
    assert run(cell, "--det", "--latex").stdout == wanted
    target = tmp_path / "out.txt"
    with target.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "jacmagic", cell, "--det", "--latex"], stdout=out, timeout=120)
    assert done.returncode == 0 and target.read_text() == wanted
    mistake = run("f(x, y) = [x*y, sin(", "--det")
    assert mistake.returncode == 2 and mistake.stderr.startswith("error: ") and mistake.stderr.endswith("\n")


def test_a_reader_that_closes_the_pipe_early_ends_it_with_code_1_and_no_traceback() -> None:
    """`python -m jacmagic ... | head -1` printed a BrokenPipeError traceback."""
    child = subprocess.Popen([sys.executable, "-m", "jacmagic", "f(x, y) = [x**2*y, 5*x + sin(y)]", "--det",
                              "--latex"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the child has printed anything: its first print meets a closed pipe
    assert child.stderr.read() == ""
    assert child.wait(timeout=120) == 1
