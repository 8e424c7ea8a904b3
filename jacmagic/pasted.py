"""Pasted values: a bracketed array of plain numbers read by numpy's tokenizer a chunk at a time, and the option
line's bracketed values set aside while IPython splits it. A pasted 10,000 x 1,000 matrix is 200 MB of text: nothing
here steps through it character by character in Python or a regex engine, or makes a Python object per number."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

from jacmagic.lazy import np

_BRACKETS = re.compile(r"[()\[\]{}]")
# Brackets fewer than one in this many characters are found by str.find, which leaps to each (a memchr), 17 times
# faster than a regex engine's step by character over a pasted matrix (two a row of a thousand numbers); denser
# ones (a column [[1], [2], ...]) by one regex pass, as each found costs a Python step either way.
_SPARSE = 1000


def brackets(text: str) -> Iterator[tuple[int, str]]:
    """Each bracket of `text` with its position, in order."""
    if text.count("[") * _SPARSE > len(text):  # one count: a long text is a pasted array
        yield from ((found.start(), found.group()) for found in _BRACKETS.finditer(text))
        return
    waiting = {ch: at for ch in "()[]{}" if (at := text.find(ch)) >= 0}
    while waiting:
        ch = min(waiting, key=waiting.__getitem__)
        at = waiting[ch]
        yield at, ch
        waiting[ch] = text.find(ch, at + 1)
        if waiting[ch] < 0:
            del waiting[ch]


NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# What a plain array holds between its brackets; a chunk of this many characters is read at a time.
_FIGURES = b"0123456789.eE+-,"
_CHUNK = 1 << 20


def plain_array(text: str) -> np.ndarray | None:
    """A vector `[1, -2.5e3]` or a matrix with rows of one length, of plain finite numbers only (each as `NUMBER`
    spells it, as before: no `1_000`, no digits of other scripts), read by numpy's tokenizer a chunk at a time,
    never evaluated and never a Python object per number (10^7 pasted numbers in about a second, in little more
    memory than the array); None for anything else (a formula, a ragged or empty row), which the reader part by
    part takes or words."""
    if not text.isascii():
        return None
    read = _plain(text)
    if read is None and _SPACES.search(text):  # spaces beside commas and brackets, never inside a number
        read = _plain(without_spaces(text))
    return read


def _plain(text: str) -> np.ndarray | None:
    """`plain_array` of a text without spaces. Its shape is read from counts alone: the brackets are the outer
    ones and one `],[` between rows, and `_read` checks where each row ends."""
    if ",]" in text:
        text = text.replace(",]", "]")  # a trailing comma, as Python writes it; `,,]` is still refused
    depth = 2 if text.startswith("[[") else 1
    rows = text.count("],[") + 1 if depth == 2 else 1
    brackets = rows + depth - 1
    if not (text.startswith("[") and text.endswith("]" * depth) and text.count("[") == brackets
            and text.count("]") == brackets):
        return None
    total = text.count(",") + 1  # each `],[` holds one comma
    if total % rows:
        return None
    numbers = np.empty(total)
    if not _read(text, depth, len(text) - depth, numbers, total // rows) or not np.isfinite(numbers).all():
        return None
    return numbers.reshape(rows, -1) if depth == 2 else numbers


def _read(text: str, start: int, stop: int, out: np.ndarray, columns: int) -> bool:
    """Reads the numbers of text[start:stop] (separated by commas, rows by `],[`) into `out`, a chunk at a time;
    False where a piece is not a plain number or a row does not end after a multiple of `columns` numbers."""
    filled = 0
    while start < stop:
        end = _cut(text, start, stop)
        piece = text[start:end]
        start = end + 1
        row_ends = end < stop and piece.endswith("]")  # cut at the comma of a `],[`
        piece = piece.removeprefix("[").removesuffix("]") if row_ends or piece.startswith("[") else piece
        count = _read_piece(piece, out[filled:])
        if count is None:
            return False
        if "]" in piece:
            codes = np.frombuffer(piece.encode(), np.uint8)
            ends = filled + 1 + np.searchsorted(np.flatnonzero(codes == ord(",")), np.flatnonzero(codes == ord("]")))
            if (ends % columns).any():
                return False
        filled += count
        if row_ends and filled % columns:
            return False
    return filled == out.size


def _cut(text: str, start: int, stop: int) -> int:
    """Where the chunk from `start` ends: `stop`, or the last comma within `_CHUNK` characters (the first after
    them if a number is longer)."""
    if stop - start <= _CHUNK:
        return stop
    cut = text.rfind(",", start + 1, start + _CHUNK)
    cut = cut if cut > 0 else text.find(",", start + _CHUNK, stop)
    return stop if cut < 0 else cut


def _read_piece(piece: str, out: np.ndarray) -> int | None:
    """Reads a piece of plain numbers (rows separated by `],[`) into the start of `out`: how many, or None."""
    flat = piece.replace("],[", ",")
    if not flat or flat.encode().translate(None, _FIGURES) or flat[0] == "," or flat[-1] == "," or ",," in flat:
        return None  # numpy would read a trailing comma as one more number, of whatever the memory held
    try:  # read to its end (given a count, numpy leaves the rest unread and unchecked: `1,2x`)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # numpy < 2: text left unread, a warning
            read = np.fromstring(flat, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if read.size != flat.count(",") + 1 or read.size > out.size:
        return None
    out[:read.size] = read
    return read.size


def bracket_depth(text: str) -> int:
    depth = deepest = 0
    for _, ch in brackets(text):
        if ch in "[]":
            depth += 1 if ch == "[" else -1
            deepest = max(deepest, depth)
    return deepest


_ASIDE = "\ue000{}\ue001"  # private-use characters: a placeholder no option text contains
_ASIDE_FOUND = re.compile(r"(?:\ue000|\\ue000)(\d+)(?:\ue001|\\ue001)")  # also as repr() escapes it in a message


def set_aside(line: str) -> tuple[str, list[str]]:
    """The option line with each bracketed value replaced by a placeholder, and those values (spaces dropped).
    IPython's argument splitter reads a line character by character: a pasted 784 x 128 matrix took it a minute,
    set aside it takes none of its time."""
    kept: list[str] = []
    values: list[str] = []
    depth = start = last = 0
    for at, ch in brackets(line):
        if ch == "[":
            start = at if depth == 0 else start
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                kept += [line[last:start], _ASIDE.format(len(values))]
                values.append(without_spaces(line[start:at + 1]))
                last = at + 1
    return "".join(kept) + line[last:], values


# Every character Python counts as a space (`\s` of str patterns is exactly str.isspace), and those of ASCII.
_SPACES = re.compile(r"\s+")
_ASCII_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_WORD = re.compile(r"[\w.]")
_SEPARATORS = ",()[]{}"


def without_spaces(text: str) -> str:
    """`text` with the spaces beside commas and brackets deleted; where deleting the others would make a token of
    two (a number or name and another or a sign, `* *`), those stay as one space: `[1 2]` or `[1 -2]` (as numpy
    prints a vector) is then refused, never read as [12] or [-1]. ASCII text without such a space loses every space
    by str.replace (200 MB of 10^7 pasted numbers in a fraction of a second; one regex pass over it took 2.5 s,
    splitting it at spaces 700 MB of pieces); other text by a regex."""
    if text.isascii():
        spaceless = text
        for space in _ASCII_SPACES:
            if space in spaceless:
                spaceless = spaceless.replace(space, "")
        if spaceless is text or not _joining(text):
            return spaceless
    return _SPACES.sub(_kept, text)


# Each ASCII character as 2 (a part of a number or name), 1 (a sign), 3 (a space), 4 (a character of an operator
# that two make one of: `* *` is not `**`) or 0 (anything else).
_CLASSES = bytes(2 if _WORD.match(chr(code)) else 1 if chr(code) in "+-" else 3 if chr(code).isspace() else
                 4 if chr(code) in "*/<>=!%&|^@:" else 0 for code in range(256))


def _joining(text: str) -> bool:
    """Does ASCII `text` have a space that deleting would make a token of two (between two parts of numbers or
    names, one and a sign, or two characters of operators)? Told by numpy over its characters' classes, a chunk at
    a time."""
    before = np.zeros(0, np.uint8)
    for start in range(0, len(text), _CHUNK):
        chunk = np.frombuffer(text[start:start + _CHUNK].encode().translate(_CLASSES), np.uint8)
        classes = np.concatenate([before, chunk])
        repeated = (classes[1:] == 3) & (classes[:-1] == 3)
        if repeated.any():  # a run of spaces as one
            classes = classes[np.concatenate([[True], ~repeated])]
        first, spaced, after = classes[:-2], classes[1:-1] == 3, classes[2:]
        if (spaced & (((first == 2) & ((after == 1) | (after == 2))) | ((first == 4) & (after == 4)))).any():
            return True
        before = classes[-2:]
    return False


def _kept(run: re.Match[str]) -> str:
    """A run of spaces: none beside a comma or bracket, else one (Python reads `1 - 2` as typed, and refuses `1 2`)."""
    text, start, end = run.string, run.start(), run.end()
    kept = 0 < start and end < len(text) and text[start - 1] not in _SEPARATORS and text[end] not in _SEPARATORS
    return " " if kept else ""


def put_back(text: str, values: list[str]) -> str:
    """An option's text with the values `set_aside` took out back in place."""
    return _ASIDE_FOUND.sub(lambda found: values[int(found.group(1))], text)
