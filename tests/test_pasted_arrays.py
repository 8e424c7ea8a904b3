"""A pasted array after --at (`W=[[...]]`) is read by a tokenizer a chunk at a time: every number as Python's
float() reads its spelling, every refusal kept (ragged rows, a formula or name inside, nan/inf, too many numbers),
and no Python object per number. Compared with an independent reading written here."""

from __future__ import annotations

import ast
import math
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacmagic import pasted as paste
from jacmagic.errors import CellError
from jacmagic.magic import JacobianMagic, parse_line
from jacmagic.options import parse_point, parse_values
from jacmagic.pasted import plain_array, without_spaces
from jacmagic.read.source import MAX_DECLARED_ENTRIES

from .conftest import Shell

_SPELLINGS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["1e-3", "-0.", "+4", ".5", "5.", "1E+3", "-.25e-2", "007", "+0", "2.5e300", "-1e-300"]),
)


@st.composite
def _pasted(draw: st.DrawFn) -> tuple[str, list[list[str]], bool]:
    """A vector or a matrix written out in some spelling, its rows of tokens, and whether it is a matrix."""
    matrix = draw(st.booleans())
    rows = draw(st.integers(1, 5)) if matrix else 1
    cols = draw(st.integers(1, 6))
    tokens = [[draw(_SPELLINGS) for _ in range(cols)] for _ in range(rows)]
    comma = draw(st.sampled_from([",", ", ", " ,", ",\n "]))
    trailing = draw(st.sampled_from(["", ","]))
    written = ["[" + comma.join(row) + trailing + "]" for row in tokens]
    text = "[" + comma.join(written) + trailing + "]" if matrix else written[0]
    return text, tokens, matrix


def _independent(tokens: list[list[str]], matrix: bool) -> np.ndarray:
    values = np.array([[float(token) for token in row] for row in tokens])
    return values if matrix else values[0]


@settings(max_examples=300, deadline=None)
@given(_pasted(), st.sampled_from([paste._CHUNK, 7, 20]))
def test_a_pasted_array_is_read_as_float_reads_each_spelling_in_its_shape(pasted: tuple[str, list[list[str]], bool],
                                                                         chunk: int) -> None:
    """Over shapes, spellings, spaces, trailing commas and chunk sizes (a chunk of 7 characters cuts rows and
    `],[` anywhere): the same numbers, bit for bit, in the same shape."""
    text, tokens, matrix = pasted
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paste, "_CHUNK", chunk)
        read = plain_array(text)
    want = _independent(tokens, matrix)
    assert read is not None and read.shape == want.shape
    assert np.array_equal(read, want) and np.array_equal(np.signbit(read), np.signbit(want))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.eE+-_", min_size=1, max_size=6), st.sampled_from([paste._CHUNK, 3]))
def test_a_token_is_read_plainly_only_when_it_is_a_plain_finite_number(token: str, chunk: int) -> None:
    """A token of figures, points, e, signs and underscores: read by the tokenizer exactly when it is an ASCII
    decimal number that float() reads to a finite value and has no underscore (`1_000` goes to the formula reader,
    as before); otherwise left to the part-by-part reader (None)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paste, "_CHUNK", chunk)
        read = plain_array(f"[[1,{token}],[{token},2]]")
    try:
        value = float(token) if "_" not in token else None
    except ValueError:
        value = None
    if value is None or not np.isfinite(value):
        assert read is None
    else:
        assert read is not None and np.array_equal(read, [[1.0, value], [value, 2.0]])


@pytest.mark.parametrize("text", ["[[1,2],[3]]", "[[1],[2,3]]", "[[1,2],[3,4],[5]]", "[[1,2,3],[4,5],[6]]"])
def test_a_ragged_pasted_matrix_is_not_read_as_a_rectangle(text: str) -> None:
    """Rows of different lengths, even with the right total, never make a rectangle (also cut in tiny chunks)."""
    with pytest.MonkeyPatch.context() as patch:
        for chunk in (paste._CHUNK, 2, 3, 5):
            patch.setattr(paste, "_CHUNK", chunk)
            assert plain_array(text) is None
    assert parse_values(text, "--at W") == tuple(tuple(float(v) for v in row.split(","))
                                                 for row in re.findall(r"\[([^\[\]]*)\]", text))


def test_a_formula_name_or_non_finite_number_inside_a_paste_is_read_or_refused_as_before() -> None:
    """Formulas and Python spellings go to the part-by-part reader: pi/4 and 1_000 are read, a name, nan and
    1e999 are refused with words."""
    assert parse_values("[1_000, pi/2]", "--at x") == (1000.0, np.pi / 2)
    for text, words in (("[1, y]", "uses the name y"), ("[1, nan]", "nan"), ("[1, 1e999]", "too large")):
        with pytest.raises(CellError, match=words):
            parse_values(text, "--at x")


def test_more_than_ten_million_pasted_numbers_are_refused_before_reading() -> None:
    """Counted from the commas, before anything is built."""
    text = "[" + "0," * MAX_DECLARED_ENTRIES + "0]"
    with pytest.raises(CellError, match="over the 10,000,000"):
        parse_values(text, "--at W")


def test_a_pasted_array_is_read_in_about_the_memory_of_the_array() -> None:
    """10^6 numbers (20 MB of text, an 8 MB array): the reader's peak beside the text is under twice the array's
    (a Python list of 10^6 strings, as before, alone took 60 MB)."""
    values = np.random.default_rng(3).standard_normal((1000, 1000))
    text = "W=[" + ",".join("[" + ",".join(map(repr, row.tolist())) + "]" for row in values) + "]"
    tracemalloc.start()
    try:
        (name, read), = parse_point(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert name == "W" and np.array_equal(read, values)
    assert peak < len(text) + 2 * values.nbytes  # the value's text is cut from the option once


@pytest.fixture(scope="session")
def magic(shell: Shell) -> JacobianMagic:
    return JacobianMagic(shell=shell.ip)


def _at(magic: JacobianMagic, line: str) -> tuple[tuple[str, object], ...]:
    return magic._options(parse_line(magic.jacobian, line), {}).at  # type: ignore[no-any-return]


@pytest.mark.parametrize("line", ["--at x=[1 2]", "--at x=[1, 2 3]", "--at x=[[1 2],[3 4]]", "--at x=[ 1.5  -2e3 ]",
                                  "--at x=[[1,2],\n [3 4]]"])
def test_numbers_side_by_side_as_numpy_prints_them_are_refused_never_joined(magic: JacobianMagic, line: str) -> None:
    """`[1 2]` (numpy's print of an array) was read as [12]: its spaces were deleted before reading. Now a space
    between two parts of numbers stays, and the part is refused with how to write it."""
    with pytest.raises(CellError, match=r"numbers in brackets are separated by commas, \[1, 2\]"):
        _at(magic, line)


@settings(max_examples=100, deadline=None)
@given(_pasted(), st.sampled_from(["", " ", "  ", "\n ", "\t"]))
def test_a_pasted_array_through_the_option_line_is_read_as_float_reads_each_spelling(
        magic: JacobianMagic, pasted: tuple[str, list[list[str]], bool], space: str) -> None:
    """The magic's own path (the value set aside while IPython splits the line, its spaces dropped): spaces beside
    brackets too, and the same numbers in the same shape as read here."""
    text, tokens, matrix = pasted
    text = text.replace("[", f"[{space}").replace("]", f"{space}]")
    (name, read), = _at(magic, f"--at W = {text}")
    want = _independent(tokens, matrix)
    assert name == "W" and np.array_equal(np.asarray(read), want)


@pytest.mark.parametrize(("line", "want"), [("--at x=[1 - 2, 3]", [-1.0, 3.0]), ("--at x=[pi / 4, 2 * 3]",
                                                                                   [math.pi / 4, 6.0]),
                                            ("--at x=[ -1 , +2e-3 ]", [-1.0, 2e-3])])
def test_spaces_in_a_formula_inside_brackets_are_read_as_python_reads_them(magic: JacobianMagic, line: str,
                                                                           want: list[float]) -> None:
    (_, read), = _at(magic, line)
    assert np.allclose(np.asarray(read, dtype=float), want, rtol=1e-15, atol=0)


def _meaning(text: str) -> str | None:
    """What Python reads `text` as (None: not Python)."""
    try:
        return ast.dump(ast.parse(text, mode="eval"))
    except SyntaxError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="12x.e+-*/=<, \n\t[]()", min_size=1, max_size=14))
def test_dropping_spaces_never_changes_what_python_reads(text: str) -> None:
    """The spaces a pasted (bracketed) value loses change nothing Python reads: the same expression, or both not
    Python (a space between two numbers is kept, so `1 2` stays an error and `1 -2` a difference, as typed)."""
    assert _meaning(without_spaces(f"[{text}]")) == _meaning(f"[{text}]")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab,()[]{} ", max_size=30), st.sampled_from([0, 10**9]))
def test_brackets_are_found_in_order_by_either_search(text: str, sparse: int) -> None:
    """str.find leaping to each bracket (sparse ones, a pasted matrix) or one regex pass (dense ones): the same
    brackets at the same places, in order, as a character by character walk written here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paste, "_SPARSE", sparse)
        found = list(paste.brackets(text))
    assert found == [(at, ch) for at, ch in enumerate(text) if ch in "()[]{}"]
