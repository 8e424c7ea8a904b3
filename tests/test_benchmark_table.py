"""benchmarks/table.py: the speed table's verdicts read from each row's target, and the page's text kept around
the table it writes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from table import END, START, markdown, met, rewrite  # noqa: E402 - benchmarks/ is not a package


def row(ratio: float, target: str, ours: float = 1.0, reference: float = 1.0) -> dict[str, object]:
    return {"benchmark": "b", "jacmagic_ms": ours, "reference_ms": reference, "unit": "ms", "reference": "r",
            "ratio": ratio, "target": target}


@pytest.mark.parametrize(("ratio", "target", "verdict"), [
    (1.49, "<= 1.5x", True), (1.5, "<= 1.5x", True), (1.51, "<= 1.5x", False),
    (0.99, "< 1 (faster)", True), (1.0, "< 1 (faster)", False),
    (0.5, "<= 1 (20 ms)", True), (1.2, "<= 1 (60 kB)", False), (0.4, "<= 1.0 (aim 0.5) at 10x10", True),
    (3.0, "reported", None), (3.0, "-", None), (17.0, "(the check: 6 forward passes, 3 directions)", None),
])
def test_a_rows_target_is_read_as_a_bound_on_its_ratio(ratio: float, target: str, verdict: bool | None) -> None:
    assert met(row(ratio, target)) is verdict


def test_a_target_beyond_sympys_import_bounds_the_difference_not_the_ratio() -> None:
    assert met(row(1.6, "<= sympy + 0.1 s", ours=250.0, reference=160.0)) is True
    assert met(row(1.7, "<= sympy + 0.1 s", ours=261.0, reference=160.0)) is False


def test_the_table_replaces_only_what_is_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text(f"before\n{START}\nold table\n{END}\nafter\n")
    table = markdown([row(1.2, "<= 1.5x"), row(2.0, "<= 1.5x")], {"python": "3.11", "platform": "linux"}, "today")
    rewrite(page, table)
    text = page.read_text()
    assert text.startswith("before\n" + START) and text.endswith(END + "\nafter\n") and "old table" not in text
    assert "| 1.20 | <= 1.5x | yes |" in text and "| 2.00 | <= 1.5x | **no** |" in text


def test_a_page_without_the_markers_is_refused_and_kept(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text("no table here\n")
    with pytest.raises(SystemExit, match="no <!-- speed table"):
        rewrite(page, "table")
    assert page.read_text() == "no table here\n"
