"""Result -> matplotlib pictures of what the Jacobian does (`--plot`, `result.plot()`), and the area check.

Every number comes from the result's vectorised evaluators (the map and its Jacobian on whole grids in one call).
Artists that carry data carry a `gid` ("jacmagic-...") so that tests and users can find them. matplotlib is
imported only here, and only when a picture is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jacmagic.chain.evaluate import orientation
from jacmagic.errors import OptionError
from jacmagic.notation import pretty
from jacmagic.options import WIDEST, drawable
from jacmagic.views import grids
from jacmagic.views.area import domain_ranges

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from jacmagic.symbolic import SymbolicJacobian

GRID = 200  # points per side of the coloured grid: 200 x 200 draws in well under a second
PANEL_GRID = 80  # coarser in the panel, where the picture is redrawn as the point moves
LINES = 11  # grid lines per direction drawn over it
LABELLED = 12  # about how many of its inputs or outputs an axis of many labels (6 to 24, evenly spaced)
# Values past this are not drawn: matplotlib sums and squares what it is given (limits, margins, colour scales, arrow
# lengths), which overflows near the largest double (1.8e308). Above the widest drawable input range (options.py).
LARGEST = 1e150


def default_domain(result: SymbolicJacobian, point: Mapping[str, float],
                   given: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """The plotted region, each range checked once: `given` (`plot(domain=...)`), else `--domain`, else the point
    plus or minus max(1, |value|) (a point at 1e300 gives a range no grid can be laid on: refused)."""
    ranges = {**domain_ranges(result, {name: (lo, hi) for name, lo, hi in result.options.domain}, "--domain: "),
              **domain_ranges(result, given or {}, "plot: domain: ")}
    for symbol in result.inputs:
        if symbol.name not in ranges:
            ranges[symbol.name] = picture_range(symbol.name, point[symbol.name])
    return {symbol.name: ranges[symbol.name] for symbol in result.inputs}


def picture_range(name: str, value: float) -> tuple[float, float]:
    """The plotted range of an input no domain is given for: the point plus or minus max(1, |value|), half a
    slider's (`widgets.slider_range`, made for exploring) so that the grid is fine near the point. Around a point
    too far out it is too wide to draw: refused in words about the point (from --at, the panel or plot(point=)),
    never as a --domain the user did not type, with the --domain that would draw."""
    span = max(1.0, abs(value))
    lo, hi = value - span, value + span
    if drawable(lo, hi):
        return lo, hi
    around = (value - WIDEST / 2, value + WIDEST / 2)
    give = f"a --domain around it at most {WIDEST:g} wide (e.g. --domain {name}={around[0]:g}:{around[1]:g})" \
        if drawable(*around) else f"a --domain nearer 0 (e.g. --domain {name}=-1:1): no range around it can be drawn"
    raise OptionError(f"the point's {name}={value:g} is too far out to plot around: the plotted range by default is "
                      f"the point plus or minus its size, {name}={lo:g}:{hi:g}, wider than {WIDEST:g}; give {give} "
                      "(in Python: plot(domain=...))")


def _coloured(axes: Any, x: np.ndarray, y: np.ndarray, values: np.ndarray, gid: str, **style: Any) -> Any:
    """`values` drawn over the curved grid (x, y); where the map is undefined the grid has holes, which a mesh
    cannot have, so the defined points are drawn as dots instead."""
    if np.isfinite(x).all() and np.isfinite(y).all():
        return axes.pcolormesh(x, y, values, shading="gouraud", cmap="viridis", gid=gid, **style)
    shown = np.isfinite(x) & np.isfinite(y)
    return axes.scatter(x[shown], y[shown], c=values[shown], s=4, cmap="viridis", gid=gid, **style)


def _overflows(values: np.ndarray) -> bool:
    """Whether any value overflowed (inf) or is too large to draw."""
    return bool((np.abs(values[~np.isnan(values)]) > LARGEST).any())


def _drawable(values: np.ndarray) -> np.ndarray:
    """`values` with what overflowed or is too large to draw set to nan: drawn as a hole, like undefined points."""
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(values) <= LARGEST, values, np.nan)


def _drawn_image(fig: Figure, image: np.ndarray) -> np.ndarray:
    """`image` (..., m), the map's outputs over the plotted grid, as drawn. Refused where no point can be drawn;
    where some overflow, the picture says so above its panels."""
    drawable = _drawable(image)
    if not np.isfinite(drawable).all(axis=-1).any():
        why = [w for w, present in (("is undefined", np.isnan(image).any()), ("overflows", _overflows(image)))
               if present]
        raise OptionError(f"the map {' or '.join(why)} everywhere in the plotted region (values past {LARGEST:g} "
                          "are not drawn); choose another --domain")
    if _overflows(image):
        fig.suptitle(f"the map overflows (values past {LARGEST:g}) in part of the plotted region: blank there",
                     color="crimson", gid="jacmagic-overflow")
    return drawable


def png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes, for a static display or an Image widget."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure(result: SymbolicJacobian, point: Mapping[str, float] | None = None,
           domain: Mapping[str, tuple[float, float]] | None = None, grid: int = GRID) -> Figure:
    """The picture that fits the map: change of variables for R^2 -> R^2, a slice for R^3 -> R^3, contours and
    gradient arrows for a scalar function of two variables, else a heat map of J at the point."""
    point = {**result.default_point(), **(point or {})}
    return _figure(result, point, default_domain(result, point, domain), grid)


def _figure(result: SymbolicJacobian, point: Mapping[str, float], domain: Mapping[str, tuple[float, float]],
            grid: int) -> Figure:
    """`figure` over a region `default_domain` has checked."""
    from matplotlib.figure import Figure

    m, n = result.shape
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    if (m, n) == (2, 2):
        _change_of_variables(fig, result, point, domain, grid)
    elif (m, n) == (3, 3):
        _slice(fig, result, point, domain, grid)
    elif (m, n) == (1, 2):
        _contours(fig, result, point, domain, grid)
    else:
        _heat_map(fig, result, point)
    return fig


def _labels(result: SymbolicJacobian) -> tuple[list[str], list[str]]:
    return [pretty(s) for s in result.inputs], [pretty(s) for s in result.outputs]


def _change_of_variables(fig: Figure, result: SymbolicJacobian, point: Mapping[str, float],
                         domain: Mapping[str, tuple[float, float]], grid: int) -> None:
    ins, outs = _labels(result)
    left, right = fig.subplots(1, 2)
    plane = grids.plane(result, point, domain, grid)
    image = _drawn_image(fig, grids.image(result, plane.arguments))
    signed = _drawable(grids.det(grids.jacobians(result, plane.arguments)))
    det = np.abs(signed)
    mesh = _coloured(right, image[..., 0], image[..., 1], det, "jacmagic-det")
    left.pcolormesh(plane.u, plane.v, det, shading="gouraud", cmap="viridis", alpha=0.35)
    fig.colorbar(mesh, ax=right, label="|det J|")
    for k in np.linspace(0, grid - 1, LINES).astype(int):
        left.plot(plane.u[k], plane.v[k], color="0.3", lw=0.6)
        left.plot(plane.u[:, k], plane.v[:, k], color="0.3", lw=0.6)
        right.plot(image[k, :, 0], image[k, :, 1], color="0.15", lw=0.6)
        right.plot(image[:, k, 0], image[:, k, 1], color="0.15", lw=0.6)
    defined = signed[np.isfinite(signed)]
    if defined.size and defined.min() < 0 < defined.max():  # the singular curve det J = 0, where orientation flips
        curve = left.contour(plane.u, plane.v, signed, levels=[0.0], colors="crimson", linewidths=1.5)
        left.contourf(plane.u, plane.v, signed, levels=[defined.min(), 0.0], colors="none", hatches=["//"])
        first, second = (s.name for s in result.inputs)
        for segment in curve.allsegs[0]:  # and where the map sends it: the fold line of the image
            folded = _drawable(grids.image(result, grids.arguments(result, point, {first: segment[:, 0],
                                                                         second: segment[:, 1]})))
            right.plot(folded[:, 0], folded[:, 1], color="crimson", lw=1.5, gid="jacmagic-fold")
    _small_square(left, right, result, point, domain)
    left.set(xlabel=ins[0], ylabel=ins[1], title="inputs")
    left.set_aspect("equal", adjustable="box")  # one scale on both axes: the small square is drawn square
    right.set(xlabel=outs[0], ylabel=outs[1], title="image, coloured by |det J|")
    right.set_aspect("equal", adjustable="datalim")


@dataclass(frozen=True)
class Square:
    """A small square at the point (`u`, `v`), its image under the map, J applied to it (the linearised
    parallelogram; None where J is undefined) and what they say."""

    u: np.ndarray
    v: np.ndarray
    image: np.ndarray
    parallelogram: np.ndarray | None
    reading: str


def small_square(result: SymbolicJacobian, point: Mapping[str, float],
                 domain: Mapping[str, tuple[float, float]]) -> Square:
    first, second = (s.name for s in result.inputs)
    side = 0.06 * min(domain[first][1] - domain[first][0], domain[second][1] - domain[second][0])
    p = np.array([point[first], point[second]])
    u, v = grids.rectangle((p[0] - side / 2, p[1] - side / 2), (p[0] + side / 2, p[1] + side / 2), 50)
    raw_image = grids.image(result, grids.arguments(result, point, {first: u, second: v}))
    raw_jac = result.at(**dict(point))
    image, jac = _drawable(raw_image), _drawable(raw_jac)
    centre = _drawable(grids.image(result, grids.arguments(result, point, {})))
    if not (np.isfinite(jac).all() and np.isfinite(image).all() and np.isfinite(centre).all()):
        why = f"the map overflows (values past {LARGEST:g})" if _overflows(raw_image) or _overflows(raw_jac) \
            else "J is undefined"
        return Square(u, v, image, None, f"{why} at this point, so J does not say how a small square is changed")
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]) * side / 2
    ratio = grids.polygon_area(image[:, 0], image[:, 1]) / side**2
    return Square(u, v, image, centre + corners @ jac.T,
                  f"det J = {float(np.linalg.det(jac)):.4g} ({orientation(jac)})\n"
                  f"area(image of square) / area(square) = {ratio:.4g}")


def _small_square(left: Any, right: Any, result: SymbolicJacobian, point: Mapping[str, float],
                  domain: Mapping[str, tuple[float, float]]) -> None:
    """The square, its image and the parallelogram as artists that a moving picture updates in place."""
    square = small_square(result, point, domain)
    left.fill(*_closed(square.u, square.v), color="tab:orange", alpha=0.8, gid="jacmagic-square")
    right.fill(*_closed(square.image[:, 0], square.image[:, 1]), color="tab:orange", alpha=0.8,
               gid="jacmagic-square-image", visible=square.parallelogram is not None)
    shape = square.parallelogram if square.parallelogram is not None else np.zeros((5, 2))
    right.plot(shape[:, 0], shape[:, 1], "--", color="crimson", lw=1.5, gid="jacmagic-parallelogram",
               visible=square.parallelogram is not None)
    right.text(0.02, 0.98, square.reading, transform=right.transAxes, va="top", fontsize=9, gid="jacmagic-ratio",
               bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})


def _closed(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.append(x, x[0]), np.append(y, y[0])


def _slice(fig: Figure, result: SymbolicJacobian, point: Mapping[str, float],
           domain: Mapping[str, tuple[float, float]], grid: int) -> None:
    """R^3 -> R^3: the plane of the first two inputs through the point, and its image in space."""
    ins, outs = _labels(result)
    left = fig.add_subplot(1, 2, 1)
    right = fig.add_subplot(1, 2, 2, projection="3d")
    plane = grids.plane(result, point, domain, grid // 4)
    image = _drawn_image(fig, grids.image(result, plane.arguments))
    det = np.abs(_drawable(grids.det(grids.jacobians(result, plane.arguments))))
    mesh = left.pcolormesh(plane.u, plane.v, det, shading="gouraud", cmap="viridis", gid="jacmagic-det")
    fig.colorbar(mesh, ax=left, label="|det J|")
    from matplotlib import cm
    from matplotlib.colors import Normalize

    colours = cm.viridis(Normalize(np.nanmin(det), np.nanmax(det))(det))
    right.plot_surface(image[..., 0], image[..., 1], image[..., 2], facecolors=colours, shade=False,
                       gid="jacmagic-image")
    held = ins[2]
    left.set(xlabel=ins[0], ylabel=ins[1], title=f"inputs: the slice {held} = {point[result.inputs[2].name]:.4g}")
    right.set(xlabel=outs[0], ylabel=outs[1], zlabel=outs[2], title="its image, coloured by |det J|")


def _contours(fig: Figure, result: SymbolicJacobian, point: Mapping[str, float],
              domain: Mapping[str, tuple[float, float]], grid: int) -> None:
    """A scalar function of two variables: contours, and the gradient (the 1 x 2 Jacobian) as arrows."""
    ins, outs = _labels(result)
    axes = fig.subplots(1, 1)
    plane = grids.plane(result, point, domain, grid)
    values = _drawn_image(fig, grids.image(result, plane.arguments))[..., 0]
    filled = axes.contourf(plane.u, plane.v, values, levels=20, cmap="viridis")
    axes.contour(plane.u, plane.v, values, levels=20, colors="0.2", linewidths=0.4)
    fig.colorbar(filled, ax=axes, label=outs[0])
    coarse = grids.plane(result, point, domain, 15)
    grad = _drawable(grids.jacobians(result, coarse.arguments))[..., 0, :]
    scale = _arrow_scale(grad)
    axes.quiver(coarse.u, coarse.v, grad[..., 0], grad[..., 1], color="white", edgecolor="0.2", linewidth=0.4,
                scale=scale, gid="jacmagic-gradients")
    _place_arrow(axes.quiver([0.0], [0.0], [0.0], [0.0], color="crimson", scale=scale,
                             gid="jacmagic-gradient-at-point"), result, point)
    axes.set(xlabel=ins[0], ylabel=ins[1], title=f"{outs[0]}: contours and gradient arrows (J is the gradient)")
    axes.set_aspect("equal", adjustable="box")  # one scale on both axes: the gradient is drawn normal to the contours


def _arrow_scale(grad: np.ndarray) -> float:
    """matplotlib's own arrow scale (the mean arrow 1 / (1.8 max(10, sqrt N)) of the width), shared by the field
    and the arrow at the point: left to quiver, each would take it at its first draw from the arrows it then has,
    and divide by zero when those are all zero or undefined."""
    lengths = np.hypot(grad[..., 0], grad[..., 1])
    mean = float(lengths[np.isfinite(lengths)].mean()) if np.isfinite(lengths).any() else 0.0
    return 1.8 * max(10.0, math.sqrt(lengths.size)) * (mean if mean > 0 else 1.0)


def _place_arrow(arrow: Any, result: SymbolicJacobian, point: Mapping[str, float]) -> None:
    """The gradient arrow at the point; hidden where the gradient is undefined or too long to draw."""
    first, second = (s.name for s in result.inputs)
    at = _drawable(result.at(**dict(point)))[0]
    shown = bool(np.isfinite(at).all())
    arrow.set_offsets([[point[first], point[second]]])
    arrow.set_UVC(*([a] if shown else [0.0] for a in at))
    arrow.set_visible(shown)


def _heat_map(fig: Figure, result: SymbolicJacobian, point: Mapping[str, float]) -> None:
    """Any other shape: J at the point as a heat map, and which entries are identically zero. An axis of many
    inputs or outputs labels about `LABELLED` of them, evenly spaced (`labelled`), and says so: matplotlib lays out
    every tick label at every draw (500 outputs took 7 s), and more than a few dozen cannot be read anyway."""
    values = result.at(**dict(point))
    panels = 2 if result.eager_matrix is not None else 1
    axes = np.atleast_1d(fig.subplots(1, panels))
    finite = np.abs(values[np.isfinite(values)])
    bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    aspect = "equal" if max(values.shape) <= LABELLED else "auto"  # a 500 x 2 image drawn square is a thread
    image = axes[0].imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect=aspect, gid="jacmagic-heat")
    fig.colorbar(image, ax=axes[0], label="J at the point")
    columns, rows = _ticks(result.inputs), _ticks(result.outputs)
    for ax in axes:
        ax.set_xticks(*columns, rotation=90 if len(columns[0]) > 8 else 0)
        ax.set_yticks(*rows)
    axes[0].set_title("J at the point (rows: outputs, columns: inputs)" + _unlabelled(result))
    if result.eager_matrix is not None:
        pattern = np.array([[e != 0 for e in row] for row in result.eager_matrix.tolist()], dtype=float)
        axes[1].imshow(pattern, cmap="Greys", vmin=0, vmax=1, aspect=aspect, gid="jacmagic-sparsity")
        axes[1].set_title("entries not identically zero")


def _ticks(symbols: Sequence[Any]) -> tuple[list[int], list[str]]:
    """Where an axis of `symbols` is labelled (`labelled`), and with what."""
    at = labelled(len(symbols))
    return at, [pretty(symbols[k]) for k in at]


def labelled(count: int) -> list[int]:
    """Which of `count` rows or columns an axis labels: each, up to `LABELLED`; else the first, the last and
    evenly between: one step all along where a step that divides count - 1 labels 6 to 24 (the count nearest
    `LABELLED`; always so up to 24), else `LABELLED` at steps that differ by one and are at least 2 (the first
    and last fix the ends, and count - 1 is then a prime or has no divisor in range). Rounding `LABELLED` evenly
    spaced points alone mixed steps of 1 and 2 between 13 and 24: a skip here and there."""
    if count <= LABELLED:
        return list(range(count))
    last = count - 1
    steps = [s for s in range(1, last + 1) if last % s == 0 and LABELLED // 2 <= last // s + 1 <= 2 * LABELLED]
    if steps:
        return list(range(0, count, min(steps, key=lambda s: (abs(last // s + 1 - LABELLED), s))))
    return [round(k * last / (LABELLED - 1)) for k in range(LABELLED)]


def _unlabelled(result: SymbolicJacobian) -> str:
    """What the heat map's labels leave out, in words: `12 of the 500 outputs labelled (result.outputs lists
    them)`."""
    many = [(kind, len(symbols)) for kind, symbols in (("outputs", result.outputs), ("inputs", result.inputs))
            if len(labelled(len(symbols))) < len(symbols)]
    if not many:
        return ""
    said = " and ".join(f"{len(labelled(count))} of the {count} {kind}" for kind, count in many)
    where = " and ".join(f"result.{kind}" for kind, _ in many)
    return f"\n{said} labelled ({where} list{'s' * (len(many) == 1)} them)"


def _colours(artists: list[Any]) -> np.ndarray:
    """The colours the moving artists draw with (RGB in 0..1, translucent ones over white), for the palette."""
    from matplotlib.colors import to_rgba_array

    found = []
    for artist in artists:
        for name in ("get_facecolor", "get_edgecolor", "get_color"):
            if hasattr(artist, name):
                found.append(to_rgba_array(getattr(artist, name)()))
    rgba = np.unique(np.concatenate(found or [np.zeros((0, 4))]), axis=0)
    return rgba[:, :3] * rgba[:, 3:] + (1 - rgba[:, 3:])


# The artists that follow the point; everything else is drawn once per background.
_MOVING = frozenset({"jacmagic-square", "jacmagic-square-image", "jacmagic-parallelogram", "jacmagic-ratio",
                     "jacmagic-gradient-at-point"})


class MovingPicture:
    """The panel's --plot picture, kept alive: moving a variable moves the square, its image, the parallelogram
    and the gradient arrow over a background drawn once (blitting, then a quick PNG of the pixels), instead of
    drawing the whole figure again; a change that moves the map itself (a constant, the held input of a slice,
    any value for a heat map) draws everything once more."""

    def __init__(self, result: SymbolicJacobian, domain: Mapping[str, tuple[float, float]], grid: int = PANEL_GRID,
                 dpi: int = 80) -> None:
        """`domain` as `default_domain` gives it, checked: a redraw checks nothing again."""
        self.result, self.domain, self.grid, self.dpi = result, dict(domain), grid, dpi
        self._key: tuple[float, ...] | None = None
        self._background: Any = None
        self._palette: Any = None

    def png(self, point: Mapping[str, float]) -> bytes:
        point = {**self.result.default_point(), **point}
        key = self._background_key(point)
        if key != self._key:
            self._draw_all(point)
            self._key = key
        else:
            self._move(point)
        from jacmagic.views.graph import encode_png

        return encode_png(np.asarray(self._canvas.buffer_rgba())[..., :3], level=6, palette=self._palette)

    def _background_key(self, point: Mapping[str, float]) -> tuple[float, ...]:
        m, n = self.result.shape
        still = [s.name for s in self.result.arguments]
        if (m, n) in ((2, 2), (1, 2)):  # the first two inputs only move the square or the arrow
            still = still[2:]
        return tuple(float(point[name]) for name in still)

    def _draw_all(self, point: Mapping[str, float]) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = _figure(self.result, point, self.domain, self.grid)
        fig.set_dpi(self.dpi)
        self._canvas = FigureCanvasAgg(fig)
        self._artists = fig.findobj(lambda artist: artist.get_gid() in _MOVING)
        shown = [artist.get_visible() for artist in self._artists]
        for artist in self._artists:
            artist.set_visible(False)
        self._canvas.draw()
        self._background = self._canvas.copy_from_bbox(fig.bbox)
        from jacmagic.views.graph import palette_of

        self._palette = palette_of(np.asarray(self._canvas.buffer_rgba())[::2, ::2, :3],
                                   _colours(self._artists))
        for artist, visible in zip(self._artists, shown):
            artist.set_visible(visible)
        self._blit()

    def _move(self, point: Mapping[str, float]) -> None:
        by_gid: dict[str, Any] = {str(artist.get_gid()): artist for artist in self._artists}
        if "jacmagic-square" in by_gid:
            square = small_square(self.result, point, self.domain)
            by_gid["jacmagic-square"].set_xy(np.column_stack(_closed(square.u, square.v)))
            defined = square.parallelogram is not None
            by_gid["jacmagic-square-image"].set_xy(np.column_stack(_closed(square.image[:, 0], square.image[:, 1])))
            by_gid["jacmagic-square-image"].set_visible(defined)
            if square.parallelogram is not None:
                by_gid["jacmagic-parallelogram"].set_data(square.parallelogram[:, 0], square.parallelogram[:, 1])
            by_gid["jacmagic-parallelogram"].set_visible(defined)
            by_gid["jacmagic-ratio"].set_text(square.reading)
        if "jacmagic-gradient-at-point" in by_gid:
            _place_arrow(by_gid["jacmagic-gradient-at-point"], self.result, point)
        self._blit()

    def _blit(self) -> None:
        self._canvas.restore_region(self._background)
        for artist in self._artists:
            if artist.get_visible() and artist.axes is not None:
                artist.axes.draw_artist(artist)
