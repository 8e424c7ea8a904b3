"""The `%%jacobian` cell magic and `%jacobian` line magic: options in, result displayed, errors as UsageError.

The only module that imports IPython. Every `JacmagicError` becomes IPython's `UsageError` itself here, once (a
subclass would be shown with a traceback), and nothing is bound to `--out` unless the whole cell succeeded.
"""

from __future__ import annotations

import builtins
import keyword
import re
import types
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import sympy as sp
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split
from traitlets import Float, TraitError, validate

from jacmagic.budget import interruptible
from jacmagic.errors import JacmagicError, OptionError
from jacmagic.model import Options
from jacmagic.option_words import (
    SHOWN,
    Once,
    given_options,
    joined,
    quoted,
    refuse_unused,
    unexpected,
    within_limit,
)
from jacmagic.options import chain_mode, parse_names, parse_point, parse_ranges
from jacmagic.pasted import put_back, set_aside

if TYPE_CHECKING:  # the engine is imported by the first cell, not by %load_ext
    from jacmagic.result import JacobianResult


@magics_class
class JacobianMagic(Magics):
    """Holds the settings: `%config JacobianMagic.budget = 5` gives slow steps five seconds."""

    budget = Float(2.0, help="Seconds that simplification and determinants may take before falling back.").tag(
        config=True)
    memory = Float(1.0, help="Gigabytes a layer cell's walkthrough may hold before it is refused.").tag(config=True)

    @validate("budget", "memory")
    def _within_limits(self, proposal: Any) -> float:
        """Refused when set (`%config` keeps the old value and says why), not later in every cell under the name
        of an option the user never typed."""
        name = proposal["trait"].name
        try:
            return within_limit(name, proposal["value"], f"JacobianMagic.{name}")
        except OptionError as err:
            raise TraitError(f"{err.message}; it is left as it was") from None

    @magic_arguments()
    @argument("name", nargs="?", help="line magic only: a Python function, sympy expression or sympy Matrix "
                                      "from the namespace")
    @argument("--det", action="store_true", help="also show the determinant (square Jacobians)")
    @argument("--hessian", action="store_true",
              help="also show the Hessian, the Jacobian of the gradient (one per output), and at --at its "
                   "eigenvalues and what they say")
    @argument("--wrt", nargs="+", action="append", metavar="VARS",
              help="differentiate by these variables, in this order (comma separated); the rest are constants")
    @argument("--at", nargs="+", action="append", metavar="POINT",
              help="also show the numeric Jacobian at a point, e.g. --at r=1,theta=pi/4 (every variable and "
                   "constant; a matrix as W=[[1, 2], [3, 4]] or the name of a numpy array)")
    @argument("--out", action=Once, metavar="NAME", help="bind the result object to this variable")
    @argument("--no-widgets", action="store_true", help="show no interactive panel")
    @argument("--range", nargs="+", action="append", metavar="RANGES",
              help="slider ranges of the panel, e.g. --range r=0:5,theta=0:2*pi")
    @argument("--no-continuous-update", action="store_true", help="update the panel when a slider is released, "
                                                                    "not while it is dragged")
    @argument("--plot", action="store_true", help="draw what the Jacobian does: change of variables, a slice, "
                                                   "gradient arrows or a heat map")
    @argument("--domain", nargs="+", action="append", metavar="RANGES",
              help="the plotted region, e.g. --domain r=0:2,theta=0:2*pi")
    @argument("--partials", action="store_true", help="also show the matrix of partial derivative symbols")
    @argument("--simplify", action=Once, choices=["auto", "full", "none"], default="auto",
              help="auto: simplify the determinant within the budget (default); full: every entry too; none: raw")
    @argument("--check", action="store_true", help="compare with central finite differences at a few points")
    @argument("--chain", action="store_true", help="keep each function or assignment as a stage of a chain")
    @argument("--mode", action=Once, choices=["reverse", "forward", "both"],
              help="with --chain: multiply the local Jacobians from the output side (reverse, the default: one "
                   "pass per output), from the input side (forward: one pass per input), or show both")
    @argument("--direction", nargs="+", action="append", metavar="DIRECTION",
              help="with --chain: forward mode along one direction, e.g. --direction x=1 (other inputs 0)")
    @argument("--budget", action=Once, type=float, metavar="SECONDS",
              help="time budget for simplification and determinants; differentiating gets 5 budgets, reading a "
                   "cell and calling a def 5 and at least 10 s (default: JacobianMagic.budget, 2 s)")
    @argument("--memory", action=Once, type=float, metavar="GB",
              help="memory a --chain walkthrough may hold, estimated before anything is allocated (default: "
                   "JacobianMagic.memory, 1 GB)")
    @line_cell_magic
    @no_var_expand  # IPython's $name/{expr} expansion takes quadratic time on a long line (10,000 pasted numbers:
    # 11 s before the magic is called); notebook values are read by name (--at x=a) instead
    def jacobian(self, line: str, cell: str | None = None) -> JacobianResult:
        """Shows the Jacobian matrix (rows: outputs, columns: inputs) of the map the cell defines.

        Three ways to write the cell::

            %%jacobian --det
            f(x, y) = [x**2*y, 5*x + sin(y)]      # math form: inputs are the parameters

            %%jacobian --det
            x = r*cos(theta)                      # assignment form: unused names are the outputs,
            y = r*sin(theta)                      # never-assigned names the inputs

            %%jacobian
            def f(x, y):                          # Python form, traced with symbols;
                return [x**2 * y, np.sin(y)]      # np./math. functions map to sympy

        The line magic takes an object from the namespace: ``%jacobian f --det``.
        The result is returned (and bound with ``--out NAME``): ``.matrix``, ``.inputs``, ``.outputs``,
        ``.det``, ``.at(x=1, y=2)``, ``.latex()``.
        """
        from jacmagic.pipeline import compute

        args = parse_line(self.jacobian, line, cell_magic=cell is not None)
        if cell is None and not args.name:
            raise UsageError("%jacobian needs a name from the namespace, e.g. %jacobian f --det; "
                             "or write the map in a %%jacobian cell")
        if cell is None and not args.name.isidentifier():
            typed = args.name if len(args.name) <= SHOWN else "..."  # a pasted value: thousands of characters
            raise UsageError(f"%jacobian takes the name of a variable, got {quoted(args.name)}: assign it first "
                             f"(f = {typed}) or write the map in a %%jacobian cell")
        out = None if args.out is None else output_name(args.out)
        # A registered magic always has its shell; IPython 8 annotates it as None, which hid the rest from mypy.
        namespace = cast(InteractiveShell, self.shell).user_ns
        try:
            with interruptible():
                options = self._options(args, namespace)
                if cell is None:
                    if args.name not in namespace:
                        raise UsageError(f"{args.name} is not defined in the namespace")
                    result = compute(namespace_object(args.name, namespace[args.name]), options, name=args.name)
                else:
                    result = compute(cell, options, namespace=namespace)
                result.displays  # noqa: B018 - build all that will be shown now: a failure binds nothing
        except JacmagicError as err:
            raise UsageError(str(err)) from None
        if out:
            namespace[out] = result
        return result

    def _options(self, args: Any, namespace: Mapping[str, Any]) -> Options:
        refuse_unused(given_options(self.jacobian.parser, args))
        direction = parse_point(joined(args.direction), namespace, "--direction") if args.direction else ()
        return Options(
            det=args.det,
            wrt=parse_names(joined(args.wrt)) if args.wrt else (),
            at=parse_point(joined(args.at), namespace) if args.at else (),
            simplify=args.simplify,
            partials=args.partials,
            check=args.check,
            chain=args.chain,
            widgets=not args.no_widgets,
            budget=self.budget if args.budget is None else args.budget,
            memory=self.memory if args.memory is None else args.memory,
            ranges=parse_ranges(joined(args.range)) if args.range else (),
            continuous_update=not args.no_continuous_update,
            plot=args.plot,
            domain=parse_ranges(joined(args.domain), "--domain") if args.domain else (),
            hessian=args.hessian,
            mode=chain_mode(args.mode, direction),
            direction=direction,
        )


# Options are written in full: `--de` for --det would break a saved notebook once another option began so.
# (IPython's parser takes no allow_abbrev argument; argparse reads the attribute at each parse.)
JacobianMagic.jacobian.parser.allow_abbrev = False

# Names the session itself relies on: binding a result to one of them would break IPython or the kernel.
_RESERVED = frozenset({"get_ipython", "In", "Out", "exit", "quit", "display"})
_HISTORY = re.compile(r"_+|_i+|_i?\d+|_[oid]h")


def output_name(text: str) -> str:
    """The --out name, as Python reads it (NFKC), refused if it is not a plain variable name of the user's."""
    name = unicodedata.normalize("NFKC", text)
    if not name.isidentifier() or keyword.iskeyword(name) or (name.startswith("__") and name.endswith("__")):
        raise UsageError(f"--out needs a plain variable name, got {quoted(text)}")
    if name in _RESERVED or _HISTORY.fullmatch(name) or name in dir(builtins):
        raise UsageError(f"--out {name} would replace a name that IPython or Python relies on; choose another")
    return name


def namespace_object(name: str, value: object) -> object:
    """What `%jacobian NAME` may take: a Python function (def or lambda), a sympy expression or matrix. Calling
    any other callable (a method, a class, an object with __call__) could run code the user did not ask for."""
    if isinstance(value, (types.FunctionType, sp.Expr, sp.MatrixBase)):
        return value
    raise UsageError(f"%jacobian {name}: {name} is a {type(value).__name__}; %jacobian takes a Python function "
                     "(def or lambda), a sympy expression or a sympy Matrix")


def parse_line(magic: Any, line: str, cell_magic: bool = False) -> Any:
    """The magic's arguments from its line, bracketed values set aside while IPython splits the line and put
    back in each option's text. A word that is no option is refused, the first on the line first (on the
    %%jacobian line a name too: the map goes in the cell)."""
    short, values = set_aside(line)
    try:
        words = arg_split(pasted_values(short))
    except ValueError:  # shlex's "No closing quotation", with a traceback, for a quote typed alone
        magic_name = "%%jacobian" if cell_magic else "%jacobian"
        raise UsageError(f"the {magic_name} line has a quote (' or \") that is never closed; options need no "
                         "quotes, e.g. --at x=1,y=2") from None
    try:
        args, extra = magic.parser.parse_known_args(words)
    except UsageError as err:  # argparse's own message, about the line as typed
        raise UsageError(put_back(str(err), values)) from None
    stray = [args.name, *extra] if cell_magic and args.name else extra
    if stray:  # in the order typed: `--wr r` is about --wr, though argparse takes r for the name first
        stray.sort(key=words.index)
        where = "the map goes in the cell below" if cell_magic else "%jacobian takes one name"
        raise UsageError(unexpected_word(magic, put_back(stray[0], values), where))
    for option, given in vars(args).items():
        if isinstance(given, list):
            setattr(args, option, [[put_back(v, values) for v in group] if isinstance(group, list)
                                   else put_back(group, values) for group in given])
        elif isinstance(given, str):
            setattr(args, option, put_back(given, values))
    return args


# What a user may ask the magic for under another tool's option.
_ELSEWHERE = {"--latex": "an option of the command line; here the LaTeX source is the result's .latex() (bind the "
                         "result with --out R, then R.latex())",
              "--help": "%%jacobian? shows the help", "-h": "%%jacobian? shows the help"}


def unexpected_word(magic: Any, word: str, where: str) -> str:
    """The message for a word on the magic's line that is no option: the option meant, where known."""
    return unexpected(word, magic.parser, _ELSEWHERE, "%%jacobian? lists the options", f", and {where}")


def pasted_values(line: str) -> str:
    """The option line with spaces inside brackets removed and quotes around a value dropped, so that values
    pasted from Python (`--at x=[1, -2]`, `--at "x=[1, -2]"`) reach the parser whole: argparse would take
    `-2]` for an option."""
    out: list[str] = []
    depth = 0
    for char in line:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth > 0 and char.isspace():
            continue
        out.append(char)
    return re.sub(r"(?<=\s)([\"'])([^\"']*)\1(?=\s|$)", r"\2", "".join(out))
