"""Option values -> data: `--at r=1,theta=pi/4`, `--wrt z,x`, `--range r=0:5`. Values are formulas without
variables, read by the same safe reader as cells."""

from __future__ import annotations

import ast
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, cast

import sympy as sp
from sympy.core.cache import clear_cache

from jacmagic.budget import time_limit
from jacmagic.chain.functions import KNOWN_CONSTANTS
from jacmagic.errors import BudgetExceeded, CellError, OptionError
from jacmagic.finite import all_finite, finite_array
from jacmagic.lazy import np
from jacmagic.model import Mode, Options
from jacmagic.option_words import quoted
from jacmagic.pasted import NUMBER, bracket_depth, brackets, plain_array
from jacmagic.read.formula import ExpressionBuilder
from jacmagic.read.names import as_typed, suggest
from jacmagic.read.source import MAX_DECLARED_ENTRIES, prepare

# Evaluating one option value takes far less: only a number far beyond a double takes longer (sympy then works
# with its millions of digits).
_EVALUATION_SECONDS = 1.0


def _split_top_level(text: str) -> list[str]:
    """Splits at commas outside brackets, empty parts kept: `r=1, theta=atan2(1, 2)` has two parts. (Only the
    commas between brackets are looked for: a pasted matrix's ten million are never visited.)"""
    parts: list[str] = []
    depth = start = stretch = 0
    for at, ch in [*brackets(text), (len(text), "(")]:
        if depth == 0:
            comma = text.find(",", stretch, at)
            while comma >= 0:
                parts.append(text[start:comma])
                start = comma + 1
                comma = text.find(",", start, at)
        depth += 1 if ch in "([{" else -1
        stretch = at + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _parts(text: str) -> list[str]:
    """The parts of an option's list (`r=1, theta=2`), empty ones skipped."""
    return [part for part in _split_top_level(text) if part]


def parse_number(text: str, what: str) -> float:
    """A finite real number written as a formula without variables: `1.5`, `-2`, `pi/4`, `sqrt(2)/2`, `2^-3`."""
    return float(parse_exact(text, what))


def parse_exact(text: str, what: str) -> sp.Expr:
    """Like `parse_number`, but kept exact as typed (pi/2 stays pi/2), for showing the point as the user wrote it.
    Building and evaluating it has a time limit: sympy evaluates exp(exp(exp(exp(3)))) digit by digit, without
    end, and a value beyond a double is refused anyway."""
    shown = quoted(text)
    too_large = CellError(f"{what}: {shown} is too large for a floating-point number (at most about 1.8e308)")
    try:
        prepared = prepare(text)
        tree = ast.parse(prepared.source.strip(), mode="eval")
    except (SyntaxError, CellError, RecursionError, MemoryError, ValueError) as err:
        if "Exceeds the limit" in str(err):  # a whole number of over 4,300 digits: Python will not read it
            raise too_large from None
        raise CellError(f"{what}: {shown} is not a number") from None

    def resolve(name: str, node: ast.Name) -> sp.Expr:
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        raise CellError(f"{shown} is not a number (it uses the name {name})")

    builder = ExpressionBuilder(1, resolve, {}, lambda line, col: col)
    try:
        with time_limit(_EVALUATION_SECONDS):
            exact = builder.scalar(tree.body)
            value = complex(exact.evalf())
    except BudgetExceeded:
        clear_cache()  # the alarm may have landed inside sympy, half-way through filling a cache entry
        raise too_large from None
    except CellError as err:  # said about the value, not about a line of a cell
        raise CellError(f"{what}: {err.message}") from None
    except RecursionError:
        raise CellError(f"{what}: {shown} is nested too deeply") from None
    except OverflowError:  # mpmath: a number with more digits than Python allows in an int
        raise too_large from None
    except (TypeError, ValueError):
        raise CellError(f"{what}: {shown} is not a number") from None
    if value.imag != 0 or value.real != value.real:
        raise CellError(f"{what}: {shown} is not a real number")
    if not math.isfinite(value.real):
        raise too_large
    return exact


def namespace_value(name: str, value: Any, what: str) -> Any:
    """A point value taken from the notebook: a number, a list or a numpy array, converted by numpy alone (no
    method of an arbitrary object is called)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple, np.ndarray, np.number)):
        raise CellError(f"{what}: {name} is a {type(value).__name__}; give a number, a list or a numpy array")
    if isinstance(value, np.ndarray) and value.size > MAX_DECLARED_ENTRIES:  # refused before it is copied
        raise CellError(f"{what}: {name} holds {value.size:,} numbers, over the {MAX_DECLARED_ENTRIES:,} an array "
                        "may hold")
    return point_value(value, f"{what}: {name}")


def point_value(value: Any, what: str, finite: bool = True) -> Any:
    """A value of a point as a float, or an array of doubles (a whole array, or many points at once)."""
    array = real_array(value, what, finite)
    return float(array) if array.ndim == 0 else array


def points_shape(values: Mapping[str, Any]) -> tuple[int, ...]:
    """The shape the numpy arrays among `values` broadcast to (arrays of points), or a refusal naming them."""
    arrays = {name: np.shape(v) for name, v in values.items() if isinstance(v, np.ndarray)}
    try:
        return np.broadcast_shapes(*arrays.values())
    except ValueError:
        raise OptionError("at: the arrays of points " + ", ".join(f"{n} ({' x '.join(map(str, s))})" for n, s in
                                                                   arrays.items() if s)
                          + " do not broadcast together: give them shapes numpy broadcasts") from None


def real_array(value: Any, what: str, finite: bool = True, copy: bool = True) -> np.ndarray:
    """`value` as an array of doubles, finite ones if `finite`: a complex value is refused (a cast would drop its
    imaginary part), and so is a number a double cannot hold (10**400). An array of doubles is taken as it is
    (copied only if `copy`: a value kept must not change with the notebook's array)."""
    if type(value) is np.ndarray and value.dtype == np.float64:  # not a subclass: np.matrix's * is @
        converted = value.copy() if copy else value
    else:
        converted = _converted(value, what)
    if finite:
        refuse_not_finite({what: converted})
    return converted


def refuse_not_finite(arrays: Mapping[str, np.ndarray]) -> None:
    """An error naming the first array holding a value that is not a finite number."""
    if all_finite(arrays.values()):
        return
    what = next(what for what, array in arrays.items() if not finite_array(array))
    raise OptionError(f"{what} holds a value that is not a finite number")


def _converted(value: Any, what: str) -> np.ndarray:
    too_large = f"{what} holds a number too large for a floating-point number (at most about 1.8e308)"
    if isinstance(value, sp.Basic):
        value = _sympy_number(value, what)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise OptionError(f"{what} does not hold numbers only, in rows of one length") from None
    if array.dtype.kind == "c" or (array.dtype.kind == "O" and any(isinstance(v, complex) for v in array.flat)):
        raise OptionError(f"{what} holds complex numbers: a point has real numbers only")
    if array.dtype.kind not in "biufO" or (array.dtype.kind == "O" and not all(
            isinstance(v, (int, float, np.number)) for v in array.flat)):
        raise OptionError(f"{what}: {quoted(str(value))} is not a number" if array.ndim == 0 else
                          f"{what} does not hold numbers only")
    try:
        with np.errstate(over="ignore"):
            converted = array.astype(float)
    except OverflowError:  # a Python int beyond a double
        raise OptionError(too_large) from None
    if array.dtype.kind == "f" and (np.isinf(converted) & np.isfinite(array)).any():  # a long double beyond it
        raise OptionError(too_large)
    return converted


def _sympy_number(value: sp.Basic, what: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{what}: {quoted(str(value))} is not a number") from None


@contextmanager
def naming(option: str) -> Iterator[None]:
    """An `OptionError` raised inside is said about `option`: `--at W is 2 x 3, ...`."""
    try:
        yield
    except OptionError as err:
        raise OptionError(f"{option} {err.message}") from None


def shaped_array(name: str, value: Any, shape: tuple[int, int], stack: int = 1, copy: bool = True,
                 finite: bool = True) -> np.ndarray:
    """A whole declared array given by `name` (a number, a nested list, a numpy array) in its declared shape,
    finite (unless `finite` is False: `refuse_not_finite` checks many at once). Another shape is refused, never
    reshaped: a 3 x 2 matrix is not a 2 x 3 one read row by row. A vector of n values fits n x 1 and 1 x n; a batch
    of `stack` images (`x: 32x8x8`) is given in numpy's 3-axis shape and worked on as its stack along the rows."""
    array = real_array(value, name, finite, copy)
    if array.shape == shape and stack == 1:
        return array
    rows, cols = shape
    count = rows * cols
    if stack > 1:
        if array.shape != (stack, rows // stack, cols):
            got = " x ".join(map(str, array.shape)) or "one number"
            raise OptionError(f"{name} is {stack} x {rows // stack} x {cols} (a batch of {stack} images), so it needs "
                              f"{count:,} values in that shape, got {got}")
        return array.reshape(shape)
    if not (array.shape == shape or (array.ndim < 2 and array.size == count and 1 in shape)):
        raise OptionError(f"{name} is {rows} x {cols}, so it needs {count:,} value{'s' * (count != 1)} in that "
                          f"shape, got {' x '.join(map(str, array.shape)) or 'one number'}")
    return array.reshape(shape)


def shapes_taken(shape: tuple[int, int], stack: int = 1) -> dict[tuple[int, ...], tuple[int, int]]:
    """The numpy shapes `shaped_array` takes for an array of `shape` (and `stack` images), each to `shape`: for
    reading a point without its checks when every value is already an array of doubles in one of them."""
    rows, cols = shape
    if stack > 1:
        return {(stack, rows // stack, cols): shape}
    taken: dict[tuple[int, ...], tuple[int, int]] = {shape: shape}
    if 1 in shape:
        taken[(rows * cols,)] = shape
    if rows * cols == 1:
        taken[()] = shape
    return taken


def parse_values(text: str, what: str, namespace: Mapping[str, Any] | None = None) -> Any:
    """A number, for a declared matrix a bracketed (nested) list of numbers (`[[1, 2], [3, pi]]`), or the name
    of a number, list or array in the notebook. A pasted array of plain numbers is read by a tokenizer (a pasted
    784 x 128 matrix in a second, not one sympy formula per number); one with formulas (pi/4) number by number."""
    text = text.strip()
    if not text.startswith("["):
        name = unicodedata.normalize("NFKC", text)
        if namespace is not None and name.isidentifier() and name not in KNOWN_CONSTANTS and name in namespace:
            return namespace_value(name, namespace[name], what)
        return _numbers(text, what, namespace, parse_exact)
    if not text.endswith("]"):
        raise CellError(f"{what}: {quoted(text)} has an unclosed bracket")
    entries = text.count(",") + 1  # the size, estimated before anything is built
    if entries > MAX_DECLARED_ENTRIES:
        raise CellError(f"{what}: about {entries:,} numbers pasted, over the {MAX_DECLARED_ENTRIES:,} an array may "
                        "hold")
    plain = plain_array(text)  # None for brackets nested deeper
    if plain is not None:
        return plain
    depth = bracket_depth(text)
    if depth > 2:
        raise CellError(f"{what}: {quoted(text)} nests brackets {depth} deep; a value is a number, "
                        "a vector [1, 2] or a matrix [[1, 2], [3, 4]]")
    return _numbers(text, what, namespace, _bracketed)


def _numbers(text: str, what: str, namespace: Mapping[str, Any] | None, read: Callable[[str, str], Any]) -> Any:
    """`read(text, what)`; where the formula refused is Python (np.ones(3), W0*2), the way to give it instead:
    a point's value is numbers, or the name of a notebook variable, never Python run for it."""
    try:
        return read(text, what)
    except CellError:
        if namespace is None or not _python_value(text, namespace):
            raise
        raise CellError(f"{what}: a value is numbers or a notebook variable: assign {text} to a name in the "
                        f"notebook and write {what}=NAME") from None


def _python_value(text: str, namespace: Mapping[str, Any]) -> bool:
    """Is `text` Python rather than a formula of numbers: a method or module function called (np.ones(3)), an
    item taken, or a notebook variable computed with?"""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(node, (ast.Attribute, ast.Subscript)) or (isinstance(node, ast.Name) and node.id in namespace)
               for node in ast.walk(tree))


def _bracketed(text: str, what: str) -> tuple[Any, ...]:
    """A bracketed list whose parts are numbers, formulas or bracketed lists, part by part."""
    parts: list[Any] = []
    written = _split_top_level(text[1:-1])
    if written[-1] == "" and len(written) > 1:
        written.pop()  # one trailing comma, as Python allows: [1, 2,]
    if "" in written and written != [""]:  # [1,,2] and [,1] were read as [1, 2]: a point the user did not type
        raise CellError(f"{what}: {quoted(text)} has an empty entry between commas; write a number in each place")
    for part in (part for part in written if part):
        number = float(part) if NUMBER.fullmatch(part) else math.nan
        if math.isfinite(number):
            parts.append(number)
        elif part.startswith("["):
            parts.append(_bracketed(part, what) if part.endswith("]") else parse_values(part, what))
        elif len(part.split()) > 1 and all(NUMBER.fullmatch(w) for w in part.split()):  # `1 2`, as numpy prints
            raise CellError(f"{what}: {quoted(part)} is not a number: numbers in brackets are separated by commas, "
                            "[1, 2] (numpy prints [1 2])")
        else:
            parts.append(float(parse_exact(part, what)))
    return tuple(parts)


def parse_point(text: str, namespace: Mapping[str, Any] | None = None,
                option: str = "--at") -> tuple[tuple[str, Any], ...]:
    """`r=1, theta=pi/2` -> (("r", 1.0), ("theta", 1.5707...)), for --at (and --direction, written alike)."""
    example = "r=1,theta=pi/4" if option == "--at" else "x=1,y=0"
    point: dict[str, Any] = {}
    for part in _parts(text):
        name, equals, value = part.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())
        if not equals or not name.isidentifier():
            raise CellError(f"{option} takes name=value pairs separated by commas, e.g. {option} {example}; "
                            f"got {quoted(part)}")
        if name in point:
            raise CellError(f"{option} gives {name} twice")
        point[name] = parse_values(value, f"{option} {name}", namespace)
    if not point:
        raise CellError(f"{option} takes name=value pairs, e.g. {option} {example}")
    return tuple(point.items())


MODES = ("reverse", "forward", "both")


def chain_mode(mode: str | None, direction: tuple[tuple[str, Any], ...]) -> Mode:
    """--mode, defaulting to reverse mode, or to forward mode when a --direction (its tangent) is given."""
    if mode is None:
        return "forward" if direction else "reverse"
    if mode not in MODES:
        raise CellError(f"--mode takes reverse, forward or both, got {mode!r}")
    if direction and mode == "reverse":
        raise CellError("--direction is the tangent that forward mode pushes through the chain; reverse mode has "
                        "none: use --mode forward or --mode both")
    return cast(Mode, mode)


def parse_names(text: str) -> tuple[str, ...]:
    """`z, x` -> ("z", "x"), for --wrt."""
    names = tuple(unicodedata.normalize("NFKC", n) for n in _parts(text))
    bad = [n for n in names if not n.isidentifier()]
    if bad or not names:
        raise CellError(f"--wrt takes variable names separated by commas, e.g. --wrt r,theta; got {quoted(text)}")
    return names


def parse_ranges(text: str, option: str = "--range") -> tuple[tuple[str, float, float], ...]:
    """`r=0:5, theta=0:2*pi` -> (("r", 0.0, 5.0), ("theta", 0.0, 6.28...)), for --range and --domain."""
    ranges = []
    for part in _parts(text):
        name, equals, span = part.partition("=")
        low, colon, high = span.partition(":")
        name = unicodedata.normalize("NFKC", name.strip())
        if not (equals and colon and name.isidentifier()):
            raise CellError(f"{option} takes name=low:high pairs, e.g. {option} r=0:5,theta=0:2*pi; got {quoted(part)}")
        lo, hi = parse_number(low, f"{option} {name}"), parse_number(high, f"{option} {name}")
        if not lo < hi:
            raise CellError(f"{option} {name}: the low end must be below the high end")
        if option == "--domain":
            refuse_undrawable(name, lo, hi)
        ranges.append((name, lo, hi))
    return tuple(ranges)


# A drawable range: wide enough that its grid points differ as doubles and its areas do not underflow, narrow
# enough that they do not overflow.
_WIDTH = (1e-100, 1e100)
WIDEST = _WIDTH[1]
_RELATIVE_WIDTH = 1e-9


def drawable(lo: float, hi: float) -> bool:
    """Can a grid be laid on lo:hi (the pictures', the area check's)?"""
    width = hi - lo
    return _WIDTH[0] <= width <= _WIDTH[1] and width >= _RELATIVE_WIDTH * max(abs(lo), abs(hi))


def refuse_undrawable(name: str, lo: float, hi: float, what: str = "--domain ") -> None:
    """A range given by `what` a grid can be laid on, else refused naming `what` gave it."""
    if not drawable(lo, hi):
        raise CellError(f"{what}{name}={lo:g}:{hi:g} cannot be used: a range needs low < high, a width between "
                        f"{_WIDTH[0]:g} and {_WIDTH[1]:g} and above a billionth of its ends' size")


def spelled_as_typed(options: Options, known: Iterable[str]) -> Options:
    """`options` with each name the cell spells otherwise but shows alike (θ for theta) put as the cell spells
    it: --wrt θ,r on a cell written with theta names its column as the display shows it."""
    known = list(known)

    def pairs(given: tuple[tuple[Any, ...], ...]) -> Any:
        return tuple((as_typed(name, known), *rest) for name, *rest in given)

    return replace(options, wrt=tuple(as_typed(name, known) for name in options.wrt), at=pairs(options.at),
                   direction=pairs(options.direction), ranges=pairs(options.ranges), domain=pairs(options.domain))


def unknown_wrt(name: str, variables: Sequence[str], computed: Sequence[str]) -> OptionError:
    """--wrt names something that is not a variable: say what it is, the nearest name, and the variables."""
    why = " is computed in the cell, not an input;" if name in computed else " is not a variable of this map"
    return OptionError(f"--wrt: {name}{why}" + suggest(name, list(variables)) +
                       f"; the variables are {', '.join(variables)}")


def refuse_repeated_wrt(wrt: Sequence[str]) -> None:
    repeated = next((name for k, name in enumerate(wrt) if name in wrt[:k]), None)
    if repeated is not None:
        raise OptionError(f"--wrt names {repeated} twice")


def direction_column(given: Mapping[str, Any], variables: Sequence[str], constants: Sequence[str],
                     zero: Callable[[str], Any]) -> np.ndarray:
    """--direction as one column over the variables (in order, arrays row-major), for both kinds of result: a
    variable not given moves by `zero(name)`; a constant or an unknown name, and a direction that is not finite or
    is all 0, are refused."""
    for name in given:
        if name not in variables:
            why = " is a constant: only the variables differentiated by move" if name in constants else \
                " is not a variable of this map" + suggest(name, list(variables))
            raise OptionError(f"--direction: {name}{why}; the variables are {', '.join(variables)}")
    column = np.concatenate([np.ravel(given.get(name, zero(name))).astype(float) for name in variables])
    if not np.isfinite(column).all() or not column.any():
        raise OptionError("--direction needs finite numbers, not all 0 (the direction to move the inputs in)")
    return column[:, None]
