"""The compiled gradient's code: a network's forward pass, the check of its outputs and every pullback written as
one Python function of numpy calls (`flat_function`), from the plan `compiled_walk.CompiledNetwork` resolves once
per cell: its steps (`Step`), its fused softmax cross-entropies (`Fused`) and their slots. The code is assembled
from `array_code`'s templates and slot numbers alone: no text of the cell reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from jacmagic.chain.array_code import (
    FusedLoss,
    Pull,
    Template,
    compiled,
    finite,
    fused_forward,
    fused_pullback,
    written,
)


@dataclass(frozen=True)
class Step:
    """One operation's pullback: where its gradient is, where its operands' go, where their values are."""

    pull: Pull
    at: int
    children: tuple[int, ...]
    operands: tuple[int, ...]  # value slots
    value: int
    wanted: tuple[bool, ...]  # which operands get a part (the rest: None)
    code: Template | None  # the pullback as code, for a plain operation

    def run(self, gradients: list[Any], values: list[Any]) -> None:
        flow = gradients[self.at]
        if flow is None:
            return
        for k, part in zip(self.children, self.pull(flow, [values[i] for i in self.operands], values[self.value])):
            if part is not None:
                gradients[k] = part if gradients[k] is None else gradients[k] + part


@dataclass(frozen=True)
class Fused:
    """A softmax cross-entropy the flat gradient computes and pulls back in one piece: its slots."""

    loss: FusedLoss
    top: int
    logits: int
    labels: int
    s: int  # softmax(z), a slot of its own
    logs: int  # log_softmax(z)
    inner: frozenset[int]  # the values the flat gradient does not compute
    wanted: tuple[bool, bool]  # gradients by z, by y


class Plan(Protocol):
    """What `flat_function` reads of the plan (`compiled_walk.CompiledNetwork`)."""

    inputs: tuple[tuple[int, str], ...]
    wrt: tuple[str, ...]
    slots: dict[str, int]
    output_slots: tuple[int, ...]
    one: bool
    forward_steps: list[tuple[Callable[..., np.ndarray], tuple[int, ...], int]]
    flat: list[Step]
    fused: list[Fused]


def flat_function(plan: Plan, template: list[Any], seeded: list[int]
                  ) -> tuple[Callable[..., tuple[np.ndarray | None, ...]], bool]:
    """The forward pass, the check of the outputs and every pullback as one Python function of numpy calls, run
    under errstate(all="raise"):
    `(seeds, *inputs) -> the gradients of the differentiated inputs in order` (None for one nothing reaches), e.g.
    `v7 = f3(v2, v5)` forward and `g2 = g2 + g7 * v5` back, plain operations' pullbacks written in line. Also
    whether every gradient it returns is sure to be a new array of its own: none is the upstream passed on as it
    is, a view of it (a transpose: each template part says, `array_code.Code.fresh`), a seed or another operation's
    part, and every one is reached."""
    bound: dict[str, Any] = {"check": _finite_outputs}
    body = []
    for k, value in enumerate(template):
        if value is not None:  # a number of the cell
            bound[f"n{k}"] = value
            body.append(f"    v{k} = n{k}")
    fused = {f.top: f for f in plan.fused}
    skipped = set().union(*(f.inner for f in plan.fused)) - set(fused)
    used = {k for _, operands, out in plan.forward_steps if out not in skipped for k in operands} | {
        k for step in plan.flat if step.at not in skipped and step.at not in fused for k in step.operands}
    for j, (call, operands, out) in enumerate(plan.forward_steps):
        if out in fused:
            bound[f"f{j}"] = fused_forward(fused[out].loss, out in used)
            body.append(f"    v{out}, v{fused[out].s}, v{fused[out].logs} = f{j}(v{fused[out].logits}, "
                        f"v{fused[out].labels})")
        elif out not in skipped:
            bound[f"f{j}"] = call
            body.append(f"    v{out} = f{j}({', '.join(f'v{k}' for k in operands)})")
    unchecked = [k for k in plan.output_slots if k not in fused]  # a fused loss checks its own value
    if unchecked:
        body.append(f"    check({', '.join(f'v{k}' for k in unchecked)})")
    reached: set[int] = set()
    shared: set[int] = set()  # gradients that may be an array another slot also holds
    unit = set(seeded) if plan.one else set()  # gradients that are the seed 1 alone

    def add(slot: int, part: str, new: bool) -> None:
        body.append(f"    g{slot} = g{slot} + {part}" if slot in reached else f"    g{slot} = {part}")
        unit.difference_update({slot} if slot in reached else set())
        (shared.discard if slot in reached or new else shared.add)(slot)
        reached.add(slot)
    for j, slot in enumerate(seeded):
        add(slot, f"s[{j}]", new=False)
    for j, step in enumerate(plan.flat):
        if step.at not in reached or step.at in skipped:
            continue  # nothing flows into this operation, or it is inside a fused loss
        if step.at in fused:
            _pull_fused(fused[step.at], step.at in unit, add, bound)
            continue
        if step.code is None:
            bound[f"b{j}"] = step.pull
            body.append(f"    p = b{j}(g{step.at}, ({''.join(f'v{k}, ' for k in step.operands)}), v{step.value})")
        forms, constants = step.code or ((None,) * len(step.children), {})
        names = {name: f"c{j}_{name}" for name in constants}
        bound.update({names[name]: value for name, value in constants.items()})
        for i, (child, wanted, code) in enumerate(zip(step.children, step.wanted, forms)):
            if wanted:
                add(child, f"p[{i}]" if code is None else
                    f"({written(code.form, f'g{step.at}', [f'v{k}' for k in step.operands], f'v{step.value}', names)})",
                    new=code is not None and code.fresh)
    slots = [plan.slots[name] for name in plan.wrt]
    body.append(f"    return ({''.join(f'g{k}, ' if k in reached else 'None, ' for k in slots)})")
    head = f"def flat(s, {''.join(f'v{k}, ' for k in range(len(plan.inputs)))}):\n"
    flat = compiled(head + "\n".join(body) + "\n", bound)["flat"]
    fresh = len(set(slots)) == len(slots) and all(k in reached and k not in shared for k in slots)
    return np.errstate(all="raise", under="ignore")(flat), fresh  # per call, thread-safe


def _pull_fused(loss: Fused, unit: bool, add: Callable[[int, str, bool], None], bound: dict[str, Any]) -> None:
    """A fused softmax cross-entropy's gradients by its logits and labels, added to theirs (its constants bound)."""
    forms, constants = fused_pullback(loss.loss, unit)
    names = {name: f"o{loss.top}_{name}" for name in constants}
    bound.update({names[name]: value for name, value in constants.items()})
    for slot, wanted, code in zip((loss.logits, loss.labels), loss.wanted, forms):
        if wanted:
            add(slot, "(" + code.form.format(up=f"g{loss.top}", y=f"v{loss.labels}", s=f"v{loss.s}",
                                             logs=f"v{loss.logs}", **names) + ")", code.fresh)


def _finite_outputs(*outputs: np.ndarray) -> None:
    """The one check of the outputs: nothing undefined reached them."""
    for output in outputs:
        finite(output)
