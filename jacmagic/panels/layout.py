"""How a panel lays itself out in any output area, 500 to 1600 px wide, in every client (JupyterLab, Notebook 7, an
exported page): nothing is ever cut. Its HTML may shrink to the area, its lines of words wrap, and what cannot wrap
(a table, the graph, a line holding a wide formula) scrolls sideways in a box of its own, with a scroll bar; rows of
controls wrap to the next line where they do not fit. tests/test_clipping.py measures it in a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

# One style block per panel value, so each cell is a bare <td>: formatting stays a few f-strings per update. A
# panel's HTML widget may shrink to the area (min-width 0: a flex item is otherwise as wide as its widest table).
STYLE = ("<style>.jacmagic-matrix{border-collapse:separate;border-left:2px solid currentColor;"
         "border-right:2px solid currentColor;border-radius:6px;padding:2px 4px;font-family:monospace}"
         ".jacmagic-matrix td,.jacmagic-matrix th{padding:2px 8px;text-align:right}"
         ".jacmagic-matrix th{opacity:0.6;font-weight:normal}.jacmagic-undefined{color:#b00}"
         ".jacmagic-html,.jacmagic-html>.widget-html-content,.jacmagic-html>.jupyter-widget-html-content"
         "{min-width:0;max-width:100%;white-space:normal}"
         ".jacmagic-scroll{overflow-x:auto;max-width:100%}</style>")
# A number box wide enough for any float as Python writes it (pi/4 is 0.7853981633974483) or 15 digits: never cut.
NUMBER_BOX = "13em"


def scrolling(inner: str) -> str:
    """`inner` (a table, a picture, a line holding a formula) in a box of its own that scrolls sideways, with a
    scroll bar, where it is wider than the output area: never cut, and nothing around it moves."""
    return f'<div class="jacmagic-scroll">{inner}</div>'


def html_box(value: str = "") -> widgets.HTML:
    """An HTML widget that shrinks to the output area (its `STYLE` wraps words and scrolls wide parts)."""
    box = widgets.HTML(value)
    box.add_class("jacmagic-html")
    return box


def wrapping(children: Sequence[widgets.Widget]) -> widgets.HBox:
    """Side by side where they fit, the next line where they do not (a narrow output area): nothing is pushed past
    the right edge."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))


def beside(picture: widgets.Widget, detail: widgets.Widget) -> widgets.HBox:
    """The graph and the step's numbers side by side where they fit, the numbers under the graph where not."""
    return wrapping([picture, detail])
