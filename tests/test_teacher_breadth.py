"""A teacher writing a lecture notebook and a student in terminal IPython: the option line as people type it, the
options alone and together, %config, the line magic, --out across re-runs, loading and unloading, the text a
terminal shows and the command line. Every number is checked against central differences written here."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.lib.pretty import pretty

from jacmagic.__main__ import main
from tests.conftest import Ran, Shell


def central(function: Callable[[np.ndarray], np.ndarray], point: list[float], h: float = 1e-6) -> np.ndarray:
    """d function / d point by central differences, a row per output."""
    x = np.asarray(point, dtype=float)
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((np.atleast_1d(function(x + step)) - np.atleast_1d(function(x - step))) / (2 * h))
    return np.array(columns).T


def refused(shell: Shell, source: str, match: str) -> Ran:
    """A mistake: IPython's UsageError itself, one short paragraph matching `match`, no traceback, the namespace
    as it was and the shell usable after."""
    keep = object()
    shell.ip.user_ns["kept"] = keep
    before = set(shell.ip.user_ns)
    ran = shell.run(source)
    assert type(ran.error) is UsageError, f"{type(ran.error).__name__}: {ran.error}"
    message = str(ran.error)
    assert re.search(match, message), message
    assert "\n" not in message and len(message) < 300, message
    assert "Traceback" not in ran.stdout
    assert shell.ip.user_ns["kept"] is keep and set(shell.ip.user_ns) == before
    assert shell.ok("%%jacobian\nf(x) = x**3").result.at(x=2)[0, 0] == pytest.approx(12)
    return ran


POLAR = "x = r*cos(theta)\ny = r*sin(theta)"


def polar(v: np.ndarray) -> np.ndarray:
    return np.array([v[0] * np.cos(v[1]), v[0] * np.sin(v[1])])


# -- the option line as typed -----------------------------------------------------------------------------------

TYPOS = [
    ("--dett", r"unknown option --dett \(did you mean --det\?\); %%jacobian\? lists the options"),
    ("--det --hessain", r"unknown option --hessain \(did you mean --hessian\?\)"),
    ("--Det", r"unknown option --Det \(did you mean --det\?\)"),
    ("--nowidgets", r"did you mean --no-widgets\?"),
    ("--plt", r"did you mean --plot\?"),
    ("--chekc --at r=1,theta=0", r"did you mean --check\?"),
    ("\u2014det", r"unknown option \u2014det: an option starts with two hyphens.*did you mean --det\?"),
    ("\u2013wrt r", r"two hyphens.*did you mean --wrt\?"),
    ("det", r"unexpected 'det' \(did you mean --det\?\): options start with --, and the map goes in the cell"),
    ("--latex", r"--latex: an option of the command line; here the LaTeX source is the result's \.latex\(\)"),
    ("--help", r"%%jacobian\? shows the help"),
    ("-h", r"%%jacobian\? shows the help"),
    ("--budget [1, 2]", r"--budget: invalid float value: '\[1,2\]'"),  # the value as typed, not a placeholder
]


@pytest.mark.parametrize(("options", "match"), TYPOS)
def test_an_unknown_option_names_the_option_meant(shell: Shell, options: str, match: str) -> None:
    refused(shell, f"%%jacobian --out kept {options}\n{POLAR}", match)


@pytest.mark.parametrize(("line", "match"), [
    ("%jacobian kept_f --dett", r"unknown option --dett \(did you mean --det\?\)"),
    ("%jacobian kept_f other", r"unexpected 'other': options start with --, and %jacobian takes one name"),
    ("%jacobian np.sin", r"%jacobian takes the name of a variable, got 'np.sin': assign it first \(f = np.sin\)"),
    ("%jacobian 1+x", r"takes the name of a variable, got '1\+x'"),
])
def test_a_line_magic_mistake_says_what_the_line_takes(shell: Shell, line: str, match: str) -> None:
    shell.ok("import numpy as np\ndef kept_f(u, v):\n    return u*v")
    refused(shell, line, match)


def test_an_option_after_a_typo_binds_nothing(shell: Shell) -> None:
    shell.ip.user_ns.pop("after_typo", None)
    refused(shell, f"%%jacobian --dett --at r=1,theta=0 --out after_typo\n{POLAR}", r"did you mean --det\?")
    assert "after_typo" not in shell.ip.user_ns


@pytest.mark.parametrize(("options", "match"), [
    ("--out A1 --out B1", r"argument --out: given twice \(A1 and B1\); give it once"),
    ("--simplify none --simplify full", r"--simplify: given twice \(none and full\)"),
    ("--budget 0.5 --budget 3", r"--budget: given twice \(0.5 and 3.0\)"),
    ("--memory 1 --memory 2", r"--memory: given twice"),
    ("--chain --mode forward --mode reverse", r"--mode: given twice \(forward and reverse\)"),
])
def test_a_single_valued_option_given_twice_with_two_values_is_refused(shell: Shell, options: str,
                                                                        match: str) -> None:
    """`--out A --out B` bound B and left an A of an earlier run in place, stale; the rest silently took the last."""
    shell.ip.user_ns.pop("A1", None)
    refused(shell, f"%%jacobian {options}\nu = x*y\nv = u + x", match)
    assert "A1" not in shell.ip.user_ns and "B1" not in shell.ip.user_ns


def test_the_same_value_given_twice_is_taken(shell: Shell) -> None:
    R = shell.ok(f"%%jacobian --det --det --simplify full --simplify full --out twice --out twice\n{POLAR}").result
    assert R.options.simplify == "full" and shell.ip.user_ns["twice"] is R


SPELLINGS = ["--at r=1.5,theta=0.4", "--at r=1.5, theta=0.4", "--at r = 1.5, theta = 0.4", "--at=r=1.5,theta=0.4",
             "--at r=1.5 theta=0.4", "--at r=1.5 --at theta=0.4", "--at r= 1.5 ,theta =0.4", '--at "r=1.5, theta=0.4"',
             "--at r=3/2,theta=2*pi/5/pi", "--at r=1.5,theta=0.4,"]


@pytest.mark.parametrize("options", SPELLINGS)
def test_a_point_typed_with_spaces_gives_the_numbers_of_central_differences(shell: Shell, options: str) -> None:
    """`--at r = 1.5, theta = 0.4` was refused ("got 'r'"): the shell splits at spaces, and the pieces were
    joined with commas."""
    R = shell.ok(f"%%jacobian --det {options}\n{POLAR}").result
    want = central(polar, [1.5, 0.4])
    assert np.allclose(R.at(), want, atol=1e-8)
    assert float(R.det.subs({s: v for s, v in zip(R.inputs, (1.5, 0.4))})) == pytest.approx(np.linalg.det(want))


def test_wrt_and_range_typed_with_spaces_are_read(shell: Shell) -> None:
    R = shell.ok(f"%%jacobian --wrt theta, r --range r = 0:5, theta=0:2*pi\n{POLAR}").result
    assert R.wrt == ("theta", "r")
    assert R.options.ranges == (("r", 0.0, 5.0), ("theta", 0.0, pytest.approx(2 * np.pi)))


# -- options alone and together, against central differences -------------------------------------------------

CELLS: list[tuple[str, Callable[[np.ndarray], np.ndarray], dict[str, float]]] = [
    (POLAR, polar, {"r": 1.5, "theta": 0.4}),
    ("f(x, y, z) = [x**2*y + sin(y*z), exp(x) - z]", lambda v: np.array([v[0] ** 2 * v[1] + np.sin(v[1] * v[2]),
                                                                        np.exp(v[0]) - v[2]]),
     {"x": 1.0, "y": 2.0, "z": 0.5}),
    ("u = x*y\nv = sin(u) + x\nw = u*v", lambda v: np.array([v[0] * v[1] * (np.sin(v[0] * v[1]) + v[0])]),
     {"x": 0.4, "y": 1.7}),
    ("def f(a, b):\n    return [a*b, np.exp(a) - b]", lambda v: np.array([v[0] * v[1], np.exp(v[0]) - v[1]]),
     {"a": 0.3, "b": -1.0}),
]
COMBOS = ["", "--partials", "--simplify none", "--simplify full", "--budget 1", "--no-widgets --plot", "--check",
          "--hessian", "--chain", "--chain --mode both", "--chain --mode forward --hessian", "--range {r}",
          "--plot --domain {r} --no-continuous-update", "--partials --simplify full --check --hessian --budget 3",
          "--chain --check --partials --simplify none", "--memory 0.5 --chain --plot"]


# Every option set on every cell, but --chain on a one-stage cell (a single function: refused, test_magic).
CASES = [pytest.param(cell, function, point, options, id=f"{name}-{options}")
         for name, (cell, function, point) in zip(["polar", "math", "assignments", "def"], CELLS)
         for options in COMBOS if not ("--chain" in options and cell.startswith(("f(", "def")))]


@pytest.mark.parametrize(("cell", "function", "point", "options"), CASES)
def test_options_alone_and_together_match_central_differences(shell: Shell, cell: str,
                                                              function: Callable[[np.ndarray], np.ndarray],
                                                              point: dict[str, float], options: str) -> None:
    at = ",".join(f"{k}={v}" for k, v in point.items())
    ranges = ",".join(f"{k}={v - 1}:{v + 1}" for k, v in point.items())
    R = shell.ok(f"%%jacobian --at {at} --out combo {options.format(r=ranges)}\n{cell}").result
    assert shell.ip.user_ns["combo"] is R
    x = list(point.values())
    want = central(function, x)
    assert np.allclose(R.at(), want, atol=1e-7), (R.at(), want)
    if "--hessian" in options:
        def gradient_of(k: int) -> Callable[[np.ndarray], np.ndarray]:
            return lambda v: central(function, list(v), 1e-5)[k]

        for k, hessian in enumerate(R.hessian_at(**point)):
            assert np.allclose(hessian, central(gradient_of(k), x, 1e-5), atol=1e-4)
    if "--chain" in options:
        assert np.allclose(np.ravel(R.walkthrough().gradients[R.wrt[0]]), want[:, 0], atol=1e-7)
    if want.shape[0] == want.shape[1]:
        assert float(R.symbolic.det_at(R.at())) == pytest.approx(np.linalg.det(want), abs=1e-7)


def test_chain_plot_in_a_terminal_shows_the_picture(shell: Shell) -> None:
    """`--chain --plot` without a widget front end showed no picture at all (the plain cell's --plot did)."""
    ran = shell.ok("%%jacobian --chain --plot --at x=0.4,y=1.7\nu = x*y\nv = sin(u) + x\nw = u*v")
    assert sum("image/png" in o for o in ran.outputs) == 1
    assert not any("image/png" in o for o in shell.ok("%%jacobian --chain --at x=0.4,y=1.7\n"
                                                       "u = x*y\nv = sin(u) + x\nw = u*v").outputs)


# -- %config ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "match"), [
    ("budget = -3", r"JacobianMagic.budget takes a number of seconds above 0 and at most 3600, got -3.0"),
    ("budget = 1e9", r"JacobianMagic.budget takes .* got 1000000000.0"),
    ("budget = float('nan')", r"JacobianMagic.budget takes .* got nan"),
    ("memory = 0", r"JacobianMagic.memory takes a number of gigabytes at least 0.001 \(1 MB\) and at most 1024, got 0"),
])
def test_a_config_value_out_of_range_is_refused_when_set(shell: Shell, setting: str, match: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """`%config JacobianMagic.budget = -3` was taken, then every cell failed with "--budget takes ..." naming an
    option the user never typed."""
    with caplog.at_level(logging.ERROR):
        shell.run(f"%config JacobianMagic.{setting}")
    assert re.search(match, caplog.text), caplog.text
    R = shell.ok(f"%%jacobian --det\n{POLAR}").result
    assert (R.options.budget, R.options.memory) == (2.0, 1.0)


def test_config_budget_and_memory_reach_every_cell_and_survive_reload(shell: Shell) -> None:
    try:
        shell.ok("%config JacobianMagic.budget = 4.5")
        shell.ok("%config JacobianMagic.memory = 0.25")
        shell.ok("%reload_ext jacmagic")
        R = shell.ok(f"%%jacobian\n{POLAR}").result
        assert (R.options.budget, R.options.memory) == (4.5, 0.25)
        assert shell.ok(f"%%jacobian --budget 1\n{POLAR}").result.options.budget == 1.0  # the option wins
    finally:
        shell.ok("%config JacobianMagic.budget = 2")
        shell.ok("%config JacobianMagic.memory = 1")


# -- the line magic, --out, history, loading -------------------------------------------------------------------

def test_line_magic_on_a_function_a_lambda_and_a_sympy_expression(shell: Shell) -> None:
    shell.ok("import sympy as sp\nsx, sy = sp.symbols('sx sy')\nexpr = sx**2*sp.sin(sy)\n"
             "lam = lambda a, b: [a*b, a - b**3]\ndef g(u, v):\n    return np.exp(u)*v")
    point = [0.7, -1.3]
    for line, function in [("expr", lambda v: v[0] ** 2 * np.sin(v[1])),
                           ("lam", lambda v: np.array([v[0] * v[1], v[0] - v[1] ** 3])),
                           ("g", lambda v: np.exp(v[0]) * v[1])]:
        R = shell.ok(f"%jacobian {line} --out lined").result
        names = [str(s) for s in R.inputs]
        assert np.allclose(R.at(**dict(zip(names, point))), central(function, point), atol=1e-7)
        assert shell.ip.user_ns["lined"] is R


def test_out_rebinds_on_each_run_and_a_failing_run_keeps_the_last_good_one(shell: Shell) -> None:
    first = shell.ok("%%jacobian --out taught\nf(x) = x**2").result
    second = shell.ok("%%jacobian --out taught\nf(x) = x**3").result
    assert shell.ip.user_ns["taught"] is second and second is not first
    assert second.at(x=2)[0, 0] == pytest.approx(central(lambda v: v ** 3, [2.0])[0, 0])
    refused(shell, "%%jacobian --out taught\nf(x) = x**4 + sinn(x)", r"line 1\b.*did you mean sin\?")
    assert shell.ip.user_ns["taught"] is second


def test_the_result_is_the_cell_output_in_underscore_and_out(shell: Shell) -> None:
    ip = shell.ip
    ip.run_cell("%%jacobian\nf(x) = x**5", store_history=True)
    R = ip.user_ns["_"]
    assert ip.user_ns["Out"][ip.execution_count - 1] is R
    assert R.at(x=1.5)[0, 0] == pytest.approx(central(lambda v: v ** 5, [1.5])[0, 0], rel=1e-8)
    ip.run_cell("%%jacobian --out kept\nf(x) = sinn(x)", store_history=True)
    assert ip.user_ns["_"] is R  # a failed cell has no output


def test_load_twice_reload_and_unload() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    for step in ["load_ext", "load_ext", "reload_ext"]:
        ip.run_line_magic(step, "jacmagic")
    assert len([c for c in ip.configurables if type(c).__name__ == "JacobianMagic"]) >= 1
    assert ip.run_cell("%%jacobian\nf(x) = x**2", store_history=False).result.at(x=3)[0, 0] == 6
    ip.run_line_magic("unload_ext", "jacmagic")
    ip.run_line_magic("unload_ext", "jacmagic")  # twice: IPython says it is not loaded, nothing breaks
    assert ip.find_cell_magic("jacobian") is None and ip.find_line_magic("jacobian") is None
    ip.run_line_magic("load_ext", "jacmagic")
    assert ip.find_cell_magic("jacobian") is not None


# -- terminal IPython: the text ---------------------------------------------------------------------------------

TEXT_KINDS = [
    (POLAR, {"det": True, "at": {"r": 2.0, "theta": 0.3}}, ["det J = r", "det J at r = 2, θ = 0.3 = 2"]),
    ("f(x, y) = x**2*y + sin(x*y)", {"hessian": True, "at": {"x": 1.0, "y": 2.0}}, ["∇²f", "eigenvalues"]),
    ("z = w*x + b\na = sigmoid(z)\nL = (a - t)**2", {"chain": True, "wrt": "w,b", "mode": "both",
                                                      "at": {"w": 0.7, "b": -0.2, "x": 1.5, "t": 1.0}},
     ["reverse mode", "forward mode", "cost:"]),
    ("f(α, β, γ) = [α*sin(β)*exp(γ), β**2*γ]", {}, ["∂(f₁, f₂)/∂(α, β, γ)"]),
    ("f(x, y, z) = [exp(sin(x*y*z))*cosh(x**2 + y**2)*atan(z/x) + log(1 + x**2*y**2*z**2), "
     "sqrt(x**2 + y**2 + z**2)*tanh(x*y)]", {"hessian": True},
     ["J = (too wide for a line even with names: entry by entry below)", "where ", "∂²f₂/∂z² = "]),
    ("f(" + ", ".join(f"x{j}" for j in range(50)) + ") = [" +
     ", ".join(f"x{i}*x{(i + 1) % 50} + x{(i + 7) % 50}**2" for i in range(50)) + "]", {"det": True},
     ["showing 10 of 50 rows and 10 of 50 columns; the whole matrix is", "(too large to expand)"]),
]


@pytest.mark.parametrize(("cell", "options", "said"), TEXT_KINDS, ids=["det", "hessian", "chain", "greek", "wide",
                                                                     "50x50"])
def test_terminal_text_of_each_kind_fits_80_columns(cell: str, options: dict[str, Any], said: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """What terminal IPython prints (str, repr, _repr_pretty_): within 80 columns, sympy's 2-D art where it fits
    and else entry by entry; a big matrix elided with its note, no shown entry cut."""
    import jacmagic
    from jacmagic.views import render

    monkeypatch.setattr(render, "_terminal_width", lambda: 80)
    R = jacmagic.jacobian(cell, **options)
    text = str(R)
    assert pretty(R) == text and repr(R).startswith("<JacobianResult ")
    joined = " ".join(line.strip() for line in text.split("\n"))
    for words in said:
        assert words in joined, words
    assert all(len(line) <= 80 for line in text.split("\n")), text  # a 2-D block too: else entry by entry
    for row in re.findall(r"row \d+: \[(.*?)\]", text.replace("\n    ", " ")):
        assert all(entry.strip() and not entry.endswith("…") or entry.strip() == "…"
                   for entry in row.split(", ")), row


def test_fifty_by_fifty_shows_the_corner_entries_central_differences_give() -> None:
    import jacmagic

    n = 50
    R = jacmagic.jacobian("f(" + ", ".join(f"x{j}" for j in range(n)) + ") = [" +
                          ", ".join(f"x{i}*x{(i + 1) % n} + x{(i + 7) % n}**2" for i in range(n)) + "]")
    point = np.linspace(-1, 1, n)

    def f(v: np.ndarray) -> np.ndarray:
        return np.array([v[i] * v[(i + 1) % n] + v[(i + 7) % n] ** 2 for i in range(n)])

    assert np.allclose(R.at(**{f"x{j}": point[j] for j in range(n)}), central(f, list(point)), atol=1e-7)
    assert "showing 10 of 50 rows" in str(R)


# -- the command line --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    [POLAR.replace("\n", "; "), "--det", "--at", "r=1.5,", "theta=0.4"],
    [POLAR.replace("\n", "; "), "--det", "--at", "r", "=", "1.5,", "theta", "=", "0.4"],
    [POLAR.replace("\n", "; "), "--det", "--at", "r=1.5", "--at", "theta=0.4"],
    ["--at", "r=1.5,", "theta=0.4", "--det", POLAR.replace("\n", "; ")],
    [POLAR.replace("\n", "; "), "--det", "--at=r=1.5,theta=0.4", "--latex"],
])
def test_command_line_reads_points_as_typed_and_prints_central_differences(argv: list[str],
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`--at x=1, y=2` (a space after the comma) failed with argparse's usage block; `--at x=1 --at y=2` said y
    had no value, though the magic joins repeated options."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    want = central(polar, [1.5, 0.4])
    shown = re.search(r"det J at r = 1.5, θ = 0.4 = (\S+)", out)
    assert shown and float(shown.group(1)) == pytest.approx(np.linalg.det(want), rel=1e-5)
    assert ("\\det J" in out) == ("--latex" in argv)


def test_command_line_repeated_wrt_is_joined_not_replaced(capsys: pytest.CaptureFixture[str]) -> None:
    """`--wrt x --wrt y` differentiated by y alone (the last won), silently."""
    assert main(["f(x, y) = x**2*y", "--wrt", "x", "--wrt", "y", "--at", "x=3,y=2"]) == 0
    out = capsys.readouterr().out
    shown = re.search(r"J at x = 3, y = 2 = \[(\S+)\s+(\S+)\]", out)
    assert shown, out
    assert np.allclose([float(shown.group(1)), float(shown.group(2))],
                       central(lambda v: v[0] ** 2 * v[1], [3.0, 2.0])[0], rtol=1e-6)


@pytest.mark.parametrize(("argv", "said"), [
    (["f(x) = x", "--dett"], r"^error: unknown option --dett \(did you mean --det\?\); python -m jacmagic --help"),
    (["f(x) = x", "\u2014det"], r"^error: unknown option \u2014det: an option starts with two hyphens"),
    (["f(x) = x", "--out", "R"], r"^error: --out: an option of the %%jacobian magic in IPython, not of the command"),
    (["f(x) = x", "--no-widgets"], r"^error: --no-widgets: an option of the %%jacobian magic"),
    (["f(x) = x", "--budget", "abc"], r"^error: argument --budget: invalid float value: 'abc'; python -m jacmagic"),
    (["f(x) = x", "--simplify", "none", "--simplify", "full"], r"^error: argument --simplify: given twice"),
    (["f(x) = x", "stray"], r"^error: unexpected 'stray': options start with --"),
    ([], r"^error: the following arguments are required: cell"),
    (["f(x, y) = [x*y, x]", "--det", "--at", "x=1"], r"^error: no value given for y"),
])
def test_command_line_mistakes_exit_2_with_one_line(argv: list[str], said: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as done:
        code = int(done.code or 0)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert re.search(said, captured.err) and captured.err.count("\n") == 1, captured.err
