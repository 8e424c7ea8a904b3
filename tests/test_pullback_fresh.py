"""Each part of a pullback template says whether its value is a new array of its own (`array_code.Code.fresh`):
the compiled gradient skips keeping the arrays it hands out apart on that word alone (`flat_code.flat_function`),
so it must be true of every template. Run on values, a part shares memory with the upstream, an operand or the
value exactly when its flag says it may."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jacmagic.chain.array_code import Code, FusedLoss, compiled, fused_pullback, plain, pullback_code, written
from jacmagic.chain.elementwise import Apply, CrossEntropy
from jacmagic.chain.functions import FUNCTIONS
from jacmagic.chain.linear import MatMul, Transpose
from jacmagic.chain.operations import Arithmetic, Leaf, Negate, Node
from jacmagic.chain.reductions import Reduce, Softmax

RNG = np.random.default_rng(31)
A = Leaf("a", (3, 4))
_PLAIN_FUNCTIONS = [name for name in FUNCTIONS if plain(Apply(name, A))]


def _nodes() -> list[Node]:
    """Every kind of plain operation, with operands broadcast along no, one or both axes, and products small and
    large enough for BLAS to share among threads (then checked)."""
    found: list[Node] = []
    for shape in [(3, 4), (1, 4), (3, 1), (1, 1)]:
        b = Leaf("b", shape)
        found += [Arithmetic(op, left, right) for op in "+-*/" for left, right in ((A, b), (b, A))]
    found += [MatMul(Leaf("a", (r, k)), Leaf("b", (k, c))) for r, k, c in [(3, 4, 2), (3, 4, 1), (60, 60, 1),
                                                                             (1, 5, 3), (50, 50, 50)]]
    found += [Apply(name, A) for name in _PLAIN_FUNCTIONS]
    found += [Negate(A), Transpose(A)]
    found += [Softmax(A, axis=axis) for axis in (None, 0, 1)]
    found += [Reduce(kind, A, axis) for kind in ("sum", "mean") for axis in (None, 0, 1)]
    assert all(plain(node) for node in found)
    return found


def _shown(node: Node) -> str:
    return f"{node.show().text} {[c.shape for c in node.children]}"


def _run(code: Code, constants: dict[str, Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
    names = {name: name for name in constants}
    source = f"def part({', '.join(inputs)}):\n    return {written(code.form, 'up', ['a', 'b'], 'value', names)}\n"
    return compiled(source, {**constants, "np": np})["part"](**inputs)  # type: ignore[no-any-return]


@pytest.mark.parametrize("single", [True, False], ids=["one output entry", "several"])
@pytest.mark.parametrize("node", _nodes(), ids=_shown)
def test_a_pullback_part_shares_memory_with_its_inputs_exactly_when_its_flag_says_it_may(
        node: Node, single: bool) -> None:
    operands = [RNG.uniform(0.5, 2.0, child.shape) for child in node.children]
    inputs = {"up": RNG.standard_normal(node.shape if single else (2, *node.shape)),
              **dict(zip("ab", operands)), "value": node.evaluate(operands)}
    template = pullback_code(node, [True] * len(node.children), single)
    assert template is not None
    codes, constants = template
    for code in codes:
        assert code is not None
        part = _run(code, constants, inputs)
        shared = [name for name, value in inputs.items() if np.shares_memory(part, value)]
        assert bool(shared) is not code.fresh, (code, shared)


@pytest.mark.parametrize("unit", [True, False], ids=["the seed 1", "an upstream"])
@pytest.mark.parametrize("scale", [1.0, 0.25])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_a_fused_softmax_cross_entropys_parts_are_new_arrays_as_flagged(axis: int | None, scale: float,
                                                                      unit: bool) -> None:
    z, y = Leaf("z", (3, 4)), Leaf("y", (3, 4))
    top = CrossEntropy(z, y)
    codes, constants = fused_pullback(FusedLoss(top, z, y, (top,), axis, scale, True), unit)
    s = RNG.random((3, 4))
    inputs = {"up": np.ones((1, 1)), "y": RNG.random((3, 4)), "s": s, "logs": np.log(s)}
    names = {name: name for name in constants}
    for code in codes:
        source = f"def part({', '.join(inputs)}):\n    return {code.form.format(**{k: k for k in inputs}, **names)}\n"
        part = compiled(source, dict(constants))["part"](**inputs)
        shared = [name for name, value in inputs.items() if np.shares_memory(part, value)]
        assert bool(shared) is not code.fresh, (code, shared)
