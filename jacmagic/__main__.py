"""`python -m jacmagic 'f(x, y) = [x**2*y, 5*x + sin(y)]' --det`: the main job without a notebook."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from jacmagic.errors import JacmagicError
from jacmagic.model import Options
from jacmagic.option_words import Once, given_options, joined, pairs_joined, refuse_unused, unexpected
from jacmagic.options import chain_mode, parse_names, parse_point, parse_ranges
from jacmagic.pipeline import compute
from jacmagic.views.render import lines_whole

_HELP_HINT = "python -m jacmagic --help lists the options"
# Options of the %%jacobian magic that a user may bring to the command line.
_ELSEWHERE = {option: "an option of the %%jacobian magic in IPython, not of the command line"
              for option in ("--out", "--no-widgets", "--range", "--no-continuous-update")}
_LISTS = ("--wrt", "--at", "--direction", "--domain")  # given several times, or split at spaces: joined


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other mistake: argparse's usage block would bury it."""
        print(f"error: {message}; {_HELP_HINT}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m jacmagic", allow_abbrev=False, description="Print the Jacobian of a map, as "
                     "text and as LaTeX source. Lines of the map may also be separated by ';'.")
    parser.add_argument("cell", help="the map, e.g. 'f(x, y) = [x**2*y, 5*x + sin(y)]' or "
                                     "'x = r*cos(theta); y = r*sin(theta)'; '-' reads it from standard input")
    parser.add_argument("--det", action="store_true", help="also show the determinant")
    parser.add_argument("--latex", action="store_true", help="also print the LaTeX source (for a paper or slides)")
    parser.add_argument("--hessian", action="store_true", help="also show the Hessian of each output")
    parser.add_argument("--wrt", action="append", help="variables to differentiate by, comma separated")
    parser.add_argument("--at", action="append", help="a point, e.g. r=1,theta=pi/4")
    parser.add_argument("--partials", action="store_true", help="also the textbook matrix of the partials' symbols")
    parser.add_argument("--simplify", action=Once, choices=["auto", "full", "none"], default="auto",
                        help="auto (default): the determinant within the budget; full: every entry too; none: "
                             "the raw derivatives")
    parser.add_argument("--check", action="store_true", help="compare with central finite differences at 3 points")
    parser.add_argument("--chain", action="store_true", help="the backprop walkthrough, stage by stage")
    parser.add_argument("--mode", action=Once, choices=["reverse", "forward", "both"],
                        help="with --chain: reverse mode (default), forward mode, or both, with their costs")
    parser.add_argument("--direction", action="append", help="with --chain: forward mode along one direction, e.g. x=1")
    parser.add_argument("--budget", action=Once, type=float, help=f"seconds (default {Options.budget:g})")
    parser.add_argument("--memory", action=Once, type=float, metavar="GB", help="memory a --chain walkthrough may "
                        f"hold (estimated before anything is allocated; default {Options.memory:g})")
    parser.add_argument("--plot", action=Once, metavar="PNG", help="also draw the --plot picture into this PNG file")
    parser.add_argument("--domain", action="append", help="the plotted region, e.g. r=0:2,theta=0:2*pi")
    args, extra = parser.parse_known_args(pairs_joined(sys.argv[1:] if argv is None else argv, _LISTS))
    if extra:
        print(f"error: {unexpected(extra[0], parser, _ELSEWHERE, _HELP_HINT)}", file=sys.stderr)
        return 2
    try:
        cell = cell_lines(_stdin_text() if args.cell == "-" else _utf8(args.cell, "the cell"))
    except UnicodeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.plot and not _writable(args.plot):
        print(f"error: --plot: cannot write {args.plot} (no such folder, or no permission)", file=sys.stderr)
        return 2
    try:
        refuse_unused(given_options(parser, args))
        direction = parse_point(joined([args.direction]), option="--direction") if args.direction else ()
        options = Options(det=args.det, wrt=parse_names(joined([args.wrt])) if args.wrt else (),
                          at=parse_point(joined([args.at])) if args.at else (), simplify=args.simplify,
                          partials=args.partials, check=args.check, chain=args.chain, widgets=False,
                          budget=Options.budget if args.budget is None else args.budget,
                          memory=Options.memory if args.memory is None else args.memory, plot=bool(args.plot),
                          domain=parse_ranges(joined([args.domain]), "--domain") if args.domain else (),
                          hessian=args.hessian, mode=chain_mode(args.mode, direction),
                          direction=direction)
        result = compute(cell, options)
        with lines_whole(not sys.stdout.isatty()):  # a file or a pipe: each line whole, for programs that read it
            print(result)
        if args.latex:
            print()
            print(result.latex())
        if args.plot:
            from jacmagic.views.plot import png

            picture = png(result.plot(), dpi=100)
            try:
                Path(args.plot).write_bytes(picture)
            except OSError as err:
                print(f"error: --plot: cannot write {args.plot}: {err.strerror or err}", file=sys.stderr)
                return 2
            print(f"\npicture written to {args.plot}")
    except JacmagicError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def cell_lines(cell: str) -> str:
    """A one-line cell with its lines separated by ';' (a ';' in the trailing comment is part of the comment)."""
    if "\n" in cell:
        return cell
    code, hash_sign, comment = cell.partition("#")
    *lines, last = code.split(";")
    return "\n".join([line.strip() for line in lines] + [last.lstrip() + hash_sign + comment])


def _stdin_text() -> str:
    """The cell from standard input, read as bytes: a text stream would turn bytes that are not UTF-8 into
    lone surrogates, which the parser then misreports."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as err:
        raise UnicodeError(f"the standard input is not UTF-8 text (byte {data[err.start]:#04x} at position "
                           f"{err.start})") from None


def _utf8(text: str, what: str) -> str:
    """A command-line argument as text: bytes that are not UTF-8 reach Python as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise UnicodeError(f"{what} is not UTF-8 text (at position {err.start})") from None
    return text


def _writable(path: str) -> bool:
    """Can a file be written at `path`? Asked before any work, so a typo in the folder costs nothing."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        return False
    return folder.is_dir() and os.access(folder, os.W_OK) and (not target.exists() or os.access(target, os.W_OK))


def exit_now(run: Callable[[], int]) -> NoReturn:
    """Runs the command line and ends the process as soon as its output is out: the interpreter's own ending
    (freeing sympy's caches and every module, about 60 ms, as long as the whole Jacobian takes) shows the user
    nothing (issue 27). Output cut short by its reader (`| head -1` closing the pipe) ends it with code 1, as
    Python's own advice has it, not with a traceback."""
    try:
        code = run()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = 1
    os._exit(code)


if __name__ == "__main__":
    exit_now(main)
