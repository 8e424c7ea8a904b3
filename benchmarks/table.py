"""The speed table a page shows, written from a run's rows: every row with its figures, ratio, target and whether
the target is met, between two markers of the page (`python benchmarks/run.py --table benchmarks/README.md`), so
the figures a reader sees are the ones the last run printed, never retyped."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

START, END = "<!-- speed table: start -->", "<!-- speed table: end -->"
Row = Mapping[str, Any]  # a row as run.py records it


def met(row: Row) -> bool | None:
    """Is the row's target met? `<= 1.5x` and `< 1 (faster)` bound the ratio, `<= sympy + 0.1 s` our time beyond
    the reference's; None for a row that only reports (`reported`, `-`, a description)."""
    target, ratio = row["target"], row["ratio"]
    beyond = re.match(r"<= sympy \+ ([\d.]+) s", target)
    if beyond:
        return bool(row["jacmagic_ms"] <= row["reference_ms"] + 1000 * float(beyond[1]))
    bound = re.match(r"(<=|<) ?([\d.]+)", target)
    if bound is None:
        return None
    return bool(ratio <= float(bound[2]) if bound[1] == "<=" else ratio < float(bound[2]))


def markdown(rows: Sequence[Row], machine: Mapping[str, str], when: str) -> str:
    """The rows as a markdown table, with the machine and the date they were measured on."""
    said = {True: "yes", False: "**no**", None: "-"}
    lines = [f"Measured {when} by `python benchmarks/run.py`, Python {machine['python']} on {machine['platform']}:",
             "", "| benchmark | jacmagic | reference | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['jacmagic_ms']:.4g} {r['unit']} | {r['reference_ms']:.4g} {r['unit']} "
                     f"({r['reference']}) | {r['ratio']:.2f} | {r['target']} | {said[met(r)]} |")
    return "\n".join(lines)


def rewrite(page: Path, table: str) -> None:
    """Puts `table` between the page's markers, refusing a page without them rather than losing its text."""
    text = page.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"--table: {page} has no {START} ... {END} section to write the table into")
    before, rest = text.split(START, 1)
    page.write_text(before + START + "\n" + table + "\n" + END + rest.split(END, 1)[1])
