"""Option values (--at, --direction, --domain, --range, the command line): every value ends quickly in a number
or in a one-line refusal that says what is wrong with it; an array is used in the shape given, or refused.

Right answers are independent of jacmagic: mpmath's numerical derivative of the map written with mpmath."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from jacmagic import JacmagicError, jacobian
from jacmagic.__main__ import cell_lines, main
from jacmagic.options import parse_point, parse_ranges, parse_values

from .conftest import Shell
from .helpers import assert_close, numeric_jacobian

TOO_LARGE = "too large for a floating-point number"

# -- values beyond a double: each would have run for minutes before; in one process of their own ---------------

CHILD = r"""
import contextlib, io, json, sys, time
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config
from jacmagic.__main__ import main

config = Config()
config.HistoryAccessor.enabled = False
shell = InteractiveShell.instance(config=config)
shell.run_line_magic("load_ext", "jacmagic")
for case, kind, args in json.loads(sys.argv[1]):
    start = time.monotonic()
    if kind == "magic":
        with capture_output():
            ran = shell.run_cell(args, store_history=False)
        error = ran.error_in_exec or ran.error_before_exec
        said = {"error": type(error).__name__, "message": str(error)}
    else:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        said = {"error": f"exit {code}", "message": stderr.getvalue().strip()}
    print("@" + json.dumps({"case": case, "seconds": time.monotonic() - start, **said}), flush=True)
"""

# exp^4(3): sympy evaluates it digit by digit, without end (the time limit stops it); sinh^4(10): mpmath overflows
# its digit count; 2.0**10**10 and 1e308*10: numbers sympy holds, but no double does.
HUGE = ["exp(exp(exp(exp(3))))", "sinh(sinh(sinh(sinh(10))))", "2.0**10**10", "1e308*10"]
CHAIN = "u = x*y\nv = u + x"
UNWRITTEN = str(Path(tempfile.gettempdir()) / "jacmagic-never-written.png")  # the value is refused first


def _uses(value: str) -> dict[str, tuple[str, Any]]:
    """Every way an option value reaches jacmagic: the magic's four options and the command line's three."""
    return {
        "magic --at": ("magic", f"%%jacobian --no-widgets --at x={value},y=1\n{CHAIN}"),
        "magic --direction": ("magic", f"%%jacobian --no-widgets --chain --direction x={value}\n{CHAIN}"),
        "magic --domain": ("magic", f"%%jacobian --no-widgets --plot --domain x=0:{value}\n{CHAIN}"),
        "magic --range": ("magic", f"%%jacobian --range x=0:{value}\n{CHAIN}"),  # no kernel here: no panel shown
        "cli --at": ("cli", [CHAIN, "--at", f"x={value},y=1"]),
        "cli --direction": ("cli", [CHAIN, "--chain", "--direction", f"x={value}"]),
        "cli --domain": ("cli", [CHAIN, "--domain", f"x=0:{value}", "--plot", UNWRITTEN]),
    }


HUGE_CASES = {f"{use} {value}": (value, use, how) for value in HUGE for use, how in _uses(value).items()}
# A refusal takes about 1 s when the evaluation's time limit stops it, a few ms otherwise (measured idle); 10x.
ANSWER_WITHIN = 10.0


@pytest.fixture(scope="module")
def huge_reports() -> dict[str, dict[str, Any]]:
    cases = [(case, kind, args) for case, (_, _, (kind, args)) in HUGE_CASES.items()]
    ran = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases)], capture_output=True, text=True,
                         timeout=600)
    reports = [json.loads(line[1:]) for line in ran.stdout.splitlines() if line.startswith("@")]
    assert len(reports) == len(cases), ran.stderr[-2000:]
    return {report["case"]: report for report in reports}


def _refused_as_too_large(report: dict[str, Any], option: str, value: str) -> None:
    assert report["error"] in ("UsageError", "exit 2"), report
    message = report["message"]
    assert TOO_LARGE in message and option in message and repr(value) in message, message
    assert "\n" not in message.strip() and "Traceback" not in message
    assert report["seconds"] < ANSWER_WITHIN, report


def test_a_tower_of_exponentials_at_a_point_is_refused_within_seconds(huge_reports: dict[str, Any]) -> None:
    _refused_as_too_large(huge_reports["magic --at exp(exp(exp(exp(3))))"], "--at x", "exp(exp(exp(exp(3))))")


def test_sinh_beyond_a_double_is_called_too_large_not_not_a_number(huge_reports: dict[str, Any]) -> None:
    report = huge_reports["magic --at sinh(sinh(sinh(sinh(10))))"]
    _refused_as_too_large(report, "--at x", "sinh(sinh(sinh(sinh(10))))")
    assert "is not a number" not in report["message"]


@pytest.mark.parametrize("case", list(HUGE_CASES))
def test_every_option_refuses_a_value_beyond_a_double_quickly(huge_reports: dict[str, Any], case: str) -> None:
    value, use, _ = HUGE_CASES[case]
    _refused_as_too_large(huge_reports[case], use.split()[1] + " x", value)


# -- values within a double still evaluate exactly --------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("exp(709)", mpmath.exp(709)), ("sinh(sinh(2))", mpmath.sinh(mpmath.sinh(2))), ("1e308*1.5", 1.5e308),
    ("exp(1000)/exp(999)", mpmath.e), ("2^-1074", mpmath.mpf(2) ** -1074), ("-(10.0^308)", -1e308),
])
def test_a_value_near_the_limits_of_a_double_is_kept(text: str, value: mpmath.mpf) -> None:
    (name, got), = parse_point(f"x={text}")
    assert float(got) == pytest.approx(float(value), rel=1e-15)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mantissa=st.floats(1.0, 9.99), exponent=st.integers(309, 5000), negative=st.booleans(),
       option=st.sampled_from(["--at", "--direction", "--domain", "--range"]))
def test_any_number_beyond_a_double_is_refused_by_every_option(mantissa: float, exponent: int, negative: bool,
                                                               option: str) -> None:
    value = f"{'-' if negative else ''}{mantissa:.3f}*10.0^{exponent}"
    with pytest.raises(JacmagicError, match=f"{option} x: .* {TOO_LARGE}"):
        if option in ("--domain", "--range"):
            parse_ranges(f"x={value}:0" if negative else f"x=0:{value}", option)
        else:
            parse_point(f"x={value}", option=option)


# -- values from the namespace, and nested brackets -------------------------------------------------------------

def test_an_int_beyond_a_double_given_by_name_is_refused(shell: Shell) -> None:
    shell.ip.user_ns["big"] = 10**400
    ran = shell.run("%%jacobian --no-widgets --at x=big\nf(x) = [x**2]")
    assert type(ran.error) is UsageError and f"--at x: big holds a number {TOO_LARGE}" in str(ran.error)


def test_thousands_of_nested_brackets_are_refused_in_the_magic_and_the_cli(shell: Shell,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    deep = "[" * 3000 + "1" + "]" * 3000
    ran = shell.run(f"%%jacobian --no-widgets --at W={deep}\nW: 2\ny = W[0]*W[1]")
    assert type(ran.error) is UsageError and "nests brackets 3000 deep" in str(ran.error)
    assert len(str(ran.error)) < 300
    assert main(["W: 2\ny = W[0]*W[1]", "--at", f"W={deep}"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: --at W:") and "nests brackets 3000 deep" in said and len(said) < 300


def test_a_complex_value_is_refused_not_cut_to_its_real_part(shell: Shell) -> None:
    shell.ip.user_ns["cz"] = np.complex128(1 + 2j)
    ran = shell.run("%%jacobian --no-widgets --at x=cz\nf(x) = [x**2]")
    assert type(ran.error) is UsageError and "--at x: cz holds complex numbers" in str(ran.error)
    shell.ip.user_ns["cw"] = np.array([1 + 2j, 3.0])
    ran = shell.run("%%jacobian --no-widgets --at W=cw\nW: 2\ny = W[0]*W[1]")
    assert type(ran.error) is UsageError and "--at W: cw holds complex numbers" in str(ran.error)


BAD_VALUES = st.one_of(
    st.builds(lambda n: (n, TOO_LARGE), st.integers(2**1024, 10**2000)),
    st.builds(lambda n: ([1.0, -n], TOO_LARGE), st.integers(2**1024, 10**2000)),
    st.builds(lambda z: (np.complex128(z), "holds complex numbers"),
              st.complex_numbers(max_magnitude=1e6, allow_nan=False).filter(lambda z: z.imag != 0)),
    st.builds(lambda shape: (np.full(shape, 1 - 1j), "holds complex numbers"),
              st.sampled_from([(2,), (2, 1), (1, 2), (3, 2)])),
    st.builds(lambda z: ([1.0, z], "holds complex numbers"), st.just(2j)),
    st.just((np.longdouble(10) ** 400, TOO_LARGE)) if np.finfo(np.longdouble).max > 1e400 else st.nothing(),
    st.just((np.array(["1.5", "2"]), "does not hold numbers only")),
    st.just((float("nan"), "not a finite number")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=BAD_VALUES, option=st.sampled_from(["--at", "--direction"]))
def test_any_value_by_name_that_is_no_real_double_is_refused(bad: tuple[Any, str], option: str) -> None:
    value, said = bad
    with pytest.raises(JacmagicError, match=f"{option} v: value .*{said}"):
        parse_point("v=value", {"value": value}, option)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=BAD_VALUES)
def test_the_python_api_refuses_the_same_values(bad: tuple[Any, str]) -> None:
    value, said = bad
    cell = "x: 2\ny = x[0]*x[1]" if np.ndim(value) == 1 and np.size(value) == 2 else "f(x) = [x**2]"
    with pytest.raises(JacmagicError, match=said):
        jacobian(cell, at={"x": value})


# -- shapes: used as given, or refused naming both --------------------------------------------------------------

LAYER = "W: 2x3\nx: 3\ny = W @ x"


def _layer_map(*point: mpmath.mpf) -> list[mpmath.mpf]:
    w, x = point[:6], point[6:]
    return [sum(w[3 * i + j] * x[j] for j in range(3)) for i in range(2)]


def test_a_matrix_of_the_wrong_shape_is_refused_naming_both_shapes() -> None:
    with pytest.raises(JacmagicError, match=r"--at W is 2 x 3, so it needs 6 values in that shape, got 3 x 2"):
        jacobian(LAYER, at={"W": ((1, 2), (3, 4), (5, 6)), "x": (1, 1, 1)})


BIG_LAYER = "W: 8x6\nx: 6\ny = W @ x"  # past the size written out entry by entry: the array level alone


# (cell, --chain, option): the entry level, the array level with the entry level beside it, the array level alone
PATHS = [(LAYER, False, "--at"), (LAYER, True, "--at"), (LAYER, True, "--direction"), (BIG_LAYER, True, "--at"),
         (BIG_LAYER, True, "--direction")]


@pytest.mark.parametrize(("cell", "chain", "option"), PATHS)
@pytest.mark.parametrize("given_as", ["text", "name"])
def test_every_path_refuses_a_transposed_matrix(shell: Shell, cell: str, chain: bool, option: str,
                                                given_as: str) -> None:
    rows, cols = (2, 3) if cell == LAYER else (8, 6)
    wrong = np.arange(1.0, rows * cols + 1).reshape(cols, rows)
    shell.ip.user_ns["wrong"] = wrong
    value = "wrong" if given_as == "name" else json.dumps(wrong.tolist()).replace(" ", "")
    point = f"W={value},x={json.dumps([1.0] * cols).replace(' ', '')}" if option == "--at" else f"W={value}"
    ran = shell.run(f"%%jacobian --no-widgets {'--chain' if chain else ''} {option} {point}\n{cell}")
    assert type(ran.error) is UsageError, ran.error
    assert f"{option} W is {rows} x {cols}" in str(ran.error) and f"got {cols} x {rows}" in str(ran.error)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3)), given_shape=st.sampled_from(
    [(), (1,), (2,), (3,), (6,), (1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (1, 6), (6, 1), (3, 3)]),
    chain=st.booleans(), seed=st.integers(0, 2**16))
def test_a_declared_matrix_takes_its_own_shape_or_a_vector_only(shape: tuple[int, int],
                                                                  given_shape: tuple[int, ...], chain: bool,
                                                                  seed: int) -> None:
    rows, cols = shape
    cell = f"W: {rows}x{cols}\nx: {cols}\nh = W @ x\ny = h*h"
    rng = np.random.default_rng(seed)
    w, x = rng.uniform(-1, 1, given_shape), rng.uniform(-1, 1, cols)
    fits = given_shape == shape or (len(given_shape) < 2 and w.size == rows * cols and 1 in shape)
    if not fits:
        with pytest.raises(JacmagicError, match=rf"W is {rows} x {cols}, so it needs .*, got "
                                                 rf"{' x '.join(map(str, given_shape)) or 'one number'}$"):
            jacobian(cell, at={"W": w, "x": x}, chain=chain)
        return
    got = jacobian(cell, at={"W": w, "x": x}, chain=chain).at(W=w, x=x)

    def composed(*point: mpmath.mpf) -> list[mpmath.mpf]:
        weights, inputs = point[:rows * cols], point[rows * cols:]
        h = [sum(weights[cols * i + j] * inputs[j] for j in range(cols)) for i in range(rows)]
        return [v * v for v in h]

    assert_close(got, numeric_jacobian(composed, [*np.ravel(w), *x]))


# -- a matrix of one column stays a matrix ----------------------------------------------------------------------

def test_a_one_column_matrix_takes_two_indices_in_a_layer_line() -> None:
    for chain in (False, True):
        got = jacobian("W: 3x1\nv: 3\ny = W[1, 0]*W[2, 0] + v[1]", chain=chain).at(W=[[1.0], [2.0], [3.0]],
                                                                                     v=[1.0, 2.0, 3.0])
        assert_close(got, numeric_jacobian(lambda *p: [p[1] * p[2] + p[4]], [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]))


def test_a_one_column_matrix_in_a_def_cell_stays_two_dimensional() -> None:
    cell = "def f(W, z):\n    return W @ z"
    result = jacobian(cell, at={"W": [[0.5], [-1.0]], "z": [3.0]})
    got = result.at(W=[[0.5], [-1.0]], z=[3.0])
    assert_close(got, numeric_jacobian(lambda w1, w2, z: [w1 * z, w2 * z], [0.5, -1.0, 3.0]))


@pytest.mark.parametrize("declared", [True, False])
@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (2, 1), (3, 1), (1, 3), (2, 2)])
@pytest.mark.parametrize("from_namespace", [True, False])
def test_a_def_cell_uses_each_matrix_in_the_shape_given(declared: bool, rows: int, cols: int,
                                                        from_namespace: bool) -> None:
    """W (rows x cols) @ z (cols,) in numpy: a matrix of one row or column is as 2-D as any other."""
    cell = (f"W: {rows}x{cols}\n" if declared else "") + "def f(W, z):\n    return W @ z"
    w = np.arange(1.0, rows * cols + 1).reshape(rows, cols) / 4
    z = np.linspace(-1.0, 2.0, cols)
    at = {"W": "w", "z": "z"} if from_namespace else {"W": w.tolist(), "z": z.tolist()}
    point = ",".join(f"{k}={v if from_namespace else json.dumps(v).replace(' ', '')}" for k, v in at.items())
    values = dict(parse_point(point, {"w": w, "z": z}))
    got = jacobian(cell, at=values).at(**values)

    def composed(*point: mpmath.mpf) -> list[mpmath.mpf]:
        weights, inputs = point[:rows * cols], point[rows * cols:]
        return [sum(weights[cols * i + j] * inputs[j] for j in range(cols)) for i in range(rows)]

    assert_close(got, numeric_jacobian(composed, [*w.ravel(), *z]))


# -- the command line -----------------------------------------------------------------------------------------

def test_a_semicolon_in_a_comment_stays_in_the_comment(capsys: pytest.CaptureFixture[str]) -> None:
    assert cell_lines("f(x) = [x]  # a; b") == "f(x) = [x]  # a; b"
    assert main(["f(x) = [x**2]  # a; b", "--at", "x=3"]) == 0
    assert "J at x = 3 = [6]" in capsys.readouterr().out


@pytest.mark.parametrize(("one_line", "lines"), [
    ("u = x*y; v = u + x", "u = x*y\nv = u + x"),
    ("u = x*y; v = u + x  # first; second", "u = x*y\nv = u + x  # first; second"),
    ("u = x*y  # the product; v = u + x", "u = x*y  # the product; v = u + x"),
    ("f(x) = [x]\n# a; b", "f(x) = [x]\n# a; b"),
])
def test_only_semicolons_of_the_code_separate_lines(one_line: str, lines: str) -> None:
    assert cell_lines(one_line) == lines


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


@pytest.mark.parametrize("data", [b"f(x) = [x]\xff\n", b"\xc3(x) = [x]", b"f(x) = [x] # \xed\xa0\x80"])
def test_standard_input_that_is_not_utf8_is_named_so(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    assert main(["-"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: the standard input is not UTF-8 text") and "nested" not in said


def test_standard_input_in_utf8_with_windows_line_ends_is_read(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin("x = r*cos(θ)\r\ny = r*sin(θ)\r\n".encode()))
    assert main(["-", "--det"]) == 0
    assert "det J = r" in capsys.readouterr().out


def test_a_cell_argument_that_is_not_utf8_is_named_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["f(x) = [x\udcff]"]) == 2  # how Python passes the byte 0xff of a command-line argument
    assert capsys.readouterr().err.startswith("error: the cell is not UTF-8 text")


@pytest.mark.parametrize("text", ["[1,,2]", "[,1,2]", "[[1,,2], [3, 4]]", "[pi/4,,1]", "[1, 2,,]"])
def test_an_empty_entry_between_commas_is_refused_never_dropped(text: str) -> None:
    """[1,,2] was read as [1, 2]: a Jacobian at a point the user did not type (found by review). Python refuses
    the list; one trailing comma, which Python allows, still reads."""
    with pytest.raises(JacmagicError, match="empty entry between commas"):
        parse_values(text, "--at x")


def test_one_trailing_comma_in_a_pasted_list_reads_as_python_reads_it() -> None:
    assert np.array_equal(np.asarray(parse_values("[1, 2,]", "--at x"), dtype=float), [1.0, 2.0])
    assert np.array_equal(np.asarray(parse_values("[[1, 2], [3, 4],]", "--at W"), dtype=float), [[1, 2], [3, 4]])
