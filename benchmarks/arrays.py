"""The array-level rows: a classifier's gradient, its walkthrough, a mini-batch, a wide hidden layer and a pasted
array, each against numpy written by hand (and jax or torch where installed) measured in the same run, turn about.

    python benchmarks/run.py --only arrays
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jacmagic import jacobian

Row = Callable[..., None]


def classifier(inputs: int, hidden: int, classes: int, batch: int = 0, loss: str = "sum"
               ) -> tuple[str, dict[str, np.ndarray]]:
    """The softmax classifier with cross-entropy and a point (weights, an input, a one-hot label); with `batch`,
    one example per column of X and Y, the biases columns added to every column, the loss summed or averaged."""
    rng = np.random.default_rng(0)
    point = {"W1": rng.standard_normal((hidden, inputs)) * 0.1, "b1": np.zeros(hidden),
             "W2": rng.standard_normal((classes, hidden)) * 0.1, "b2": np.zeros(classes)}
    if not batch:
        cell = (f"W1: {hidden}x{inputs}\nb1: {hidden}\nW2: {classes}x{hidden}\nb2: {classes}\nx: {inputs}\n"
                f"y: {classes}\nh = relu(W1 @ x + b1)\nz = W2 @ h + b2\nL = -sum(y * log(softmax(z)))")
        return cell, {**point, "x": rng.random(inputs), "y": np.eye(classes)[3]}
    cell = (f"W1: {hidden}x{inputs}\nb1: {hidden}x1\nW2: {classes}x{hidden}\nb2: {classes}x1\nX: {inputs}x{batch}\n"
            f"Y: {classes}x{batch}\nH = relu(W1 @ X + b1)\nZ = W2 @ H + b2\n"
            f"L = -{loss}(Y * log(softmax(Z, axis=0)))")
    point = {**point, "b1": np.zeros((hidden, 1)), "b2": np.zeros((classes, 1))}
    return cell, {**point, "X": rng.random((inputs, batch)), "Y": np.eye(classes)[:, rng.integers(0, classes, batch)]}


def hand_backprop(p: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The classifier's gradient as a person writes it in numpy (one example, or a batch in the columns with the
    loss summed)."""
    x, y = (p["x"], p["y"]) if "x" in p else (p["X"], p["Y"])
    column = x.ndim == 1
    b1, b2 = (p["b1"], p["b2"]) if column else (p["b1"].reshape(-1, 1), p["b2"].reshape(-1, 1))
    a = p["W1"] @ x + b1
    h = np.maximum(a, 0)
    z = p["W2"] @ h + b2
    s = np.exp(z - z.max(axis=0))
    dz = s / s.sum(axis=0) - y
    da = (p["W2"].T @ dz) * (a > 0)
    if column:
        return [np.outer(da, x), da, np.outer(dz, h), dz]
    return [da @ x.T, da.sum(axis=1, keepdims=True), dz @ h.T, dz.sum(axis=1, keepdims=True)]


def jax_gradient() -> Callable[[dict[str, np.ndarray]], Any] | None:
    """jax.jit(jax.grad(...)) of the same loss, None without jax (pip install -e '.[bench]')."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss(params: dict[str, Any], x: Any, y: Any) -> Any:
        h = jax.nn.relu(params["W1"] @ x + params["b1"])
        return -jnp.sum(y * jax.nn.log_softmax(params["W2"] @ h + params["b2"]))

    compiled = jax.jit(jax.grad(loss))

    def gradient(p: dict[str, np.ndarray]) -> Any:
        params = {n: p[n] for n in ("W1", "b1", "W2", "b2")}
        return jax.block_until_ready(compiled(params, p["x"], p["y"]))
    return gradient


def torch_gradient() -> Callable[[dict[str, np.ndarray]], Any] | None:
    """The same gradient by torch's autograd, None without torch."""
    try:
        import torch
    except ImportError:
        return None

    def gradient(p: dict[str, np.ndarray]) -> Any:
        params = {n: torch.tensor(p[n], requires_grad=True) for n in ("W1", "b1", "W2", "b2")}
        h = torch.relu(params["W1"] @ torch.from_numpy(p["x"]) + params["b1"])
        z = params["W2"] @ h + params["b2"]
        loss = -(torch.from_numpy(p["y"]) * torch.log_softmax(z, dim=0)).sum()
        return torch.autograd.grad(loss, list(params.values()))
    return gradient


def turn_about(ours: Callable[[], object], theirs: Callable[[], object], repeats: int, inner: int
               ) -> tuple[float, float]:
    """Medians of ours and theirs measured alternately: load on a shared machine falls on both alike."""
    ours(), theirs()  # warm-up: imports, first-call setup, jax's compilation
    mine, reference = [], []
    for _ in range(repeats):
        for call, into in ((ours, mine), (theirs, reference)):
            start = time.perf_counter()
            for _ in range(inner):
                call()
            into.append((time.perf_counter() - start) / inner)
    return statistics.median(mine), statistics.median(reference)


def gradient_rows(row: Row, repeats: int, sizes: tuple[int, int, int], target: str, inner: int,
                  against: str | None = "reported") -> None:
    """The gradient against hand numpy, and against jax and torch (where installed; `against`: their target,
    None for no framework rows)."""
    cell, point = classifier(*sizes)
    result: Any = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    label = "->".join(map(str, sizes))
    assert all(np.allclose(g, h) for g, h in zip(result.gradient(**point).values(), hand_backprop(point)))
    row(f"{label} gradient at a point (R.gradient)",
        *turn_about(lambda: result.gradient(**point), lambda: hand_backprop(point), repeats, inner),
        "hand-written numpy backprop", target)
    for name, made in (("jax.jit(jax.grad)", jax_gradient), ("torch autograd", torch_gradient)):
        framework = made() if against else None
        if framework is not None:
            row(f"{label} gradient at a point, against {name.split('.')[0].split()[0]}",
                *turn_about(lambda: result.gradient(**point), lambda f=framework: f(point), repeats, inner),
                name, against)


def walkthrough_row(row: Row, repeats: int) -> None:
    cell, point = classifier(784, 128, 10)
    result: Any = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    row("784->128->10 walkthrough's numbers (R.walkthrough)",
        *turn_about(lambda: result.walkthrough(**point), lambda: hand_backprop(point), repeats, 3),
        "hand-written numpy backprop", "<= 5x")
    row("784->128->10 walkthrough with its check read (.check)",
        *turn_about(lambda: result.walkthrough(**point).check, lambda: hand_backprop(point), repeats, 3),
        "hand-written numpy backprop", "(the check: 6 forward passes, 3 directions)")


def batch_row(row: Row, repeats: int) -> None:
    cell, point = classifier(64, 32, 10, batch=32)
    result: Any = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    assert all(np.allclose(g.reshape(h.shape), h)
               for g, h in zip(result.gradient(**point).values(), hand_backprop(point)))
    row("mini-batch of 32, 64->32->10, gradient (R.gradient)",
        *turn_about(lambda: result.gradient(**point), lambda: hand_backprop(point), repeats, 20),
        "hand-written numpy on the batch", "<= 1.5x")


def wide_row(row: Row, repeats: int) -> None:
    cell, point = classifier(784, 4096, 10)
    result: Any = jacobian(cell, chain=True, wrt="W1,b1,W2,b2", at=point)
    row("784->4096->10 gradient (accepted up to 10^7 entries a shape)",
        *turn_about(lambda: result.gradient(**point), lambda: hand_backprop(point), 3 * repeats, 1),  # ~10 ms a call:
        # three medians of three turns moved the ratio from 1.1 to 2.0 on a loaded machine; 21 turns hold it
        "hand-written numpy backprop", "<= 1.5x")


def pasted_row(row: Row, repeats: int, shell: Any) -> None:
    """`--at W1=[[...]]` with a 128 x 784 matrix written out: the option line to options, per number."""
    from jacmagic.magic import JacobianMagic, parse_line

    weights = np.random.default_rng(1).standard_normal((128, 784))
    line = "--chain --at W1=[" + ", ".join("[" + ", ".join(map(repr, r.tolist())) + "]" for r in weights) + "]"
    magic = JacobianMagic(shell=shell)

    def read() -> float:
        start = time.perf_counter()
        options = magic._options(parse_line(magic.jacobian, line), {})
        assert np.array_equal(options.at[0][1], weights)
        return (time.perf_counter() - start) / weights.size

    read()
    row("--at W1=[[...]] pasted, 128 x 784, per number", statistics.median(read() for _ in range(max(3, repeats // 2))),
        10e-6, "the 10 us target", "<= 1 (10 us a number)")


def array_rows(row: Row, repeats: int, shell: Any) -> None:
    gradient_rows(row, repeats, (784, 128, 10), "<= 1.5x", 20)
    gradient_rows(row, repeats, (64, 32, 10), "<= 3x", 200, against="< 1 (faster)")
    walkthrough_row(row, repeats)
    batch_row(row, repeats)
    wide_row(row, repeats)
    pasted_row(row, repeats, shell)
