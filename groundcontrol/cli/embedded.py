"""``groundcontrol`` with no command: hub, demo feed and wall in one process.

* (no command): a hub on a free loopback port with a token made for this run, the demo
  feed pushing to it (``--rate``, ``--seed``, else the config's ``[demo]``) and the
  wall showing it; the hub's log goes to a file in the temporary directory, since the
  screen belongs to the wall. The same code as a deployment across machines.

The top-level options it reads (``--config``, ``--rate``, ``--seed``) are declared in
:func:`groundcontrol.cli.main.build_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path

from groundcontrol.cli import wall as wall_cli
from groundcontrol.cli.common import load_site
from groundcontrol.config import pick_theme

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Run hub, demo feed and wall, over loopback websockets, until the wall is closed."""
    from feeds.demo import run_demo_feed
    from groundcontrol.client.stream import Access
    from groundcontrol.hub.auth import Tokens
    from groundcontrol.hub.server import start_hub

    config = load_site(args.config)[0]
    theme = pick_theme(args.theme, config)
    rate: float | None = args.rate
    seed: int | None = args.seed
    # The screen belongs to the wall: logs go to a file, not the terminal.
    log_path = Path(tempfile.gettempdir()) / f"groundcontrol-{os.getuid()}.log"
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("groundcontrol")
    wall = wall_cli.wall_module()

    async def go() -> None:
        # Loopback only, with a token made for this run: other local users cannot
        # write to (or read) this wall even though the port is open on 127.0.0.1.
        tokens, token = Tokens.ephemeral()
        access = Access(token=token)
        _hub, runner, port = await start_hub(
            config, host="127.0.0.1", port=0, demo=True, tokens=tokens
        )
        url = f"ws://127.0.0.1:{port}"
        log.info("embedded hub on %s", url)
        feed = asyncio.create_task(
            run_demo_feed(
                url,
                rate=rate or config.demo.rate,
                seed=config.demo.seed if seed is None else seed,
                on_event=lambda m: log.info("feed demo: %s", m),
                access=access,
            )
        )
        try:
            await wall.make_wall(url, access=access, theme=theme).run_async()
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            await runner.cleanup()

    asyncio.run(go())
    return 0
