"""The closed forms written as a numpy function that runs as printed: with its imports and the helpers it calls, on
the arrays in the shapes a cell gives them. The formulas take a vector as an n x 1 column and a number as 1 x 1, so
the function reshapes such inputs first (a vector given as numpy's (n,) would otherwise make xᵀ a no-op and x xᵀ a
number: a wrong gradient, silently), and gives each gradient back in its array's own shape, as `R.gradient` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jacmagic.chain import closed_form_axes as axes
from jacmagic.chain import closed_form_images as images
from jacmagic.chain import closed_form_source as source
from jacmagic.chain.network import Network


def _taken_as(shape: tuple[int, ...]) -> str:
    return "a number, 1 x 1" if shape == (1, 1) else "a row" if shape[0] == 1 else "a column, as vectors are"


def function_source(network: Network, signature: str, doc: str, body: Sequence[str], results: Mapping[str, str],
                    in_shape: bool) -> str:
    """`def signature:` documented by `doc`: the inputs reshaped, `body`, then `results` (name -> the variable
    holding it) returned in a dict, each in the shape its input came in when `in_shape` (a gradient; a Jacobian
    stays a matrix)."""
    loose = [name for name in network.inputs if len(network.shape_of(name)) == 2 and 1 in network.shape_of(name)]
    taken = {*network.inputs, *(line.name for line in network.lines)}
    given = next(f"given{'_' * k}" for k in range(len(taken) + 1) if f"given{'_' * k}" not in taken)
    back = [name for name in results if name in loose] if in_shape else []
    head = [f"    {given} = {{{', '.join(f'{name!r}: np.shape({name})' for name in back)}}}  # the shapes to give "
            "back"] if back else []
    head += [f"    {name} = np.reshape({name}, {network.shape_of(name)})  # {_taken_as(network.shape_of(name))}"
             for name in loose]
    returned = {name: f"np.reshape({value}, {given}[{name!r}])" if name in back else value
                for name, value in results.items()}
    lines = [*head, *body, "    return {" + ", ".join(f"{name!r}: {value}" for name, value in returned.items()) + "}"]
    text = "\n".join(lines)
    return (source.helpers(text) + images.helpers(text) + axes.helpers(text)
            + f"def {signature}:\n    \"\"\"{doc}\"\"\"\n" + text + "\n")
