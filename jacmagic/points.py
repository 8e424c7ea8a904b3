"""A point by name, and the shapes its arrays come back in: one rule for every result of a cell read as array
operations (each array as it was given, else as declared), and --wrt checked against the variables."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from jacmagic.chain.images import stack_of
from jacmagic.chain.network import Network
from jacmagic.chain.operations import Leaf, Node
from jacmagic.errors import OptionError
from jacmagic.finite import all_finite
from jacmagic.options import refuse_not_finite, refuse_repeated_wrt, shaped_array, unknown_wrt
from jacmagic.read.names import suggest


def chosen_wrt(network: Network, wrt: Sequence[str]) -> tuple[str, ...]:
    """The arrays and numbers differentiated by: --wrt, else every input."""
    if not wrt:
        return network.inputs
    computed = [line.name for line in network.lines]
    for name in wrt:
        if name not in network.inputs:
            raise unknown_wrt(name, network.inputs, computed)
    refuse_repeated_wrt(wrt)
    return tuple(wrt)


def input_dims(network: Network, text: str, at: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Each input's numpy shape: as declared (`x: 3` is (3,), `W: 3x1` is (3, 1)), else as its --at value,
    else a number's () or the working 2-D shape."""
    from jacmagic.read.source import is_def_cell, prepare, python_declarations

    declarations = python_declarations(text)[1] if is_def_cell(text) else prepare(text).declarations
    declared = {d.name: d.dims for d in declarations.values()}
    dims = {}
    for name in network.inputs:
        shape = network.shape_of(name)
        dims[name] = declared.get(name) or (np.shape(at[name]) if name in at else () if shape == (1, 1) else shape)
    return dims


def value_dims(network: Network, dims: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Each line's value in the shape numpy gives it from the inputs' shapes: an operation on vectors gives a
    vector, W @ x of a vector x a vector, a reduction or an entry a number."""
    ndims = {name: len(d) for name, d in dims.items()}
    found = {}
    for line in network.lines:
        ndims[line.name] = _ndim(line.root, ndims)
        found[line.name] = _numpy_shape(line.shape, ndims[line.name], stack_of(line.root))
    return found


def _ndim(node: Node, ndims: Mapping[str, int]) -> int:
    """numpy's number of axes of an operation's value (checked against its 2-D shape by `_numpy_shape`)."""
    if isinstance(node, Leaf):
        return ndims.get(node.name, 2)
    return node.axes([_ndim(child, ndims) for child in node.children])


def _numpy_shape(shape: tuple[int, int], ndim: int, stack: int) -> tuple[int, ...]:
    if ndim == 3:  # a batch of images, stacked along the rows
        return (stack, shape[0] // stack, shape[1])
    if ndim == 0 and shape == (1, 1):
        return ()
    if ndim == 1 and 1 in shape:
        return (shape[0] * shape[1],)
    return shape


def refuse_unknown(names: Sequence[str], known: Sequence[str], what: str = "") -> None:
    """A clear error for the first of `names` that is not a variable or constant of the map."""
    for name in names:
        if name not in known:
            raise OptionError(f"{what}{name} is not a variable of this map" + suggest(name, list(known)) +
                              f"; its names are {', '.join(known)}")


def batches_of_images(network: Network) -> dict[str, int]:
    """The inputs that are batches of images, with how many images each holds."""
    return {name: count for name in network.inputs if (count := network.stack_of(name)) > 1}


def arrays_by_name(shapes: Mapping[str, tuple[int, int]], names: Sequence[str], values: Mapping[str, Any],
                   complete: bool, copy: bool = True, stacks: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """A point by name, each value in its array's shape (`shapes`: each name's; `stacks`: the images of a batch,
    where more than one); every one of `names` needed when `complete`; a numpy array of doubles copied only if
    `copy` (a point kept must not change with the notebook)."""
    stacks = stacks or {}
    refuse_unknown(list(values), names)
    arrays = {name: shaped_array(name, value, shapes[name], stacks.get(name, 1), copy, finite=False)
              for name, value in values.items()}
    refuse_not_finite(arrays)
    missing = [n for n in names if n not in arrays]
    if complete and missing:
        raise OptionError(f"no value given for {', '.join(missing)} (a point needs {', '.join(names)})")
    return arrays


_DOUBLE = np.dtype(np.float64)  # compared as a dtype: against the type np.float64, a comparison costs twice as much
Taken = Mapping[tuple[int, ...], tuple[int, int]]  # the numpy shapes a name's value may come in, to its working shape


def arrays_as_given(taken: Mapping[str, Taken], values: Mapping[str, Any], copy: bool) -> dict[str, np.ndarray] | None:
    """`arrays_by_name`'s point when every value is a numpy array of doubles (not a subclass) in a shape its name
    takes (`taken`: `options.shapes_taken` by name) and all are finite, read at the cost of a look-up per array and
    one finiteness check (`finite.all_finite`); None for anything else, which `arrays_by_name` then reads or
    refuses, saying why."""
    arrays = arrays_in_order({name: taken.get(name) for name in values}, values)
    return None if arrays is None else {name: a.copy() if copy else a for name, a in zip(values, arrays)}


def arrays_in_order(taken: Mapping[str, Taken | None], values: Mapping[str, Any],
                    proven: Collection[int] = ()) -> list[np.ndarray] | None:
    """`arrays_as_given` for a point that gives every name of `taken` (each name's shapes, None for a name that is
    not a variable) and nothing else, as a list in its order (what the compiled gradient takes); never copied.
    None for anything else. The arrays at the places `proven` are not checked finite here: the caller's
    computation raises where one is not (`CompiledNetwork.proven`), and then reads the point, naming it."""
    if len(values) != len(taken):
        return None
    arrays = []
    for name, shapes in taken.items():
        value = values.get(name)
        if shapes is None or type(value) is not np.ndarray or value.dtype != _DOUBLE:
            return None
        shape = shapes.get(value.shape)
        if shape is None:
            return None
        arrays.append(value if value.shape == shape else value.reshape(shape))
    return arrays if all_finite([a for k, a in enumerate(arrays) if k not in proven] if proven else arrays) else None
