"""The computational graph of a chain as a small SVG picture: leaves on the left, each stage right of what feeds
it, the current stage highlighted. Plain SVG text, so no system binary (graphviz) and no plotting library."""

from __future__ import annotations

import html
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import sympy as sp

from jacmagic.notation import pretty

if TYPE_CHECKING:
    from jacmagic.model import Shape


class Stage(Protocol):
    """What the picture reads of a stage: its name, the values that feed it, the values it gives."""

    @property
    def name(self) -> str: ...

    @property
    def sources(self) -> tuple[sp.Symbol, ...]: ...

    @property
    def outputs(self) -> tuple[sp.Symbol, ...]: ...

_COLUMN = 110
_ROW = 46
_RADIUS = 17


@dataclass(frozen=True)
class Layout:
    """Node positions (by name) and edges (source name, stage name), computed once per chain."""

    positions: dict[str, tuple[float, float]]
    labels: dict[str, str]
    edges: tuple[tuple[str, str], ...]
    width: float
    height: float


def layout(steps: Sequence[Stage], shapes: Sequence[Shape] = ()) -> Layout:
    """Columns by depth: a stage sits one column right of the deepest value that feeds it. The entries of a
    declared matrix are one node, named after the matrix."""
    producer = {o: s.name for s in steps for o in s.outputs}
    producer.update({e: shape.name for shape in shapes for e in shape.symbols})
    depth: dict[str, int] = {}
    labels: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for step in steps:
        parents = []
        for source in step.sources:
            parent = producer.get(source, source.name)
            if parent not in depth:
                depth[parent] = 0
                labels[parent] = pretty(sp.Symbol(parent))
            if (parent, step.name) not in edges:
                edges.append((parent, step.name))
            parents.append(parent)
        depth[step.name] = 1 + max((depth[p] for p in parents), default=0)
        labels[step.name] = pretty(sp.Symbol(step.name))
    columns: dict[int, list[str]] = {}
    for name, d in depth.items():
        columns.setdefault(d, []).append(name)
    rows = max(len(names) for names in columns.values())
    positions = {name: (40.0 + d * _COLUMN, 30 + (i + (rows - len(names)) / 2) * _ROW)
                 for d, names in columns.items() for i, name in enumerate(names)}
    return Layout(positions, labels, tuple(edges), 80 + max(columns) * _COLUMN, 20 + rows * _ROW)


def svg(graph: Layout, current: str | None, flow: str = "reverse", done: Collection[str] = ()) -> str:
    """The picture with `current` (a stage name) highlighted, and the edges into it drawn the way the derivative
    flows: in reverse mode the gradient goes back from the stage to what fed it, in forward mode the tangents go
    on into it. Stages in `done` (already passed by this mode) are tinted."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{graph.width:.0f}" height="{graph.height:.0f}" '
             f'style="flex:none" font-family="sans-serif" font-size="13" data-flow="{flow}">',
             '<defs>' + "".join(f'<marker id="jm-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
                                f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path '
                                f'd="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
                                for name, colour in (("arrow", "#888"), ("hot", "#d9480f"))) + '</defs>']
    for source, target in graph.edges:
        (x1, y1), (x2, y2) = graph.positions[source], graph.positions[target]
        hot = target == current
        if hot and flow == "reverse":  # the gradient runs against the arrow of the computation
            x1, y1, x2, y2 = x2 - 2 * _RADIUS, y2, x1 + 2 * _RADIUS, y1
        parts.append(f'<line class="{"jm-hot" if hot else "jm-edge"}" x1="{x1 + _RADIUS:.0f}" y1="{y1:.0f}" '
                     f'x2="{x2 - _RADIUS:.0f}" y2="{y2:.0f}" stroke="{"#d9480f" if hot else "#888"}" '
                     f'stroke-width="{3 if hot else 1.5}" marker-end="url(#jm-{"hot" if hot else "arrow"})"/>')
    for name, (x, y) in graph.positions.items():
        hot = name == current
        fill = "#ffd8a8" if hot else "#fff4e6" if name in done else "#f1f3f5"
        stroke = "#d9480f" if hot else "#868e96"
        parts.append(f'<g class="jm-node{" jm-current" if hot else ""}{" jm-done" if name in done else ""}" '
                     f'data-name="{html.escape(name)}"><circle cx="{x:.0f}" cy="{y:.0f}" r="{_RADIUS}" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="{3 if hot else 1.5}"/><text x="{x:.0f}" '
                     f'y="{y + 4:.0f}" text-anchor="middle" fill="#212529">'
                     f'{html.escape(graph.labels[name])}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def sparsity_svg(matrix: sp.MatrixBase, size: int = 360) -> str:
    """Which entries are not identically zero, one dark square each: the shape of a big Jacobian at a glance."""
    rows, cols = matrix.shape
    cell = max(1.0, min(8.0, size / max(rows, cols)))
    marks = "".join(f'<rect x="{j * cell:.1f}" y="{i * cell:.1f}" width="{cell:.1f}" height="{cell:.1f}"/>'
                    for i, j in sorted(matrix.todok()))  # the nonzero entries only, no dense copy
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * cell + 2:.0f}" height="{rows * cell + 2:.0f}">'
            f'<rect x="0" y="0" width="{cols * cell:.1f}" height="{rows * cell:.1f}" fill="#f8f9fa" '
            f'stroke="#adb5bd"/><g fill="#343a40">{marks}</g></svg>')


def sparsity_display(matrix: sp.MatrixBase) -> dict[str, str]:
    """The sparsity picture a big Jacobian's display adds, its text within the text's width (`render.wrapped`)."""
    from jacmagic.views.render import wrapped

    nonzero = len(matrix.todok())  # a dict of the nonzero entries, not a walk over all of them
    return {"image/svg+xml": sparsity_svg(matrix),
            "text/plain": wrapped(f"sparsity: {nonzero:,} of {matrix.rows * matrix.cols:,} entries are not "
                                  "identically zero")}


def heatmap_png(values: np.ndarray, cells: int = 128, pixels: int = 256) -> bytes:
    """A matrix as a picture in its own shape: blue below 0, red above, white at 0, scaled to the largest
    magnitude; block means when it has more than `cells` rows or columns; at most `pixels` on a side. Encoded
    here (a PNG is a zlib stream of rows), so no plotting library is loaded for it."""
    values = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    rows, cols = values.shape
    down = (-(-rows // cells), -(-cols // cells))
    padded = np.zeros((-(-rows // down[0]) * down[0], -(-cols // down[1]) * down[1]))
    padded[:rows, :cols] = values
    blocks = padded.reshape(padded.shape[0] // down[0], down[0], padded.shape[1] // down[1], down[1]).mean(axis=(1, 3))
    scale = float(np.abs(blocks).max()) or 1.0
    t = blocks / scale
    red = np.where(t < 0, 1 + t, 1.0)
    green = 1 - np.abs(t)
    blue = np.where(t > 0, 1 - t, 1.0)
    image = (np.stack([red, green, blue], axis=-1) * 255).round().astype(np.uint8)
    grow = max(1, pixels // max(image.shape[:2]))
    image = image.repeat(grow, axis=0).repeat(grow, axis=1)
    return encode_png(image)


def encode_png(image: np.ndarray, level: int = 9, palette: Any = None) -> bytes:
    """RGB pixels (height, width, 3; uint8) as a PNG, through Pillow (which matplotlib already depends on); a low
    zlib `level` for pictures made as a control moves. With a `palette` (from `palette_of`), each pixel is stored
    as the index of its nearest palette colour: a fifth of the bytes, for a picture sent on every move."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    if palette is not None:
        picture = picture.quantize(palette=palette, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


# Palette entries kept for colours given by hand (a moving picture's artists), the rest found in the image.
_GIVEN = 16


def palette_of(image: np.ndarray, colours: np.ndarray) -> Any:
    """A 256-colour palette for pictures like `image` (RGB, uint8): the colours that cover most of it, and the
    given `colours` (up to 16, RGB in 0..1) exactly, so that lines drawn later over it keep their colour. A
    function of its inputs only, so the same background always gets the same palette."""
    from PIL import Image

    found = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").quantize(
        256 - _GIVEN, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    given = (np.asarray(colours, dtype=float).reshape(-1, 3)[:_GIVEN] * 255).round().astype(np.uint8)
    entries = (found.getpalette() or [])[:3 * (256 - _GIVEN)]
    entries += [int(c) for c in given.ravel()]
    palette = Image.new("P", (1, 1))
    palette.putpalette(entries + [0] * (768 - len(entries)))
    return palette
