"""The README as a front door: short, its commands the ones CI runs, every link it and the docs make pointing at a
file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]


def test_the_readme_is_a_front_door_of_about_250_lines() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert command in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file(page: Path) -> None:
    targets = re.findall(r"\]\(([^)#:\s]+)\)", page.read_text())
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, missing
