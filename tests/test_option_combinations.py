"""Options as typed together: never abbreviated (a new option must not change what an old notebook's line means),
never silently unused beside the others, and the budget and memory ranges worded alike wherever they are set."""

from __future__ import annotations

import logging
import re

import pytest
from IPython.core.error import UsageError

from jacmagic.__main__ import main

from .conftest import Shell

POLAR = "x = r*cos(theta)\ny = r*sin(theta)"
ONE_LINE_POLAR = "x = r*cos(theta); y = r*sin(theta)"


def _refused(shell: Shell, line: str, cell: str = POLAR) -> str:
    shell.ip.user_ns.pop("kept", None)
    ran = shell.run(f"%%jacobian --out kept {line}\n{cell}")
    assert type(ran.error) is UsageError, (line, ran.error)
    assert "kept" not in shell.ip.user_ns  # nothing bound: the line was not run with another meaning
    return str(ran.error)


def _cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    said = capsys.readouterr()
    assert said.out == "" and "Traceback" not in said.err
    return said.err


# -- abbreviations ------------------------------------------------------------------------------------------------

ABBREVIATED = [("--de", r"unknown option --de \(did you mean --det\?\)"),
               ("--hess", r"unknown option --hess \(did you mean --hessian\?\)"),
               ("--h", r"unknown option --h \(did you mean --hessian\?\)"),
               ("--d", r"unknown option --d \(did you mean --det, --direction or --domain\?\)"),
               ("--wr r", r"unknown option --wr \(did you mean --wrt\?\)"),
               ("--no-w", r"unknown option --no-w \(did you mean --no-widgets\?\)"),
               ("--at=r=1,theta=0 --part", r"unknown option --part \(did you mean --partials\?\)")]


@pytest.mark.parametrize(("line", "says"), ABBREVIATED)
def test_an_abbreviated_option_is_refused_in_the_magic_naming_the_option_meant(shell: Shell, line: str,
                                                                               says: str) -> None:
    """argparse took `--de` for --det: a notebook saved so would change meaning, or break, once another option
    began with the same letters."""
    said = _refused(shell, line)
    assert re.search(says + r"; %%jacobian\? lists the options$", said), said


@pytest.mark.parametrize(("line", "says"), [
    ("--de", r"unknown option --de \(did you mean --det\?\)"),
    ("--h", r"unknown option --h \(did you mean --help or --hessian\?\)"),  # the command line has --help
    ("--lat", r"unknown option --lat \(did you mean --latex\?\)"),
    ("--at r=1,theta=0 --part", r"unknown option --part \(did you mean --partials\?\)"),
])
def test_an_abbreviated_option_is_refused_on_the_command_line_naming_the_option_meant(
        capsys: pytest.CaptureFixture[str], line: str, says: str) -> None:
    said = _cli_error(capsys, ONE_LINE_POLAR, *line.split())
    assert re.fullmatch(r"error: " + says + r"; python -m jacmagic --help lists the options\n", said), said


def test_the_full_option_names_still_work_in_both(shell: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    R = shell.ok(f"%%jacobian --det --hessian --no-widgets --at=r=1,theta=0\n{POLAR}").result
    assert R.options.det and R.options.hessian
    assert main([ONE_LINE_POLAR, "--det", "--at=r=2,theta=0"]) == 0
    assert "det J at r = 2, θ = 0 = 2" in capsys.readouterr().out


# -- options that would do nothing beside the others --------------------------------------------------------------

MAGIC_COMBINATIONS = [  # (the option line, a refusal it gets, or None where every option given is used)
    ("--domain r=0:2,theta=0:1", r"^--domain sets the region the --plot picture draws, and nothing is plotted: "
                                 r"add --plot$"),
    ("--no-widgets --domain r=0:2", r"^--domain sets the region the --plot picture draws"),
    ("--chain --domain r=0:2", r"^--domain sets the region the --plot picture draws"),
    ("--plot --no-widgets --domain r=0:2,theta=0:1", None),
    ("--plot --domain r=0:2,theta=0:1", None),
    ("--memory 2", r"^--memory limits what a --chain walkthrough may hold, and there is none: add --chain$"),
    ("--memory 2 --plot --no-widgets", r"^--memory limits what a --chain walkthrough"),
    ("--memory 2 --chain", None),
    ("--range r=0:5 --no-widgets", r"^--range sets the panel's slider ranges, and --no-widgets shows no panel: "
                                   r"leave one of them out$"),
    ("--range r=0:5", None),  # no widget front end here: the result's .widget() still takes them
    ("--no-continuous-update --no-widgets", r"^--no-continuous-update is how the panel's sliders update, and "
                                            r"--no-widgets shows no panel"),
    ("--no-continuous-update --range r=0:5", None),
    ("--mode forward", r"^--mode is how --chain multiplies"),  # refused before this change: kept
    ("--direction r=1", r"^--direction is how --chain multiplies"),
    ("--chain --mode forward --direction r=1", None),
    ("--simplify none", None),  # noted, not refused: without --det the entries are raw anyway, as asked
    ("--no-widgets --plot", None),
]


@pytest.mark.parametrize(("line", "refusal"), MAGIC_COMBINATIONS)
def test_an_option_without_use_beside_the_others_is_refused_in_the_magic(shell: Shell, line: str,
                                                                         refusal: str | None) -> None:
    if refusal is None:
        shell.ok(f"%%jacobian --at r=1,theta=0.5 {line}\n{POLAR}")
    else:
        said = _refused(shell, f"--at r=1,theta=0.5 {line}")
        assert re.search(refusal, said), said


def test_domain_without_plot_is_refused_saying_it_sets_the_plot_region(shell: Shell) -> None:
    """--domain without --plot was silently unused: the teacher saw no picture and no reason."""
    said = _refused(shell, "--domain r=0.2:2,theta=0:2*pi")
    assert said == "--domain sets the region the --plot picture draws, and nothing is plotted: add --plot"


@pytest.mark.parametrize(("argv", "refusal"), [
    (["--domain", "r=0:2"], r"^error: --domain sets the region the --plot picture draws, and nothing is plotted"),
    (["--memory", "2"], r"^error: --memory limits what a --chain walkthrough may hold"),
    (["--memory", "2", "--latex"], r"^error: --memory limits"),
    (["--range", "r=0:5"], r"^error: --range: an option of the %%jacobian magic"),  # no panel on a command line
])
def test_an_option_without_use_beside_the_others_is_refused_on_the_command_line(
        capsys: pytest.CaptureFixture[str], argv: list[str], refusal: str) -> None:
    said = _cli_error(capsys, ONE_LINE_POLAR, *argv)
    assert re.search(refusal, said), said


def test_domain_with_plot_on_the_command_line_draws(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    target = f"{tmp_path}/p.png"
    assert main([ONE_LINE_POLAR, "--domain", "r=0.2:2,theta=0:1", "--plot", target]) == 0, capsys.readouterr().err
    with open(target, "rb") as file:
        assert file.read(4) == b"\x89PNG"


# -- the budget and memory ranges: one wording --------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "value", "unit", "top"), [("budget", "0", "seconds", "3600"),
                                                               ("memory", "5000", "gigabytes", "1024")])
def test_budget_and_memory_out_of_range_are_worded_alike_by_config_cell_and_command_line(
        shell: Shell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, setting: str,
        value: str, unit: str, top: str) -> None:
    rule = f"takes a number of {unit} above 0 and at most {top}, got {float(value)!r}"
    try:
        with caplog.at_level(logging.ERROR):
            shell.run(f"%config JacobianMagic.{setting} = {value}")
    finally:  # the refused value stays in the shell's config, where a reload of the extension would meet it
        shell.ok(f"%config JacobianMagic.{setting} = {1 if setting == 'memory' else 2}")
    assert f"JacobianMagic.{setting} {rule}; it is left as it was" in caplog.text, caplog.text
    chain = "--chain " if setting == "memory" else ""
    assert str(shell.run(f"%%jacobian {chain}--{setting} {value}\n{POLAR}").error) == f"--{setting} {rule}"
    assert _cli_error(capsys, ONE_LINE_POLAR, *chain.split(), f"--{setting}", value) == f"error: --{setting} {rule}\n"
