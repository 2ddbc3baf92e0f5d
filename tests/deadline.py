"""How tests wait: for the event that matters, with one generous safety net.

A wait ends as soon as its condition holds (a message, a counter, a row, a file); the
deadline only stops a test that would otherwise hang, so it is far longer than any
machine needs and a loaded machine makes a test slower, never red. Like the websockets
project, every safety net is scaled by one factor: set GROUNDCONTROL_TEST_TIMEOUT_FACTOR
on a very slow machine.

Where a duration *is* the behaviour under test (a backoff, a rate, a promised deadline),
tests compare it with a baseline from the same run, or check the order of events, rather
than with seconds on a clock.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable

#: Scales every safety net (and nothing else).
FACTOR = float(os.environ.get("GROUNDCONTROL_TEST_TIMEOUT_FACTOR", "1"))
#: How long a wait may take before the test says it hangs.
SAFETY = 60.0 * FACTOR


async def until(
    check: Callable[[], object], what: str = "the condition", within: float = SAFETY
) -> None:
    """Poll ``check`` (a function, or a coroutine function) on the running loop until
    it is true; fail after ``within`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        ok = check()
        if inspect.isawaitable(ok):
            ok = await ok
        if ok:
            return
        assert loop.time() < end, f"gave up after {within:g}s waiting for {what}"
        await asyncio.sleep(0.01)


def until_sync(
    check: Callable[[], object], what: str = "the condition", within: float = SAFETY
) -> None:
    """``until`` for code without a loop (or in a thread): poll, then fail."""
    end = time.monotonic() + within
    while not check():
        assert time.monotonic() < end, f"gave up after {within:g}s waiting for {what}"
        time.sleep(0.02)
