"""The fuzz hunt of "bad input gets a clear error and loses nothing": each defect found is a named test, and a
seeded family of mutated cells (tests/fuzz_cells.py) keeps the whole contract in the fast suite."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from .conftest import Shell


@pytest.mark.parametrize("line", ["'", '--at "x=1', "--out 'a b", '--det "'])
def test_an_unclosed_quote_on_the_magic_line_is_a_usage_error(shell: Shell, line: str) -> None:
    ran = shell.run(f"%%jacobian {line}\nf(x) = x**2")
    assert type(ran.error) is UsageError and "never closed" in str(ran.error) and "Traceback" not in ran.stdout
    ran = shell.run(f"%jacobian f {line}")
    assert type(ran.error) is UsageError and "%jacobian line" in str(ran.error)
