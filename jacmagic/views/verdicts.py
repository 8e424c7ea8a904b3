"""A walk's check in words, the same in the static walkthrough, the terminal and the panels."""

from __future__ import annotations

from jacmagic.chain.verdict import Verdict
from jacmagic.notation import counted

_AGAINST = {"direct": "the Jacobian of the composed map computed directly",
            "central": "central finite differences of the composed map",
            "directions": "central differences of the map along 3 random directions (J v)",
            "reverse": "the reverse-mode Jacobian"}


def verdict_words(verdict: Verdict) -> str:
    how = _AGAINST[verdict.against] + (" times the direction" if verdict.times_direction else "")
    if verdict.judged == 0 and verdict.agrees:
        said = "nothing else to compare" if verdict.aside else "nothing to compare: every entry is undefined here"
    elif verdict.agrees is None:
        said = f"it could not be compared with {how} at this point (they overflow)"
    else:
        said = f"it {'matches' if verdict.agrees else 'DOES NOT match'} {how}"
        if verdict.judged is not None:
            said += (f" on the {counted(verdict.judged, 'other entry', 'other entries')}" if verdict.aside else
                     f" on its {counted(verdict.judged, 'defined entry', 'defined entries')}")
    if verdict.aside:
        said = f"not judged here: {'; '.join(verdict.aside[:3])}; {said}"
    if verdict.undefined:
        said = f"undefined here: {'; '.join(verdict.undefined[:3])}; {said}"
    return said
