"""What a walkthrough shows in closed form: each variable's formula, or its place where it is too long to write
(`closed_form_more.TooLong`), kept apart from `closed_form` (which has grown to its size)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jacmagic.chain import closed_form_more as more
from jacmagic.chain.closed_form import Formula, NoRule, closed_forms, compose, formula_of, holds
from jacmagic.chain.network import Network
from jacmagic.errors import OptionError


def shown_forms(network: Network, wrt: tuple[str, ...], values: Mapping[str, np.ndarray]
                ) -> list[Formula | more.LeftOut]:
    """What the walkthrough shows at `values`: every formula when each has a rule (one too long to write left out by
    name), the identity taken only where its assumption holds there; nothing otherwise (never a wrong formula)."""
    try:
        closed_forms(network, ())  # refuses an output that is not one number
        forms = _each(network, wrt, assume=True)
        kept = tuple(f.name for f in forms if isinstance(f, Formula))
        if any(f.assumptions for f in forms if isinstance(f, Formula)) and not holds(compose(network, kept), values):
            forms = _each(network, wrt, assume=False)
    except (OptionError, NoRule):
        return []
    return forms


def _each(network: Network, wrt: tuple[str, ...], assume: bool) -> list[Formula | more.LeftOut]:
    """Each of `wrt`'s formula, or its place where it is too long to write; `NoRule` where an operation has none."""
    found: list[Formula | more.LeftOut] = []
    for name in wrt:
        try:
            found.append(formula_of(network, name, compose(network, (name,), assume)))
        except more.TooLong:
            found.append(more.LeftOut(name, network.outputs[0]))
    return found
