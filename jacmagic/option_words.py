"""The option line as users type it, for the magic and the command line alike: values split at spaces
(`--at x=1, y = 2`) or given in several options joined, a single-valued option given twice with two values
refused, an option that does not exist (or abbreviated) answered with the one that was meant, an option with no
use beside the others refused, and the budget and memory ranges (also of `%config`)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from jacmagic.errors import OptionError
from jacmagic.model import Options
from jacmagic.read.names import closest

# Dashes a word processor or a web page puts where `--` was typed (em dash, en dash, minus sign).
_LONG_DASHES = re.compile(r"^[-\u2010-\u2015\u2212]+")


def continues(before: str, value: str) -> bool:
    """Does `value` continue the name=value pair `before` began (`x =`, `= 1`), rather than start a new one?"""
    return before.endswith("=") or value.startswith("=")


def joined(groups: Iterable[Iterable[str]] | None) -> str:
    """The values of an option given several times, each split at spaces by the shell or IPython, as one
    comma-separated text: `--at x = 1, y=2 --at z=3` -> `x=1,y=2,z=3`."""
    parts: list[str] = []
    for value in (v for group in groups or () for v in group):
        if parts and continues(parts[-1], value):
            parts[-1] += value
        else:
            parts.append(value)
    return ",".join(parts)


def pairs_joined(argv: Sequence[str], options: Collection[str]) -> list[str]:
    """The command line with a value of `options` the shell split at spaces joined again: `--at x=1, y=2` and
    `--at x = 1` give one value each. Only words without spaces join (the shell splits pairs; a cell has
    spaces)."""
    out: list[str] = []
    value_of = ""
    for word in argv:
        if (value_of and not word.startswith("--") and not any(c.isspace() for c in word)
                and (out[-1].endswith(",") or continues(out[-1], word))):
            out[-1] += word
            continue
        value_of = out[-1] if out and out[-1] in options else word.split("=", 1)[0]
        value_of = value_of if value_of in options else ""
        out.append(word)
    return out


class Once(argparse.Action):
    """An option that holds one value: given twice with different values it is refused, since the last would
    silently win (`--out A --out B` leaving A stale from an earlier run)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given = vars(namespace).setdefault("given_once", {})
        if self.dest in given and given[self.dest] != values:
            raise argparse.ArgumentError(self, f"given twice ({given[self.dest]} and {values}); give it once")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


SHOWN = 60  # characters of a typed value quoted in a message


def quoted(text: str) -> str:
    """A typed value quoted in a message, cut short: a pasted value may be thousands of characters long."""
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "...")


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every name of every option of `parser` (the magic's, the command line's): what a stray word is matched to."""
    return [option for action in parser._actions for option in action.option_strings]


def given_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the line, by their first name, with their values: those that differ from their
    defaults, so an option whose use depends on others (--memory) has the default None, and `--memory 1` counts
    as given as `--memory 2` does."""
    return {action.option_strings[0]: getattr(args, action.dest) for action in parser._actions
            if action.option_strings and getattr(args, action.dest, action.default) != action.default}


def unexpected(word: str, parser: argparse.ArgumentParser, elsewhere: Mapping[str, str], help_hint: str,
               other_words: str = "") -> str:
    """What to say about a word on the option line that is no option: the option it most likely means (a typo,
    another case, long dashes pasted for `--`, an abbreviation: options are never abbreviated, so that a new option
    cannot make one in a notebook ambiguous), or where what it asks for lives; `other_words` says where words that
    are not options belong."""
    known = option_names(parser)
    dashes = _LONG_DASHES.match(word)
    if dashes is None:
        meant = f" (did you mean --{word}?)" if f"--{word}" in known else ""
        return f"unexpected {quoted(word)}{meant}: options start with --{other_words}; {help_hint}"
    typed = word.split("=", 1)[0]
    typed = typed if typed in elsewhere else _LONG_DASHES.sub("--", typed)
    if typed in elsewhere:
        return f"{word}: {elsewhere[typed]}"
    if dashes.end() == len(word):
        return f"{quoted(word)} alone is no option: -- ends the options, and nothing follows it here; leave it out"
    if typed == word and word in known:  # argparse leaves a known option over only after `--`, which ends them
        return (f"{word} comes after --, which ends the options: every word after it is read as a value, not an "
                f"option; leave the -- out (or put {word} before it)")
    if dashes.group() != "--" and typed in known:
        return (f"unknown option {word}: an option starts with two hyphens, --, not a dash (as a word processor "
                f"or a web page writes --); did you mean {typed}?")
    longer = sorted(option for option in known if option.startswith(typed.lower()) and len(typed) > 2)
    close = _either(longer) if longer else closest(typed.lower(), known)
    meant = f" (did you mean {close}?)" if close else ""
    return f"unknown option {word}{meant}; {help_hint}"


def _either(options: Sequence[str]) -> str:
    """`--det`, `--det or --domain`, `--det, --direction or --domain`."""
    return " or ".join(filter(None, [", ".join(options[:-1]), options[-1]]))


# The longest time budget: a whole hour for one step is already more than any notebook user waits.
MAX_BUDGET = 3600.0
# The most memory --memory may allow: more than one cell should ever take; the least, 1 MB (less holds no
# walkthrough worth the name, and was refused as "about 0 MB, over the 0 MB limit").
MAX_MEMORY, MIN_MEMORY = 1024.0, 0.001
_LIMITS = {"budget": ("seconds", "above 0", 0.0, MAX_BUDGET),
           "memory": ("gigabytes", f"at least {MIN_MEMORY:g} (1 MB)", MIN_MEMORY, MAX_MEMORY)}


def within_limit(name: str, value: float, what: str) -> float:
    """The time budget or the memory allowance (`name`) as a float, refused under the name `what` set it by
    (`--budget`, `JacobianMagic.budget`) unless within its range: a cell, the command line and `%config` word it
    alike."""
    unit, least, bottom, top = _LIMITS[name]
    if not (bottom < value <= top if bottom == 0 else bottom <= value <= top):  # also refuses nan
        raise OptionError(f"{what} takes a number of {unit} {least} and at most {top:g}, got {value!r}")
    return float(value)


# An option that does something only beside another: given without it (or with one that rules it out) it would do
# nothing, silently, and a notebook would seem to ask for what it never shows. (option, unused when, why).
_UNUSED: tuple[tuple[str, Callable[[Collection[str]], bool], str], ...] = (
    ("--domain", lambda given: "--plot" not in given, "sets the region the --plot picture draws, and nothing is "
                                                      "plotted: add --plot"),
    ("--memory", lambda given: "--chain" not in given, "limits what a --chain walkthrough may hold, and there is "
                                                       "none: add --chain"),
    *((option, lambda given: "--chain" not in given, "is how --chain multiplies the stages' local Jacobians, and "
                                                     "there is no --chain: add --chain")
      for option in ("--direction", "--mode")),
    ("--range", lambda given: "--no-widgets" in given, "sets the panel's slider ranges, and --no-widgets shows no "
                                                       "panel: leave one of them out"),
    ("--no-continuous-update", lambda given: "--no-widgets" in given,
     "is how the panel's sliders update, and --no-widgets shows no panel: leave one of them out"),
)


def set_by(options: Options) -> set[str]:
    """The options whose use the values of `options` tell, so that jacmagic.jacobian() is held to the same rules
    as a line: --chain, --direction, --mode (one that is not the default). Not --memory (its default is the user's
    %config) nor --domain (result.plot() of the API draws it later)."""
    return {option for option, given in (("--chain", options.chain), ("--direction", options.direction),
                                         ("--mode", options.mode != "reverse" and not options.direction)) if given}


def refuse_unused(given: Collection[str]) -> None:
    """Refuses an option that the others `given` (the option names on the line) leave without any use."""
    for option, unused, why in _UNUSED:
        if option in given and unused(given):
            raise OptionError(f"{option} {why}")
