"""The panel's picture of an image's gradient, beside the walkthrough: for class probabilities a class picker and
that class's ∂p/∂x beside the image (one scale for all classes, so the pictures compare), for a loss ∂L/∂x beside
the image. Drawn as the static output draws it (`image_figure`), again whenever the panel's point changes."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from jacmagic.views.network_pictures import class_marks, image_figure, images_read
from jacmagic.views.plot import png

if TYPE_CHECKING:
    from jacmagic.chain.network_walk import NetworkWalk
    from jacmagic.result import JacobianResult

# Up to this many classes the picker is a row of buttons (one per class); past it a drop-down list.
MAX_BUTTONS = 10


class ImagePictures(widgets.VBox):
    """∂(outputs)/∂name in the image's shape at the panel's point: `update` with each new walkthrough; picking a
    class only redraws (no evaluation)."""

    def __init__(self, result: JacobianResult, name: str) -> None:
        self.result, self.name, self.walk = result, name, result.walked
        m = result.shape[0]
        self.image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.picker: widgets.ToggleButtons | widgets.Dropdown | None = None
        if m > 1:
            shown = {"options": [(f"class {k}", k) for k in range(m)], "description": "class",
                     "value": class_marks(result, self.walk)[0]}  # the predicted class first
            self.picker = (widgets.ToggleButtons(**shown, style={"button_width": "5em"}) if m <= MAX_BUTTONS
                           else widgets.Dropdown(**shown))
            self.picker.observe(self._draw, names="value")
        super().__init__([*([self.picker] if self.picker is not None else []), self.caption, self.image])

    def update(self, walk: NetworkWalk) -> None:
        """A new point: the caption, the buttons' hover text (each class's output value) and the picture."""
        self.walk = walk
        predicted, true = class_marks(self.result, walk)
        said = [f"{w} class {k}" for w, k in (("predicted", predicted), ("true", true)) if k is not None]
        if isinstance(self.picker, widgets.ToggleButtons):
            outputs = np.concatenate([np.asarray(walk.values[o]).ravel() for o in self.result.graph.outputs])
            self.picker.tooltips = [f"output entry {k + 1}: {v:.4g}" for k, v in enumerate(outputs)]
        self.caption.value = (f"∂/∂{html.escape(self.name)} in the image's shape at this point"
                              + (f" ({', '.join(said)})" if said else "") + ": red above 0, blue below, white at 0"
                              + ("; one scale for all classes" if self.picker is not None else ""))
        self._draw()

    def _draw(self, change: object = None) -> None:
        picked = None if self.picker is None else int(self.picker.value)
        self.image.value = png(image_figure(self.result, self.walk, self.name, picked=picked))


def attach(panel: Any) -> ImagePictures | None:
    """The pictures placed in a network panel above its whole derivation, when the result is differentiated by an
    image (None otherwise); the panel calls `update` with each walkthrough."""
    names = images_read(panel.result)
    if not names:
        return None
    pictures = ImagePictures(panel.result, names[0])
    panel.children = (*panel.children[:-1], pictures, panel.children[-1])
    return pictures
