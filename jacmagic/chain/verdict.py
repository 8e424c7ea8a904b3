"""How a walk's Jacobian compared with the same Jacobian computed another way, as facts: both walks (entry level
and array level) record one, and every view says it in the same words (`views/verdicts.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What the walk was compared with: the composed map's symbolic Jacobian ("direct"), central differences of the
# composed map ("central") or of the map along three random directions ("directions"), and for forward mode the
# reverse-mode Jacobian ("reverse").
Against = Literal["direct", "central", "directions", "reverse"]


@dataclass(frozen=True)
class Verdict:
    agrees: bool | None  # None: the other computation overflowed here, so nothing could be said
    against: Against
    judged: int | None = None  # how many entries were compared when some are undefined (0: not one); None: all
    times_direction: bool = False  # forward mode along given directions: J v, not J
    undefined: tuple[str, ...] = ()  # why values are undefined here, where they are
    aside: tuple[str, ...] = ()  # why defined entries were not judged (a kink, a step, the edge of the domain)
