"""The `%%jacobian` cell magic and `%jacobian` line magic: options in, result displayed, errors as UsageError.

The only module that imports IPython. Every `JacmagicError` becomes IPython's `UsageError` itself here, once (a
subclass would be shown with a traceback), and nothing is bound to `--out` unless the whole cell succeeded.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Float

from .errors import JacmagicError
from .model import Options
from .options import parse_names, parse_point, parse_ranges
from .pipeline import compute
from .result import JacobianResult


@magics_class
class JacobianMagic(Magics):
    """Holds the settings: `%config JacobianMagic.budget = 5` gives slow steps five seconds."""

    budget = Float(2.0, help="Seconds that simplification and determinants may take before falling back.").tag(
        config=True)

    @magic_arguments()
    @argument("name", nargs="?", help="line magic only: a Python function, sympy expression or sympy Matrix "
                                      "from the namespace")
    @argument("--det", action="store_true", help="also show the determinant (square Jacobians)")
    @argument("--wrt", nargs="+", metavar="VARS", help="differentiate by these variables, in this order "
                                                        "(comma separated); the rest are constants")
    @argument("--at", nargs="+", metavar="POINT", help="also show the numeric Jacobian at a point, e.g. "
                                                        "--at r=1,theta=pi/4 (every variable and constant)")
    @argument("--out", metavar="NAME", help="bind the result object to this variable")
    @argument("--no-widgets", action="store_true", help="show no interactive panel")
    @argument("--range", nargs="+", metavar="RANGES",
              help="slider ranges of the panel, e.g. --range r=0:5,theta=0:2*pi")
    @argument("--no-continuous-update", action="store_true", help="update the panel when a slider is released, "
                                                                    "not while it is dragged")
    @argument("--plot", action="store_true", help="draw what the Jacobian does: change of variables, a slice, "
                                                   "gradient arrows or a heat map")
    @argument("--domain", nargs="+", metavar="RANGES", help="the plotted region, e.g. --domain r=0:2,theta=0:2*pi")
    @argument("--partials", action="store_true", help="also show the matrix of partial derivative symbols")
    @argument("--simplify", choices=["auto", "full", "none"], default="auto",
              help="auto: simplify the determinant within the budget (default); full: every entry too; none: raw")
    @argument("--check", action="store_true", help="compare with central finite differences at a few points")
    @argument("--chain", action="store_true", help="keep each function or assignment as a stage of a chain")
    @argument("--budget", type=float, metavar="SECONDS", help="time budget for simplification and determinants "
                                                              "(default: JacobianMagic.budget, 2 s)")
    @line_cell_magic
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
        args = parse_argstring(self.jacobian, line)
        if cell is None and not args.name:
            raise UsageError("%jacobian needs a name from the namespace, e.g. %jacobian f --det; "
                             "or write the map in a %%jacobian cell")
        if cell is not None and args.name:
            raise UsageError(f"unexpected {args.name!r} on the %%jacobian line: options start with --, "
                             "and the map goes in the cell below")
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out needs a variable name, got {args.out!r}")
        assert self.shell is not None
        namespace = self.shell.user_ns
        try:
            options = self._options(args)
            if cell is None:
                if args.name not in namespace:
                    raise UsageError(f"{args.name} is not defined in the namespace")
                result = compute(namespace[args.name], options, name=args.name)
            else:
                result = compute(cell, options, namespace=namespace)
            result.latex()  # render now: anything wrong surfaces here, before --out is bound
        except JacmagicError as err:
            raise UsageError(str(err)) from None
        if args.out:
            namespace[args.out] = result
        return result

    def _options(self, args: Any) -> Options:
        return Options(
            det=args.det,
            wrt=parse_names(",".join(args.wrt)) if args.wrt else (),
            at=parse_point(",".join(args.at)) if args.at else (),
            simplify=args.simplify,
            partials=args.partials,
            check=args.check,
            chain=args.chain,
            widgets=not args.no_widgets,
            budget=self.budget if args.budget is None else args.budget,
            ranges=parse_ranges(",".join(args.range)) if args.range else (),
            continuous_update=not args.no_continuous_update,
            plot=args.plot,
            domain=parse_ranges(",".join(args.domain)) if args.domain else (),
        )
