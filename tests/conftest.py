"""A real IPython shell with the extension loaded, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config


@dataclass
class Ran:
    error: BaseException | None
    result: Any
    stdout: str
    outputs: list[dict[str, Any]]


class Shell:
    """Runs cells the way a notebook does and reports errors, printed text and displayed bundles."""

    def __init__(self) -> None:
        config = Config()
        config.HistoryAccessor.enabled = False
        self.ip = InteractiveShell.instance(config=config)
        assert self.run("%load_ext jacmagic").error is None

    def run(self, source: str) -> Ran:
        with capture_output() as captured:
            outcome = self.ip.run_cell(source, store_history=False)
        error = outcome.error_in_exec or outcome.error_before_exec
        return Ran(error, outcome.result, captured.stdout + captured.stderr, [o.data for o in captured.outputs])

    def ok(self, source: str) -> Ran:
        ran = self.run(source)
        assert ran.error is None, f"{type(ran.error).__name__}: {ran.error}"
        return ran


@pytest.fixture(scope="session")
def shell() -> Iterator[Shell]:
    yield Shell()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server in a temporary home, for a browser test module (tests/browser.py)."""
    from tests.browser import server

    yield from server("jupyterlab", tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from tests.browser import server

    yield from server("notebook", tmp_path_factory.mktemp("notebook7"))
