"""The numpy source the closed forms print (`R.code()`): each element-wise function and its derivative as numpy
source, and the helper functions printed code calls (logsumexp, erf, and the image and axis helpers of
`closed_form_images` and `closed_form_axes`), so the code runs as printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jacmagic.chain.functions import TABLE

_SIGMOID = "(0.5 * (1 + np.tanh(0.5 * #)))"
_SOURCES = {  # name: (f(@), f'(@)) as numpy source; # is the operand bracketed when it is not an atom
    "exp": ("np.exp(@)", "np.exp(@)"), "log": ("np.log(@)", "(1 / #)"), "ln": ("np.log(@)", "(1 / #)"),
    "log2": ("np.log2(@)", "(1 / (# * np.log(2)))"), "log10": ("np.log10(@)", "(1 / (# * np.log(10)))"),
    "tanh": ("np.tanh(@)", "(1 - np.tanh(@)**2)"), "sigmoid": (_SIGMOID, f"({_SIGMOID} * (1 - {_SIGMOID}))"),
    "relu": ("np.maximum(@, 0)", "np.heaviside(@, 0.0)"), "softplus": ("np.logaddexp(0, @)", _SIGMOID),
    "sin": ("np.sin(@)", "np.cos(@)"), "cos": ("np.cos(@)", "(-np.sin(@))"),
    "tan": ("np.tan(@)", "(1 / np.cos(@)**2)"), "sec": ("(1 / np.cos(@))", "(np.sin(@) / np.cos(@)**2)"),
    "csc": ("(1 / np.sin(@))", "(-np.cos(@) / np.sin(@)**2)"), "cot": ("(1 / np.tan(@))", "(-1 / np.sin(@)**2)"),
    "asin": ("np.arcsin(@)", "(1 / np.sqrt(1 - #**2))"), "acos": ("np.arccos(@)", "(-1 / np.sqrt(1 - #**2))"),
    "atan": ("np.arctan(@)", "(1 / (1 + #**2))"),
    "sinh": ("np.sinh(@)", "np.cosh(@)"), "cosh": ("np.cosh(@)", "np.sinh(@)"),
    "asinh": ("np.arcsinh(@)", "(1 / np.sqrt(#**2 + 1))"), "acosh": ("np.arccosh(@)", "(1 / np.sqrt(#**2 - 1))"),
    "atanh": ("np.arctanh(@)", "(1 / (1 - #**2))"),
    "sqrt": ("np.sqrt(@)", "(0.5 / np.sqrt(@))"), "cbrt": ("np.cbrt(@)", "(1 / (3 * np.cbrt(@)**2))"),
    "abs": ("np.abs(@)", "np.sign(@)"), "erf": ("erf(@)", "(2 / np.sqrt(np.pi) * np.exp(-#**2))"),
    **{step: (value, "np.where(# == 0, np.nan, 0.0)") for step, value in (
        ("sign", "np.sign(@)"), ("heaviside", "np.heaviside(@, 0.0)"))},
    "gelu": ("(0.5 * # * (1 + erf(# / np.sqrt(2))))",
             "(0.5 * (1 + erf(# / np.sqrt(2))) + # * np.exp(-0.5 * #**2) / np.sqrt(2 * np.pi))"),
    "softmax": ("np.exp(# - logsumexp(@))", ""), "log_softmax": ("(# - logsumexp(@))", ""),
}
# Every name a function goes by at array level (ln and log, asin and arcsin, abs and Abs): one source each.
PYTHON = {spelled: _SOURCES[name] for name, record in TABLE.items() if name in _SOURCES
          for spelled in record.names(name, array=True)}
# What numpy source needs defined before `gradient` when it calls them (softmax, GELU).
_HELPERS = {
    "logsumexp": "def logsumexp(z):\n    top = z.max(keepdims=True)\n"
                 "    return top + np.log(np.exp(z - top).sum(keepdims=True))\n",
    "logsumexp_along": "def logsumexp_along(z, axis):\n    top = z.max(axis=axis, keepdims=True)\n"
                       "    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))\n",
    "erf": "def erf(z):\n    return np.vectorize(math.erf, otypes=[float])(z)\n",
}


def called_helpers(body: str, table: Mapping[str, str]) -> str:
    """The helpers of `table` (name: source) that `body` calls (and the ones they call), each followed by two
    blank lines."""
    called: dict[str, None] = {}
    text = body
    while new := [n for n in table if n not in called and re.search(rf"(?<![\w.]){n}\(", text)]:
        called.update(dict.fromkeys(new))
        text = "".join(table[n] for n in called)
    return "".join(table[n] + "\n\n" for n in table if n in called)


def helpers(body: str) -> str:
    """The imports (numpy, and math for erf) and the helper functions `body` calls: the code runs as printed."""
    called = called_helpers(body, _HELPERS)
    return "import math\n" * ("def erf(" in called) + "import numpy as np\n\n\n" + called
