"""A --chain result -> its pictures: the gradient of an image a conv2d, maxpool2d or flatten reads in the image's shape
(one picture per class of a classifier, the predicted and true classes marked; a loss's beside the image), a large
matrix's gradient in its own shape, and what `plot()` draws for a network that reads no image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from jacmagic.notation import pretty
from jacmagic.views.formulas import derivative_symbol
from jacmagic.views.render import SHOWN, wrapped

if TYPE_CHECKING:
    from jacmagic.chain.network_walk import NetworkWalk
    from jacmagic.result import JacobianResult


def shape_words(shape: tuple[int, ...]) -> str:
    return " x ".join(f"{n:,}" for n in shape)


def _label(result: JacobianResult, name: str) -> str:
    """∂(outputs)/∂name, as text."""
    return derivative_symbol(tuple(sp.Symbol(o) for o in result.graph.outputs), (sp.Symbol(name),), "text")


# An image's gradient is drawn once per output entry up to this many outputs (the classes of a classifier).
MAX_IMAGE_PANELS = 32


def images_read(result: JacobianResult) -> list[str]:
    """The differentiated inputs a conv2d, maxpool2d or flatten reads as its image (a matrix, both sizes above 1;
    not a batch of images, whose gradient is drawn as its stack)."""
    from jacmagic.chain.images import Conv2d, Flatten, MaxPool2d
    from jacmagic.chain.operations import Leaf

    read = [node.children[0] for node in result.graph.nodes() if isinstance(node, (Conv2d, MaxPool2d, Flatten))]
    names = dict.fromkeys(leaf.name for leaf in read if isinstance(leaf, Leaf) and leaf.name in result.wrt)
    return [name for name in names if min(result.graph.shape_of(name)) > 1 and result.graph.stack_of(name) == 1]


def image_gradient(result: JacobianResult, walked: NetworkWalk, name: str) -> np.ndarray:
    """∂(outputs)/∂image as (m, rows, cols), from a walkthrough in the working layout or in the arrays' shapes."""
    return np.asarray(walked.gradients[name]).reshape(result.shape[0], *result.graph.shape_of(name))


def class_marks(result: JacobianResult, walked: NetworkWalk, label: int | None = None) -> tuple[int | None,
                                                                                                int | None]:
    """(predicted, true) classes, counted from 0: predicted the largest output entry (of the scores feeding a
    loss), true `label` or the one-hot label in the point; None where the cell has none."""
    m = result.shape[0]
    onehot = [v for v in (np.asarray(walked.point[n]).ravel() for n in result.names)
              if v.size > 1 and np.isin(v, (0.0, 1.0)).all() and v.sum() == 1]
    if m > 1:
        scores = np.concatenate([np.asarray(walked.values[o]).ravel() for o in result.graph.outputs])
        true = label if label is not None else next((int(v.argmax()) for v in onehot if v.size == m), None)
        return int(scores.argmax()), true
    if not onehot:
        return None, label
    k = onehot[0].size
    fed = [np.asarray(walked.values[line.name]).ravel() for line in result.graph.lines
           if line.root.size == k and line.name not in result.graph.outputs]
    return (int(fed[-1].argmax()) if fed else None), (label if label is not None else int(onehot[0].argmax()))


def _marked(axes: Any, title: str, k: int, marks: tuple[int | None, int | None]) -> None:
    """A class's picture titled with its class, framed green when it is the true class, orange when predicted."""
    predicted, true = marks
    words = [w for w, hit in (("predicted", k == predicted), ("true", k == true)) if hit]
    axes.set_title(f"{title}\nclass {k}" + (f": {', '.join(words)}" if words else ""), fontsize=9)
    if words:
        for spine in axes.spines.values():
            spine.set(color="tab:green" if k == true else "tab:orange", linewidth=3)


def image_figure(result: JacobianResult, walked: NetworkWalk, name: str, label: int | None = None,
                 picked: int | None = None) -> Any:
    """∂(outputs)/∂image in the image's shape: for one output (a loss), or the `picked` output, beside the image
    itself; for a few (class probabilities) one small picture per output, the predicted and true classes marked;
    diverging colours around 0, one scale for all (a matplotlib Figure), None for more outputs than
    `MAX_IMAGE_PANELS` when none is picked."""
    from matplotlib.figure import Figure

    gradient = image_gradient(result, walked, name)
    m = gradient.shape[0]
    if m > MAX_IMAGE_PANELS and picked is None:
        return None
    scale = float(np.nanmax(np.abs(gradient), initial=0.0)) or 1.0
    shown = [picked] if picked is not None else list(range(m))
    beside = len(shown) == 1
    columns = 2 if beside else min(m, 5)
    rows = 1 if beside else -(-m // columns)
    fig = Figure(figsize=(2.2 * columns + 0.8, 2.2 * rows + 0.6), layout="constrained")
    panels = fig.subplots(rows, columns, squeeze=False).ravel()
    outputs = [pretty(s) for s in result.outputs]
    marks = class_marks(result, walked, label)
    if beside:
        panels[0].imshow(np.asarray(walked.point[name]).reshape(gradient.shape[1:]), cmap="gray",
                         gid="jacmagic-image")
        panels[0].set_title(f"{name} (the point)", fontsize=9)
    for axes, k in zip(panels[1:] if beside else panels, shown):
        drawn = axes.imshow(gradient[k], cmap="RdBu_r", vmin=-scale, vmax=scale, gid="jacmagic-image-gradient")
        if m == 1:
            predicted, true = marks
            said = [f"{w} class {c}" for w, c in (("true", true), ("predicted", predicted)) if c is not None]
            axes.set_title(_label(result, name) + (f"\n{', '.join(said)}" if said else ""), fontsize=9)
        else:
            _marked(axes, f"∂{outputs[k]}/∂{name}", k, marks)
    for axes in panels:
        axes.set_xticks([])
        axes.set_yticks([])
    for axes in panels[2 if beside else m:]:
        axes.set_visible(False)
    fig.colorbar(drawn, ax=list(panels), shrink=0.8)
    return fig


def _marks_words(marks: tuple[int | None, int | None]) -> str:
    """The classes marked, counted from 0 as numpy's argmax and a label do."""
    predicted, true = marks
    if predicted is not None and predicted == true:
        return f"; class {true} predicted and true (framed green)"
    said = [f"class {k} {w} (framed {colour})" for w, k, colour in (("predicted", predicted, "orange"),
                                                                    ("true", true, "green")) if k is not None]
    return f"; {', '.join(said)}" if said else ""


def _image_pictures(result: JacobianResult, walked: NetworkWalk) -> dict[str, dict[str, Any]]:
    """Each image's picture (its display bundle) by name."""
    from jacmagic.views.plot import png

    shown = {}
    for name in images_read(result):
        fig = image_figure(result, walked, name)
        if fig is None:
            continue
        m, shape = walked.gradients[name].shape[0], shape_words(result.graph.shape_of(name))
        what = f"beside {name} itself" if m == 1 else f"one picture per output entry ({m})"
        shown[name] = {"image/png": png(fig), "text/plain": wrapped(
            f"{_label(result, name)} in the shape of {name} ({shape}) as pictures, {what}: red above 0, blue below, "
            "white at 0, one scale for all" + _marks_words(class_marks(result, walked)))}
    return shown


def _stacked_words(result: JacobianResult, name: str) -> str:
    """An array's shape as drawn: a batch of images as its stack."""
    (r, c), stack = result.graph.shape_of(name), result.graph.stack_of(name)
    return f"{r} x {c}" if stack == 1 else f"{stack} images of {r // stack} x {c}, stacked: {r} x {c}"


def pictures(result: JacobianResult, walked: NetworkWalk) -> list[dict[str, Any]]:
    """The gradient of an image a conv2d or maxpool2d reads as pictures in its shape, and each other matrix's
    gradient beyond the window as a picture in its own shape."""
    from jacmagic.views.graph import heatmap_png

    drawn = _image_pictures(result, walked)
    shown = list(drawn.values())
    for name, gradient in walked.gradients.items():
        r, c = result.graph.shape_of(name)
        if name not in drawn and gradient.shape[0] == 1 and min(r, c) > 1 and max(r, c) > SHOWN:
            shown.append({"image/png": heatmap_png(gradient[0]),
                          "text/plain": wrapped(f"{_label(result, name)} in the shape of {name} "
                                                f"({_stacked_words(result, name)}) as a picture: red above 0, blue "
                                                "below, white at 0, scaled to the largest magnitude")})
    return shown


def gradient_figure(result: JacobianResult, walked: NetworkWalk) -> Any:
    """Each differentiated array's gradient as a picture, what `plot()` draws when no image is read: a matrix in
    its own shape as a heat map, a vector or a number as bars; with several outputs the Jacobian block (a row per
    output entry) as a heat map. Diverging colours around 0, each scaled to its own largest magnitude."""
    from matplotlib.figure import Figure

    m, names = result.shape[0], list(walked.gradients)
    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(3.2 * columns + 0.4, 2.8 * rows + 0.4), layout="constrained")
    panels = fig.subplots(rows, columns, squeeze=False).ravel()
    for axes, name in zip(panels, names):
        r, c = result.graph.shape_of(name)
        gradient = np.asarray(walked.gradients[name]).reshape(m, r, c)
        values = gradient[0] if m == 1 else gradient.reshape(m, r * c)
        scale = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
        label = _label(result, name)
        if values.ndim == 2 and min(values.shape) > 1:
            drawn = axes.imshow(values, cmap="RdBu_r", vmin=-scale, vmax=scale, gid="jacmagic-gradient")
            fig.colorbar(drawn, ax=axes, shrink=0.8)
            shape = shape_words((m, r * c) if m > 1 else (r, c))
            axes.set_title(f"{label} ({shape}{', a row per output entry' if m > 1 else ''})", fontsize=9)
        else:
            flat = values.ravel()
            axes.bar(np.arange(flat.size), flat, color=np.where(flat < 0, "tab:blue", "tab:red"),
                     gid="jacmagic-gradient")
            axes.axhline(0.0, color="black", linewidth=0.6)
            axes.set_title(f"{label} ({shape_words((flat.size,))} entries, from 0)", fontsize=9)
    for axes in panels[len(names):]:
        axes.set_visible(False)
    return fig
