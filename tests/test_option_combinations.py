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
    ("--mode reverse", r"^--mode is how --chain multiplies"),  # the default mode, typed: as unused
    ("--memory 1", r"^--memory limits what a --chain walkthrough"),  # the default memory, typed: as unused
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
                                                               ("memory", "5000", "gigabytes", "1024"),
                                                               ("memory", "1e-300", "gigabytes", "1024"),
                                                               ("memory", "0.0005", "gigabytes", "1024")])
def test_budget_and_memory_out_of_range_are_worded_alike_by_config_cell_and_command_line(
        shell: Shell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, setting: str,
        value: str, unit: str, top: str) -> None:
    least = "above 0" if setting == "budget" else "at least 0.001 (1 MB)"
    rule = f"takes a number of {unit} {least} and at most {top}, got {float(value)!r}"
    try:
        with caplog.at_level(logging.ERROR):
            shell.run(f"%config JacobianMagic.{setting} = {value}")
    finally:  # the refused value stays in the shell's config, where a reload of the extension would meet it
        shell.ok(f"%config JacobianMagic.{setting} = {1 if setting == 'memory' else 2}")
    assert f"JacobianMagic.{setting} {rule}; it is left as it was" in caplog.text, caplog.text
    chain = "--chain " if setting == "memory" else ""
    assert str(shell.run(f"%%jacobian {chain}--{setting} {value}\n{POLAR}").error) == f"--{setting} {rule}"
    assert _cli_error(capsys, ONE_LINE_POLAR, *chain.split(), f"--{setting}", value) == f"error: --{setting} {rule}\n"


# -- one table of unused options, whoever gives them --------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "2", "1.0"])
def test_memory_equal_to_its_default_without_chain_is_refused_as_any_other_value(
        capsys: pytest.CaptureFixture[str], value: str) -> None:
    """The command line took `--memory 1` (its default) for no option given, and refused `--memory 2`."""
    said = _cli_error(capsys, ONE_LINE_POLAR, "--memory", value)
    assert said.startswith("error: --memory limits what a --chain walkthrough may hold, and there is none"), said


def test_the_command_line_uses_the_default_memory_and_budget_when_none_is_given(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([ONE_LINE_POLAR, "--chain", "--memory", "1"]) == 0 and main([ONE_LINE_POLAR, "--chain"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(("line", "option"), [("--mode reverse", "--mode"), ("--mode both", "--mode"),
                                              ("--direction r=1", "--direction"),
                                              ("--mode forward --direction r=1", "--direction"),
                                              ("--memory 1", "--memory"), ("--memory 0.5", "--memory")])
def test_an_option_without_chain_gets_one_refusal_from_the_magic_the_command_line_and_the_api(
        shell: Shell, capsys: pytest.CaptureFixture[str], line: str, option: str) -> None:
    """The rules lived in two places (the line's table and compute's --mode/--direction check), which differed:
    `--mode reverse` without --chain was taken."""
    from jacmagic import JacmagicError, jacobian

    said = _refused(shell, line)
    assert said.startswith(f"{option} ") and said.endswith("add --chain"), said
    assert _cli_error(capsys, ONE_LINE_POLAR, *line.split()) == f"error: {said}\n"
    if option != "--memory":  # the API's memory= default is the user's %config: not told from one given
        words = line.split()
        given = {"mode": words[words.index("--mode") + 1]} if "--mode" in words else {}
        direction = {"direction": {"r": 1.0}} if "--direction" in words else {}
        if given.get("mode") != "reverse":
            with pytest.raises(JacmagicError) as refused:
                jacobian(POLAR, **given, **direction)  # type: ignore[arg-type]
            assert str(refused.value) == said


@pytest.mark.parametrize("where", ["magic", "command line"])
@pytest.mark.parametrize("option", ["--det", "--wrt", "--chain"])
def test_an_option_after_the_double_dash_is_not_suggested_as_itself(
        shell: Shell, capsys: pytest.CaptureFixture[str], where: str, option: str) -> None:
    """`-- --det` said 'unknown option --det (did you mean --det?)': -- ends the options, so --det is a value."""
    said = (_refused(shell, f"-- {option}") if where == "magic"
            else _cli_error(capsys, ONE_LINE_POLAR, "--", option))
    assert f"{option} comes after --, which ends the options" in said and "did you mean" not in said, said


def test_a_double_dash_left_over_on_the_command_line_is_not_taken_for_at(capsys: pytest.CaptureFixture[str]) -> None:
    said = _cli_error(capsys, ONE_LINE_POLAR, "--det", "--")
    assert said == "error: '--' alone is no option: -- ends the options, and nothing follows it here; leave it out\n"


@pytest.mark.parametrize("value", ["1e-300", "0.0005", "0"])
def test_memory_too_small_to_hold_a_walkthrough_is_refused_naming_the_range(
        shell: Shell, capsys: pytest.CaptureFixture[str], value: str) -> None:
    """`--memory 1e-300 --chain` said 'about 0 MB of numbers, over the 0 MB limit'."""
    said = _refused(shell, f"--chain --memory {value}")
    assert said == (f"--memory takes a number of gigabytes at least 0.001 (1 MB) and at most 1024, got "
                    f"{float(value)!r}"), said
    assert _cli_error(capsys, ONE_LINE_POLAR, "--chain", "--memory", value) == f"error: {said}\n"
    shell.ok(f"%%jacobian --chain --memory 0.001 --at r=1,theta=0.5\n{POLAR}")  # the least allowed: taken


@pytest.mark.parametrize("option", ["--range x=-1:1", "--domain x=-1:1 --plot"])
def test_a_range_for_a_declared_array_is_refused_naming_its_entries(shell: Shell, option: str) -> None:
    """Found by review: accepting θ for theta in R.at put the declared arrays' names among a point's names, and
    --range x=-1:1 for `x: 2` was then taken and ignored (the sliders are x₁ and x₂). A range names an entry."""
    said = shell.run(f"%%jacobian {option}\nx: 2\ny = x*x").error
    assert type(said) is UsageError and "x is not a variable of this map" in str(said) and "x_1" in str(said), said
