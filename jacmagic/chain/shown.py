"""How a piece of math shows itself, as LaTeX and as Unicode text: its own module so that the function table
(chain.functions, which every cell reads) does not load the array operations a plain cell never builds (the
command line's process, issue 27)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shown:
    """The same piece of math as LaTeX and as Unicode text."""

    latex: str
    text: str
