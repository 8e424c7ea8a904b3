"""The entry-level reading of a cell (stages of sympy formulas) as the graph every `--chain` walk runs on.

A cell the array reader does not read line by line - math-form functions composed in order (`g(x1, x2) = [...]`
then `h(u, v) = [...]`), a function that calls another - is read by the entry-level reader into stages; each stage
becomes one line of the graph whose operation is its formulas (`chain.formulas.Formulas`), fed by the inputs and
by the entries of the lines before it. Nothing is parsed twice: the stages are the model the symbolic Jacobian
comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

import sympy as sp

from jacmagic.chain.formulas import Formulas
from jacmagic.chain.linear import Entry
from jacmagic.chain.network import Line, Network
from jacmagic.chain.operations import Leaf, Node
from jacmagic.model import CellModel, Stage


def network_of_stages(model: CellModel) -> Network:
    """Each stage a line of one `Formulas` operation; a stage's value is a column of its outputs (one output: a
    number), an array declared at the entry level is one input whose entries feed the formulas."""
    places: dict[sp.Symbol, tuple[str, int, tuple[int, int]]] = {}
    for shape in model.shapes:
        places.update({s: (shape.name, k, (shape.rows, shape.cols)) for k, s in enumerate(shape.symbols)})
    arrays = {shape.name: shape.symbols for shape in model.shapes}  # each declared array's entries, row-major
    order = {s: (name, k) for name, symbols in arrays.items() for k, s in enumerate(symbols)}
    outputs: dict[str, tuple[sp.Symbol, ...]] = {}  # each earlier stage's outputs, in order
    lines: list[Line] = []
    for stage in model.stages:
        leaves: dict[str, Leaf] = {}

        def fed(symbol: sp.Symbol, leaves: dict[str, Leaf] = leaves) -> Node:
            name, place, shape = places.get(symbol, (symbol.name, -1, (1, 1)))
            leaf = leaves.setdefault(name, Leaf(name, shape))
            return leaf if place < 0 else Entry(leaf, place, str(place))

        params, sources = _operands(stage, order)
        root = Formulas(params, stage.expressions, _feeds(sources, fed, {**arrays, **outputs}), stage.guards)
        lines.append(Line(stage.name, stage.line, root, tuple(leaves.values())))
        outputs[stage.name] = stage.outputs
        places.update({o: (stage.name, k if len(stage.outputs) > 1 else -1, (len(stage.outputs), 1))
                       for k, o in enumerate(stage.outputs)})
    computed = {line.name for line in lines}
    used = [leaf.name for line in lines for leaf in line.leaves]
    inputs = tuple(dict.fromkeys(n for n in used if n not in computed))
    declared = {s.name: (s.rows, s.cols) for s in model.shapes}
    return Network(declared, tuple(lines), inputs, tuple(line.name for line in lines if line.name not in used))


def _feeds(sources: tuple[sp.Symbol, ...], fed: Callable[[sp.Symbol], Node],
           outputs: dict[str, tuple[sp.Symbol, ...]]) -> tuple[Node, ...]:
    """One operand per source, except that all the outputs of an earlier stage (or all the entries of a declared
    array) feeding consecutive parameters in order (g's two outputs feeding h(u, v), W's entries in W @ x) are that
    value whole: ∂h/∂g, ∂h/∂W are then one block, not a sum over entries."""
    feeds: list[Node] = []
    k = 0
    while k < len(sources):
        whole = next((name for name, outs in outputs.items() if len(outs) > 1
                      and sources[k:k + len(outs)] == outs), None)
        if whole is not None:
            entry = fed(sources[k])
            assert isinstance(entry, Entry)
            feeds.append(entry.child)
            k += len(outputs[whole])
        else:
            feeds.append(fed(sources[k]))
            k += 1
    return tuple(feeds)


def _operands(stage: Stage, order: dict[sp.Symbol, tuple[str, int]]) -> tuple[tuple[sp.Symbol, ...],
                                                                             tuple[sp.Symbol, ...]]:
    """The stage's parameters and what feeds each, then every other name its formulas read (a variable or an
    earlier value used directly, a constant), fed by itself: the gradient flows back along each of them. Entries
    of one array next to each other come in its row-major `order` (W_2,1 before W_10,1), so they can feed as the
    array whole."""
    used = set().union(*(e.free_symbols for e in stage.expressions), *(g.expression.free_symbols
                                                                         for output in stage.guards for g in output))
    direct = tuple(sorted(used - set(stage.params), key=lambda s: s.name))
    pairs = list(zip(stage.params + direct, stage.sources + direct))
    ordered = [pair for _, run in groupby(pairs, key=lambda pair: order.get(pair[1], ("", 0))[0])
               for pair in sorted(run, key=lambda pair: order.get(pair[1], ("", 0))[1])]
    return tuple(p for p, _ in ordered), tuple(s for _, s in ordered)
