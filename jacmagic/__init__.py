"""jacmagic: the Jacobian as something to see, poke and step through, in IPython and Jupyter.

`%load_ext jacmagic` registers `%%jacobian`; `jacmagic.jacobian(...)` is the same thing from Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jacmagic.errors import JacmagicError

if TYPE_CHECKING:
    from jacmagic.model import Mode, SimplifyMode
    from jacmagic.result import JacobianResult

__version__ = "0.1.0"
__all__ = ["JacmagicError", "JacobianResult", "jacobian", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> object:
    """The result type is imported on first use, so `import jacmagic` costs little more than sympy."""
    if name == "JacobianResult":
        from jacmagic.result import JacobianResult

        return JacobianResult
    raise AttributeError(f"module 'jacmagic' has no attribute {name!r}")


def jacobian(source: str | object, *, det: bool = False, wrt: str | tuple[str, ...] = (),
             at: Mapping[str, float] | None = None, simplify: SimplifyMode = "auto", partials: bool = False,
             check: bool = False, chain: bool = False, budget: float = 2.0, memory: float = 1.0, plot: bool = False,
             domain: Mapping[str, tuple[float, float]] | None = None, hessian: bool = False,
             mode: Mode | None = None, direction: Mapping[str, Any] | None = None,
             namespace: Mapping[str, Any] | None = None) -> JacobianResult:
    """The Jacobian of a cell's text (any of the three forms), a Python function or a sympy object."""
    from jacmagic.budget import interruptible
    from jacmagic.model import Options
    from jacmagic.options import chain_mode, parse_names
    from jacmagic.pipeline import compute

    names = (parse_names(wrt) if wrt else ()) if isinstance(wrt, str) else tuple(wrt)
    options = Options(det=det, wrt=names, at=tuple((at or {}).items()), simplify=simplify, partials=partials,
                      check=check, chain=chain, widgets=False, budget=budget, memory=memory, plot=plot,
                      domain=tuple((n, float(lo), float(hi)) for n, (lo, hi) in (domain or {}).items()),
                      hessian=hessian, mode=chain_mode(mode, tuple((direction or {}).items())),
                      direction=tuple((direction or {}).items()))
    name = getattr(source, "__name__", "f") if not isinstance(source, str) else ""
    with interruptible():
        return compute(source, options, namespace, name=name)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jacmagic`."""
    from jacmagic.magic import JacobianMagic

    ipython.register_magics(JacobianMagic)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext jacmagic`: the magics go away again."""
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("jacobian", None)
    ipython.magics_manager.registry.pop("JacobianMagic", None)
