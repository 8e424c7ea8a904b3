"""numpy and symengine, imported on first use: a small map's Jacobian, determinant and text need neither, and
they were a seventh of the command line's whole process (numpy 35 ms, symengine 11 ms; issue 27).

`from jacmagic.lazy import np` in a module the text path imports stands for `import numpy as np` (type checkers
see the real module); a table built at import names numpy's functions as `later.sin`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jacmagic.budget import undisturbed


class Lazy:
    """A module imported on its first attribute read, each attribute then kept on this stand-in, so that later
    reads are plain attribute reads. The import runs `undisturbed`: a budget's alarm or Ctrl-C landing inside it
    would leave the module half-imported for the rest of the session."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attribute: str) -> Any:
        with undisturbed():
            module = importlib.import_module(self._lazy_name)
        value = getattr(module, attribute)
        setattr(self, attribute, value)
        return value


class Later:
    """numpy's functions by name (`later.sin`), each looked up when called: for a table built at import."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: getattr(np, name)(*args, **kwargs)


later = Later()


if TYPE_CHECKING:
    import numpy as np
    import symengine as se
else:
    np = Lazy("numpy")
    se = Lazy("symengine")
