"""One line of a --chain cell as `result.steps` lists it: its own module so that the result type stays one file
of its own size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from jacmagic.errors import OptionError
from jacmagic.lazy import np


@dataclass(frozen=True)
class LineView:
    """One line of the chain, as `result.steps` lists it: its value at the point, and on request its local
    Jacobian entry by entry (`matrix`), when the cell is small enough to write out."""

    name: str
    line: int
    shape: tuple[int, int]
    value: np.ndarray | None
    entry_steps: Any = field(repr=False, default=None)

    @property
    def matrix(self) -> sp.ImmutableMatrix:
        steps = self.entry_steps()
        if steps is None:
            raise OptionError(f"{self.name}'s local Jacobian is too large to write out entry by entry; the "
                              "walkthrough shows it in matrix form, and result.walkthrough() has its numbers")
        return next(s.matrix for s in steps if s.name == self.name)
