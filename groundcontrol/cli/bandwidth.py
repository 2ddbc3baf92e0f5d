"""Low-bandwidth mode for the wall and the console: ``--low-bandwidth`` or the environment.

Over a slow link (SSH from a phone, a hotel's wifi) a screen that repaints twice a
second and animates costs more than it tells. In low-bandwidth mode the apps redraw
what the stream brings at most once a second (never losing the last state) and
nothing moves by itself (no drift, no Textual animations, no spinner, no blinking
cursor). ``groundcontrol ssh`` turns it on for a session through the environment
(:data:`LOW_BANDWIDTH_ENV`), so the apps take it from there as well as from the flag.

Most of what a redraw sends is colour codes, so low-bandwidth mode also draws with
the 256-colour palette (``TEXTUAL_COLOR_SYSTEM=256``, unless that is set): still in
colour, with shorter codes (about a fifth fewer bytes, benchmarks/ssh_bandwidth.py).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, MutableMapping

__all__ = [
    "LOW_BANDWIDTH_ENV",
    "LowBandwidthError",
    "add_low_bandwidth_argument",
    "fewer_colours",
    "flag_value",
    "low_bandwidth",
]

#: Set to 1 to start the wall or the console in low-bandwidth mode.
LOW_BANDWIDTH_ENV = "GROUNDCONTROL_LOW_BANDWIDTH"

#: Textual's colour system (read when textual is imported).
COLOR_SYSTEM_ENV = "TEXTUAL_COLOR_SYSTEM"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class LowBandwidthError(ValueError):
    """An environment variable that should say yes or no says something else."""


def flag_value(name: str, value: str) -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``/empty, any case;
    :class:`LowBandwidthError` naming the variable and the value otherwise."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise LowBandwidthError(f"{name}={value!r}: expected 1 or 0 (or true/false, yes/no, on/off)")


def add_low_bandwidth_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--low-bandwidth`` to a command that shows an app."""
    parser.add_argument(
        "--low-bandwidth",
        action="store_true",
        help="for slow links: redraw at most once a second and animate nothing "
        f"(also {LOW_BANDWIDTH_ENV}=1; groundcontrol ssh sets it)",
    )


def fewer_colours(environ: MutableMapping[str, str] | None = None) -> None:
    """Have Textual draw with 256 colours (shorter codes than truecolor's) unless
    ``TEXTUAL_COLOR_SYSTEM`` says otherwise; before textual is imported, which reads it
    once."""
    env = os.environ if environ is None else environ
    env.setdefault(COLOR_SYSTEM_ENV, "256")


def prepare_low_bandwidth(args: argparse.Namespace) -> bool:
    """Is low-bandwidth mode on (:func:`low_bandwidth`)? If so, 256 colours from now on
    (:func:`fewer_colours`). LowBandwidthError for a bad environment value."""
    low = low_bandwidth(args)
    if low:
        fewer_colours()
    return low


def low_bandwidth(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> bool:
    """Is low-bandwidth mode on: the flag, else :data:`LOW_BANDWIDTH_ENV`."""
    if getattr(args, "low_bandwidth", False):
        return True
    env = os.environ if environ is None else environ
    return flag_value(LOW_BANDWIDTH_ENV, env.get(LOW_BANDWIDTH_ENV, ""))
