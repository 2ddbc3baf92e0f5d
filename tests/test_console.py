"""The analyst console (panels/console*.py) and its HTTP client (client/api.py).

Every test runs against a real in-process hub with a store, filled through the real
ingest path (a feed's websocket, with its token), and a console with an analyst token
reading the hub's real stream. Waits end on conditions (the console's counters, what a
table shows), never on a number of seconds.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import websockets
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList

from groundcontrol.client.api import ApiError, HubApi
from groundcontrol.client.stream import Access, StreamClient, stream_url
from groundcontrol.hub.auth import Role
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from panels.console import ConsoleApp, OverviewScreen, search_problem
from panels.console_chart import BrandChart, Series, line_chart, spark_rows
from panels.console_dialogs import CommandLine, KeysScreen, PickScreen, PromptScreen, SearchBar
from panels.console_model import (
    TimeRange,
    TriageBook,
    author_drill,
    incident_drill,
    parse_range,
    range_text,
    response_clock,
    signal_drill,
    term_query,
    topic_drill,
    view_named,
)
from panels.console_views import (
    SCROLLBAR,
    Col,
    ConsoleTable,
    DetailView,
    HistoryView,
    IncidentsView,
    QueueView,
    SearchView,
    TopicsView,
    fitted,
)
from panels.tiles import BrandTilesPanel
from tests.deadline import SAFETY
from tests.test_hub import small_config
from tests.test_hub_incidents import TOKENS, auth, open_incident, tokens

COMPACT = (80, 24)
WIDE = (160, 48)
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


# --------------------------------------------------------------------------- the hub


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: (source, author, reach, text): a battery story on Northwind (#aerogate), support
#: requests the rules cannot decide on (they go to the review queue), competitors.
POSTS = [
    ("x", "ana", 1840, "My Northwind Aero 14 battery is swelling #aerogate"),
    (
        "bluesky",
        "ben.bsky.social",
        920,
        "Aero 14 battery swelling again #aerogate northwind please",
    ),
    ("x", "carla", 15200, "#aerogate my northwind aero 14 overheats and the battery swells"),
    ("reddit", "dave", 310, "Northwind support: my Aero 14 battery is swelling, help"),
    ("x", "erin", 4100, "Northwind support help: battery broken #aerogate"),
    ("bluesky", "fay.bsky.social", 2800, "I love my Northwind Pulse, best headphones"),
    ("x", "gus", 120, "Contoso laptops are great this year"),
    ("x", "hal", 760, "Fabrikam support is slow, refund please"),
    ("reddit", "ivy", 95, "Contoso vs Northwind: which one to buy for a fleet?"),
    ("x", "jon", 51000, "#aerogate northwind aero 14 battery bulging, warranty?"),
]


#: Support requests a feed delivered late (a backlog): they waited past the target.
BACKLOG = [
    ("reddit", "kim", 400, "Northwind support: my charger is broken, help"),
    ("x", "lou", 2200, "Need help: Northwind Pulse disconnects all the time"),
    ("x", "max", 180, "Northwind warranty claim for a cracked screen?"),
]


def posts(
    round_: int, now: float, items: list[tuple[str, str, int, str]] = POSTS
) -> list[dict[str, object]]:
    """One round of posts as a feed sends them, ids unique per round."""
    out: list[dict[str, object]] = []
    for i, (source, author, reach, text) in enumerate(items):
        out.append(
            {
                "source": source,
                "source_id": f"{round_}-{i}",
                "text": text if round_ == 0 else f"{text} ({round_})",
                "created_at": iso(now - 900 + round_ * 60 + i * 5),
                "url": f"https://example.com/{source}/{round_}-{i}",
                "author": author,
                "author_reach": reach,
                "engagement": {"likes": 3 * i + round_, "reposts": i, "replies": 1},
            }
        )
    return out


async def ingest(port: int, batches: list[tuple[list[dict[str, object]], float]]) -> None:
    """Send each (mentions, queued seconds) batch as a feed does; return once all are
    acked (the hub acks after the store committed them)."""
    url = f"ws://127.0.0.1:{port}/ingest"
    async with websockets.connect(url, additional_headers=auth(Role.FEED)) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "name": "console-test"}))
        await ws.recv()
        for seq, (mentions, queued) in enumerate(batches, start=1):
            batch = {"type": "batch", "seq": seq, "mentions": mentions, "queued": queued}
            await ws.send(json.dumps(batch))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "ack" and ack["rejected"] == 0, ack


async def two_weeks(running: Running) -> None:
    """Two weeks of stored mentions for the history charts, through the hub's store
    writer (the live path dates every mention now; history goes by arrival): the
    brands' usual days, then Northwind's battery story growing over the last three."""
    now = time.time()
    mentions: list[Mention] = []
    for day in range(14):
        at = now - (14 - day) * 86400
        battery = 9 + 3 * (day - 11) if day >= 11 else 1
        texts = [("Northwind", "positive", "Loving the new Northwind Pulse")] * (5 + day % 4)
        texts += [("Northwind", "negative", "Northwind Aero 14 battery swelling again")] * battery
        texts += [("Contoso", "positive", "Contoso laptops are great")] * (4 + day % 3)
        texts += [("Fabrikam", "negative", "Fabrikam screens flicker")] * (1 + day % 2)
        texts += [("Fabrikam", "positive", "Fabrikam docks are fantastic")] * 2
        for n, (brand, label, text) in enumerate(texts):
            mentions.append(
                Mention(
                    source="news",
                    source_id=f"history-{day}-{n}",
                    id=f"news:history-{day}-{n}",
                    text=text,
                    created_at=datetime.fromtimestamp(at + n * 60, UTC),
                    received_at=at + n * 60,
                    author=f"writer{n}",
                    brands=[brand],
                    sentiment_label=label,  # type: ignore[arg-type]
                    sentiment=0.5 if label == "positive" else -0.5,
                )
            )
    writer = running.hub.writer
    assert writer is not None
    assert all(await writer.write_mentions(mentions))


class Running:
    """A hub with a store, filled; ``base`` is its http:// URL."""

    def __init__(self, hub: Hub, port: int) -> None:
        self.hub = hub
        self.port = port
        self.base = f"http://127.0.0.1:{port}"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Running]:
    """The backlog arrived 40 minutes ago (past the 30-minute response target, so its
    three review mentions are breached); two rounds of POSTS just now."""
    h, runner, port = await start_hub(
        small_config(), port=0, tokens=tokens(), store_path=tmp_path / "gc.db"
    )
    now = time.time()
    await ingest(port, [(posts(0, now, BACKLOG), 2400.0), (posts(1, now) + posts(2, now), 0.0)])
    yield Running(h, port)
    await runner.cleanup()


def analyst() -> Access:
    return Access(token=TOKENS[Role.ANALYST])


def console(
    running: Running, tmp_path: Path, *, access: Access | None = None, base: str | None = None
) -> ConsoleApp:
    """The console as the CLI builds it, on the hub's real stream and API."""
    access = access or analyst()
    url = base or running.base
    return ConsoleApp(
        StreamClient(stream_url(url), access=access).events,
        HubApi(url, access),
        hub_label="127.0.0.1",
        tz=UTC,
        export_dir=tmp_path,
    )


async def wait(pilot: Pilot[None], check: Callable[[], object], what: str) -> None:
    """Let the app run until ``check`` holds, then one more pause for the redraw."""
    end = time.monotonic() + SAFETY
    while not check():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        await pilot.pause(0.02)
    await pilot.pause()


async def live(app: ConsoleApp, pilot: Pilot[None]) -> None:
    """Wait for the stream: a tick with the ingested mentions in its windows."""
    await wait(
        pilot,
        lambda: app.state.tick is not None and app.state.tick.topics and app.state.tick.brands,
        "a tick with topics",
    )


def table_text(table: ConsoleTable) -> list[str]:
    """Each row of a table as plain text, cells joined by " | "."""
    rows = []
    for index in range(table.row_count):
        rows.append(" | ".join(str(cell) for cell in table.get_row_at(index)))
    return rows


def shown(widget: Widget) -> str:
    """What a widget shows, line by line, as plain text."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def screen_text(app: ConsoleApp) -> str:
    """Everything on screen as plain text (from the SVG export, tags stripped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def caption(app: ConsoleApp, view: str) -> str:
    return str(app.main.query_one(f"#{view}-caption").render())


def notes(app: ConsoleApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --------------------------------------------------------------------------- pure parts


def test_time_ranges_read_as_analysts_type_them() -> None:
    now = 1_790_000_000.0
    assert parse_range("15m", now) == TimeRange(now - 900, None, "15m")
    assert parse_range("2h", now).since == now - 7200
    assert parse_range("7d", now).since == now - 7 * 86400
    assert parse_range("", now) == TimeRange(text="")
    assert parse_range("all", now) == TimeRange(text="all")
    r = parse_range("2026-11-20..2026-11-22", now, UTC)
    assert r.since == datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    assert r.until == datetime(2026, 11, 23, tzinfo=UTC).timestamp()  # the whole last day
    r = parse_range("2026-11-22T10:00..", now, UTC)
    assert r.since == datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp() and r.until is None
    text = range_text(1_790_000_000.0, 1_790_003_600.0, UTC)
    assert parse_range(text, now, UTC).since == 1_790_000_000.0  # written, read back
    for bad, words in (
        ("soon", "not a time range"),
        ("5 parsecs", "not a time range"),
        ("2026-13-01..", "not a date"),
        ("2026-11-22..2026-11-21", "ends before it starts"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_range(bad, now, UTC)


def test_columns_fit_the_width() -> None:
    cols = [Col("a", 10), Col("b"), Col("c", 5, 100), Col("d", 0, 120)]
    # 80 cells: c and d left out; b takes the rest (2 cells of padding a column).
    assert fitted(cols, 80) == [(0, 10), (1, 80 - 10 - 4 - SCROLLBAR)]
    # 160: the two flexible columns share what is left.
    rest = 160 - 10 - 5 - 8 - SCROLLBAR
    assert fitted(cols, 160) == [(0, 10), (1, rest - rest // 2), (2, 5), (3, rest // 2)]


def test_view_names_aliases_and_prefixes() -> None:
    assert view_named("queue") is not None and view_named(":queue").name == "queue"  # type: ignore[union-attr]
    assert view_named("q").name == "queue"  # type: ignore[union-attr]
    assert view_named("hist").name == "history"  # type: ignore[union-attr]
    assert view_named("infl").name == "authors"  # type: ignore[union-attr]  # influencers
    assert view_named("s") is None  # sources or search: ambiguous
    assert view_named("nope") is None


def test_the_triage_book_keeps_the_newest_state() -> None:
    from groundcontrol.protocol import TriageState

    book = TriageBook()
    assert book.take(TriageState(mention_id="x:1", status="claimed", updated_at=10.0))
    assert not book.take(TriageState(mention_id="x:1", status="new", updated_at=5.0))
    assert book.get("x:1").status == "claimed"  # type: ignore[union-attr]
    assert book.take(TriageState(mention_id="x:1", status="resolved", updated_at=11.0))
    older = TriageState(mention_id="x:1", status="new", updated_at=1.0)
    assert book.state_of("x:1", older).status == "resolved"  # type: ignore[union-attr]
    assert response_clock(65.0, 1800.0) == "1m05s / 30m"
    assert response_clock(7200.0, 3600.0) == "2h / 1h"


def test_charts_draw_every_series_with_a_legend_and_fall_back_to_sparklines() -> None:
    from rich.style import Style

    series = [Series("Northwind", [0.5, 0.6, 0.7]), Series("Contoso", [0.3, 0.3, None])]
    rows = line_chart(series, 40, 8, lambda i: Style(), top=1.0, first="11-01", last="11-03")
    assert len(rows) == 8
    plot = "".join(str(r) for r in rows[:-2])
    assert any("\u2800" < ch <= "\u28ff" for ch in plot)  # braille dots
    assert "100%" in str(rows[0]) and "0%" in str(rows[5])
    assert "11-01" in str(rows[-2]) and "11-03" in str(rows[-2])
    assert "Northwind 70%" in str(rows[-1]) and "Contoso 30%" in str(rows[-1])
    compact = spark_rows(series, 30, 2, lambda i: Style())
    assert [str(r).split()[0] for r in compact] == ["Northwind", "Contoso"]
    assert str(compact[0]).rstrip().endswith("70%")


def test_drill_downs_are_written_in_the_search_syntax() -> None:
    from groundcontrol.protocol import Incident, Influencer, Signal

    signal = Signal(
        series="topic:#aerogate",
        label="#aerogate",
        kind="topic",
        started_at=1_790_000_000.0,
        value=1.0,
        baseline=1.0,
        peak=2.0,
    )
    incident = Incident(
        id="inc-1",
        title="t",
        brand="Northwind",
        kind="negative",
        severity="critical",
        status="open",
        started_at=1_790_000_000.0,
        updated_at=1_790_000_000.0,
        signals=[signal],
    )
    drill = incident_drill(incident, UTC)
    assert drill.query == "brand:Northwind #aerogate"
    # Any of the story's terms: its topic signals first, then its top terms, no twice.
    story = msgspec.structs.replace(incident, top_terms=["#AeroGate", "battery", "swollen", "x"])
    assert incident_drill(story, UTC).query == "brand:Northwind (#aerogate OR battery OR swollen)"
    assert drill.range == "2026-09-21T13:58:20.."  # 15 minutes before its start
    assert signal_drill(signal, incident, UTC).query == "brand:Northwind #aerogate"
    author = Influencer(
        author="Ana Lee", source="x", reach=1, mentions=1, engagement=1, net=0.0, score=1.0
    )
    assert author_drill(author, 300).query == 'author:"Ana Lee" source:x'
    assert author_drill(author, 300).range == "5m"


# --------------------------------------------------------------------------- the client


async def test_the_api_client_decodes_answers_and_says_why_a_request_failed(
    hub: Running,
) -> None:
    async with HubApi(hub.base, analyst()) as api:
        queue = await api.queue()
        assert queue.pending == 9 and queue.breached == 3 and queue.target_seconds == 1800
        # Oldest first: the backlog that arrived 40 minutes ago leads, breached.
        assert [item.breached for item in queue.items] == [True] * 3 + [False] * 6
        first = queue.items[0].mention.id
        receipt = await api.triage(first, "claim")
        assert receipt.actor == "alice" and receipt.state.status == "claimed"
        assert receipt.state.assignee == "alice"
        detail = await api.mention(first)
        assert detail.mention.id == first and [s.action for s in detail.history] == ["claim"]
        mine = await api.queue(assignee="me")
        assert [item.mention.id for item in mine.items] == [first]
        nobody = await api.queue(assignee="none")
        assert first not in [item.mention.id for item in nobody.items]
        with pytest.raises(ApiError) as refused:
            await api.triage("x:no-such-mention", "claim")
        assert refused.value.status == 404 and "no mention" in refused.value.reason
        with pytest.raises(ApiError) as refused:
            await api.triage(first, "label", label="gossip")
        assert refused.value.status == 400 and "gossip" in refused.value.reason
        iid = open_incident(hub.hub)
        assert [i.id for i in await api.incidents()] == [iid]
        acked = await api.incident_action(iid, "ack")
        assert acked.status == "acknowledged" and acked.acked_by == "alice"
        with pytest.raises(ApiError) as refused:
            await api.incident_action("inc-nope", "ack")
        assert refused.value.status == 404
        # Search, a page at a time, newest first; the hub says why a search is bad.
        page = await api.search("brand:Northwind", limit=5)
        assert len(page.items) == 5 and page.next is not None
        older = await api.search("brand:Northwind", before=page.next, limit=5)
        assert older.items[0].created_at <= page.items[-1].created_at
        assert not {m.id for m in page.items} & {m.id for m in older.items}
        recent = await api.search("#aerogate", since=time.time() - 3600)
        assert recent.items and all("#aerogate" in m.text.lower() for m in recent.items)
        with pytest.raises(ApiError) as refused:
            await api.search("(battery")
        assert refused.value.status == 400 and "unclosed parenthesis" in refused.value.reason
        # History, as JSON and as CSV.
        history = await api.history("day")
        assert history.by == "day" and history.brands[:3] == ["Northwind", "Contoso", "Fabrikam"]
        assert sum(r.mentions for r in history.rows if r.brand == "Northwind") > 0
        sheet = await api.history_csv("day")
        assert sheet.splitlines()[0].split(",")[1] == "brand"
        with pytest.raises(ApiError) as refused:
            await api.history("day", brands=["Nobody"])
        assert refused.value.status == 400 and "unknown brand" in refused.value.reason
    async with HubApi(hub.base, Access(token=TOKENS[Role.DISPLAY])) as api:
        with pytest.raises(ApiError) as refused:
            await api.triage(first, "resolve")
        assert refused.value.status == 403 and refused.value.reason
    # Nothing listens on a port the hub has left: a sentence, not a traceback.
    async with HubApi("http://127.0.0.1:9", analyst(), timeout=5) as api:
        with pytest.raises(ApiError) as gone:
            await api.queue()
        assert gone.value.status == 0 and "cannot reach the hub" in gone.value.reason


# --------------------------------------------------------------------------- views and keys


# At one size: the screenshots test draws every view at both.
@pytest.mark.parametrize("size", [WIDE])
async def test_views_come_up_by_number_by_colon_and_by_the_palette(
    hub: Running, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=size) as pilot:
        await live(app, pilot)
        assert app.current == "incidents"
        for key, name in (("2", "topics"), ("3", "sources"), ("4", "brands"), ("5", "authors")):
            await pilot.press(key)
            await wait(pilot, lambda n=name: app.current == n, name)  # type: ignore[misc]
            assert table_text(app.main.query_one(f"#{name}-table", ConsoleTable))
        topics = table_text(app.main.query_one("#topics-table", ConsoleTable))
        lead = app.state.tick.topics[0]  # type: ignore[union-attr]
        assert (lead.label or lead.term) in topics[0]
        brands = table_text(app.main.query_one("#brands-table", ConsoleTable))
        assert [row.split(" | ")[0] for row in brands] == ["Northwind", "Contoso", "Fabrikam"]
        authors = table_text(app.main.query_one("#authors-table", ConsoleTable))
        assert any("jon" in row for row in authors)
        # ":" and a view name, completed with tab.
        await pilot.press("colon")
        line = app.main.query_one(CommandLine)
        assert line.display and line.input.has_focus
        await pilot.press("q", "u", "e", "tab")
        await wait(pilot, lambda: line.input.value == "queue", "the completion")
        await pilot.press("enter")
        await wait(pilot, lambda: app.current == "queue", "the queue view")
        assert not line.display
        # An unknown name says so and stays where it was.
        await pilot.press("colon", *"dance", "enter")
        await wait(pilot, lambda: any("no view 'dance'" in n for n in notes(app)), "the refusal")
        assert app.current == "queue"
        # The palette offers every view and action by name.
        await pilot.press("ctrl+p")
        await wait(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", "palette")
        await pilot.press(*"view: history")
        await pilot.pause()
        await wait(
            pilot,
            lambda: (
                "view: history"
                in str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
            ),
            "the history command",
        )
        await pilot.press("enter")
        await wait(pilot, lambda: app.current == "history", "the history view")
        # The tabs are clickable.
        await pilot.click("#tab-topics")
        await wait(pilot, lambda: app.current == "topics", "a click on a tab")
        # Esc goes back through what was shown.
        await pilot.press("escape")
        await wait(pilot, lambda: app.current == "history", "back")


async def test_the_palette_lists_every_view_and_action(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot:
        await live(app, pilot)
        names = [name for name, _about, _run in app.palette_commands()]
        for view in ("incidents", "topics", "sources", "brands", "authors", "queue"):
            assert f"view: {view}" in names
        for action in ("claim", "assign", "label", "escalate", "resolve", "ignore", "note"):
            assert f"triage: {action}" in names
        for action in ("ack", "snooze", "resolve"):
            assert f"incident: {action}" in names
        assert "history: export CSV" in names and "search mentions" in names


async def test_question_mark_lists_the_keys_of_the_view(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot:
        await live(app, pilot)
        await pilot.press("6")
        await wait(pilot, lambda: app.current == "queue", "the queue")
        await pilot.press("question_mark")
        await wait(pilot, lambda: isinstance(app.screen, KeysScreen), "the keys")
        keys = shown(app.screen.query_one("#keys-table"))
        for key, words in (
            ("c", "claim the mention"),
            ("a", "assign it to someone"),
            ("l", "give it a class"),
            ("e", "escalate it"),
            ("r", "resolve it"),
            ("i", "ignore it"),
            ("n", "add a note"),
            ("m", "only yours"),
            ("u", "only nobody's"),
            ("/", "search mentions"),
            ("ctrl+p", "command palette"),
        ):
            rows = [line for line in keys.splitlines() if line.split()[:1] == [key]]
            assert any(words in line for line in rows), (key, words, keys)
        await pilot.press("escape")
        await wait(pilot, lambda: not isinstance(app.screen, KeysScreen), "closed")
        await pilot.press("1", "question_mark")
        await wait(pilot, lambda: isinstance(app.screen, KeysScreen), "the keys")
        keys = shown(app.screen.query_one("#keys-table"))
        assert "acknowledge the incident" in keys and "snooze the incident" in keys
        assert "resolve the incident" in keys


async def test_o_shows_the_console_layout_over_the_views(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot:
        await live(app, pilot)
        await pilot.press("6")
        await wait(pilot, lambda: app.current == "queue", "the queue")
        await pilot.press("o")
        await wait(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        assert [s.name for s in overview.wall_layout.scenes] == ["brands", "conversation"]
        assert overview.query_one("#tiles", BrandTilesPanel).region.width > 50
        await wait(pilot, lambda: "Northwind" in screen_text(app), "the brand tiles")
        assert "1/2 brands" in screen_text(app)
        await pilot.press("tab")
        await wait(pilot, lambda: overview.scene == "conversation", "the next scene")
        await wait(pilot, lambda: "2/2 conversation" in screen_text(app), "its label")
        await pilot.press("escape")
        await wait(pilot, lambda: app.screen is app.main, "back to the views")
        assert app.current == "queue"


# --------------------------------------------------------------------------- queue and triage


async def test_the_queue_shows_what_waits_oldest_first_breached_rows_marked(
    hub: Running, tmp_path: Path
) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await live(app, pilot)
        # Its tab says what waits before it is opened.
        tab = app.main.query_one("#tab-queue")
        await wait(pilot, lambda: "6 queue 9 ⚠3" in str(tab.render()), "the queue's tab")
        await pilot.press("6")
        queue = app.view_of(QueueView)
        table = queue.table
        await wait(pilot, lambda: table.row_count == 9, "the queue")
        rows = table_text(table)
        # A marker as well as a colour: ⚠ on the three that waited past the target.
        assert [row.split(" | ")[0] for row in rows] == ["⚠"] * 3 + ["·"] * 6
        assert rows[0].split(" | ")[1].startswith("40m") and "/ 30m" in rows[0]
        cell = table.get_row_at(0)[1]
        assert cell.style == table.part("breached")  # type: ignore[union-attr]
        assert "3 BREACHED" in caption(app, "queue") and "9 waiting" in caption(app, "queue")
        # Claim the oldest: mine shows it alone, unassigned leaves it out.
        first = table.selected_key
        await pilot.press("c")
        await wait(pilot, lambda: "CLAIMED" in table_text(table)[0], "the claim")
        assert "alice" in table_text(table)[0]
        await pilot.press("m")
        await wait(pilot, lambda: table.row_count == 1, "mine")
        assert table.selected_key == first and "mine" in caption(app, "queue")
        await pilot.press("u")
        await wait(pilot, lambda: table.row_count == 8, "unassigned")
        assert first not in [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(8)]  # type: ignore[arg-type]
        await pilot.press("u")
        await wait(pilot, lambda: table.row_count == 9, "all again")
        # The mouse: a click picks a row, a second click on it opens the mention.
        await pilot.click("#queue-table", offset=(60, 3))
        await wait(pilot, lambda: table.cursor_row == 2, "the clicked row")
        picked = table.selected_key
        await pilot.click("#queue-table", offset=(60, 3))
        detail = app.view_of(DetailView)
        await wait(pilot, lambda: app.current == "detail", "the detail")
        assert detail.mention_id == picked


async def test_each_triage_action_and_a_refusal(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot, HubApi(hub.base, analyst()) as api:
        await live(app, pilot)
        await pilot.press("6")
        queue = app.view_of(QueueView)
        table = queue.table
        await wait(pilot, lambda: table.row_count == 9, "the queue")
        mention = table.selected_key
        assert mention is not None

        async def state() -> str:
            detail = await api.mention(mention)
            s = detail.state
            return f"{s.status} {s.assignee} {s.category}/{s.category_by}"

        done = app.actions_done
        await pilot.press("c")
        await wait(pilot, lambda: app.actions_done > done, "claim")
        assert (await state()).startswith("claimed alice")
        # a: assign, to a name typed in a prompt.
        await pilot.press("a")
        await wait(pilot, lambda: isinstance(app.screen, PromptScreen), "the prompt")
        await pilot.press(*"bob", "enter")
        await wait(pilot, lambda: app.actions_done > done + 1, "assign")
        assert (await state()).startswith("claimed bob")
        await wait(pilot, lambda: "bob" in table_text(table)[0], "bob on the row")
        # l: label, picked from the classes.
        await pilot.press("l")
        await wait(pilot, lambda: isinstance(app.screen, PickScreen), "the picker")
        picker = app.screen.query_one(OptionList)
        picker.highlighted = [o.id for o in picker.options].index("product_problem")
        await pilot.press("enter")
        await wait(pilot, lambda: app.actions_done > done + 2, "label")
        assert (await state()).endswith("product_problem/person")
        # e: escalate, n: note.
        await pilot.press("e")
        await wait(pilot, lambda: app.actions_done > done + 3, "escalate")
        assert (await state()).startswith("escalated bob")
        await pilot.press("n")
        await wait(pilot, lambda: isinstance(app.screen, PromptScreen), "the note prompt")
        await pilot.press(*"called the customer", "enter")
        await wait(pilot, lambda: app.actions_done > done + 4, "note")
        detail = await api.mention(mention)
        assert detail.history[-1].note == "called the customer"
        # r: resolve. It leaves the queue, here and for everyone.
        await pilot.press("r")
        await wait(pilot, lambda: app.actions_done > done + 5, "resolve")
        assert (await state()).startswith("resolved")
        await wait(pilot, lambda: table.row_count == 8, "the queue without it")
        # i: ignore the next one.
        other = table.selected_key
        assert other is not None and other != mention
        await pilot.press("i")
        await wait(pilot, lambda: app.actions_done > done + 6, "ignore")
        assert (await api.mention(other)).state.status == "ignored"
        assert [s.action for s in (await api.mention(mention)).history] == [
            "claim",
            "assign",
            "label",
            "escalate",
            "note",
            "resolve",
        ]
        # A cancelled prompt sends nothing.
        await pilot.press("a")
        await wait(pilot, lambda: isinstance(app.screen, PromptScreen), "the prompt")
        await pilot.press("escape")
        await pilot.pause()
        assert app.actions_done == done + 7
    # The hub refuses a display token: the console says so, with the hub's reason.
    viewer = console(hub, tmp_path, access=Access(token=TOKENS[Role.DISPLAY]))
    async with viewer.run_test(size=COMPACT) as pilot:
        await live(viewer, pilot)
        viewer.view_of(DetailView).mention_id = mention
        viewer.show_view("detail")
        await pilot.press("c")
        await wait(pilot, lambda: viewer.actions_done == 1, "the refusal")
        refusal = [n for n in notes(viewer) if "claim refused" in n]
        assert refusal and "403" not in refusal[0] and len(refusal[0]) > len("claim refused: ")


async def test_an_action_shows_at_once_on_every_console(hub: Running, tmp_path: Path) -> None:
    """Another analyst acts (here through the API, as their console does): this console
    folds the hub's ``triage`` message and shows it without asking."""
    app = console(hub, tmp_path)
    async with (
        app.run_test(size=COMPACT) as pilot,
        HubApi(hub.base, Access(token=TOKENS[Role.ADMIN])) as other,
    ):
        await live(app, pilot)
        await pilot.press("6")
        table = app.view_of(QueueView).table
        await wait(pilot, lambda: table.row_count == 9, "the queue")
        mention = table.selected_key
        assert mention is not None
        seen = app.triage_events
        await other.triage(mention, "claim")
        await wait(pilot, lambda: app.triage_events > seen, "the triage message")
        await wait(pilot, lambda: "root" in table_text(table)[0], "root's claim on the row")
        assert "CLAIMED" in table_text(table)[0]
        state = app.triage.get(mention)
        assert state is not None and state.assignee == "root"
        await other.triage(mention, "resolve")
        await wait(pilot, lambda: table.row_count == 8, "the row gone")


# --------------------------------------------------------------------------- incidents


async def test_incident_keys_ack_snooze_and_resolve(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot:
        await live(app, pilot)
        iid = open_incident(hub.hub)
        view = app.view_of(IncidentsView)
        await wait(pilot, lambda: view.table.row_count == 1, "the incident")
        assert "CRIT" in table_text(view.table)[0] and "OPEN" in table_text(view.table)[0]

        def status() -> str:
            incident = app.state.incident(iid)
            return incident.status if incident else ""

        await pilot.press("k")
        await wait(pilot, lambda: status() == "acknowledged", "the ack, through the stream")
        await wait(pilot, lambda: "ACK by alice" in table_text(view.table)[0], "on screen")
        await pilot.press("s")
        await wait(pilot, lambda: status() == "snoozed", "the snooze")
        await pilot.press("R")
        await wait(pilot, lambda: status() == "resolved", "resolved")
        await wait(pilot, lambda: "RESOLVED by alice" in table_text(view.table)[0], "on screen")
        # Resolving it again: the hub's reason, as a notification.
        await pilot.press("R")
        await wait(pilot, lambda: any("resolve refused" in n for n in notes(app)), "refusal")


# --------------------------------------------------------------------------- the hub away


async def test_a_hub_that_is_gone_shows_in_the_status_line_and_never_freezes(
    hub: Running, tmp_path: Path
) -> None:
    app = console(hub, tmp_path, base="http://127.0.0.1:9")
    async with app.run_test(size=COMPACT) as pilot:
        await wait(pilot, lambda: app.state.link == "down", "the link down")
        app.refresh_now()
        await pilot.pause()
        labels = [str(lbl.render()) for lbl in app.main.query("StatusBar Label").results(Label)]
        assert any("OFFLINE" in text for text in labels)
        assert any("HUB UNREACHABLE" in text for text in labels)
        await pilot.press("6")
        queue = app.view_of(QueueView)
        await wait(pilot, lambda: "cannot reach the hub" in queue.error, "the queue's error")
        assert "cannot reach the hub" in caption(app, "queue")
        await pilot.press("1")  # keys still work
        await wait(pilot, lambda: app.current == "incidents", "the incidents view")


# --------------------------------------------------------------------------- search and detail


async def test_a_bad_search_says_why_without_leaving_the_view(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=COMPACT) as pilot:
        await live(app, pilot)
        await pilot.press("2", "slash")
        bar = app.main.query_one(SearchBar)
        await wait(pilot, lambda: bar.display, "the search bar")
        query = app.main.query_one("#search-query", Input)
        assert query.has_focus
        query.value = "(battery"
        await pilot.press("enter")
        await wait(pilot, lambda: bar.error, "the error")
        assert bar.error == "query: unclosed parenthesis at position 1"
        assert bar.display and app.current == "topics"
        query.value = "colour:red battery"
        await pilot.press("enter")
        await wait(pilot, lambda: "unknown field 'colour:'" in bar.error, "the field error")
        query.value = "battery"
        app.main.query_one("#search-range", Input).value = "soon"
        await pilot.press("enter")
        await wait(pilot, lambda: "time range" in bar.error, "the range error")
        assert app.current == "topics"
        await pilot.press("escape")
        assert not bar.display and app.current == "topics"
    assert search_problem("") is None


async def test_search_drill_down_and_detail(hub: Running, tmp_path: Path) -> None:
    app = console(hub, tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await live(app, pilot)
        search = app.view_of(SearchView)
        # From a topic: the mentions that carry it, newest first, over the window.
        topic = app.state.tick.topics[0]  # type: ignore[union-attr]
        await pilot.press("2", "enter")
        await wait(pilot, lambda: app.current == "search" and search.searches == 1, "search")
        assert search.query_text == topic_drill(topic, 300).query and search.range.text == "5m"
        assert search.query_text.endswith(term_query(topic.term))
        rows = table_text(search.table)
        assert rows and all(topic.term.lstrip("#") in row.lower() for row in rows), rows
        assert topic.term in caption(app, "search")
        assert search.error == "", search.error
        await pilot.press("escape")
        await wait(pilot, lambda: app.current == "topics", "back to the topics")
        # From a source, a brand and an author: the same, with their qualifiers.
        for key, expected in (
            ("3", "source:x"),
            ("4", "brand:Northwind"),
            ("5", 'author:"jon" source:x'),
        ):
            done = search.searches
            await pilot.press(key, "enter")
            await wait(pilot, lambda n=done: search.searches > n, expected)  # type: ignore[misc]
            assert search.query_text == expected and search.range.text == "5m"
            assert search.error == "" and search.table.row_count > 0
            await pilot.press("escape")
        # Paged from the store: m for more, or scrolling onto the last row.
        search.page_size = 5
        done = search.searches
        assert app.search("brand:Northwind", "1h") is None
        await wait(pilot, lambda: search.searches == done + 1, "the first page")
        assert search.table.row_count == 5 and search.next is not None
        await pilot.press("m")
        await wait(pilot, lambda: search.table.row_count == 10, "the second page")
        await pilot.press("end")
        await wait(pilot, lambda: search.table.row_count == 15, "the third page, by scrolling")
        times = [m.created_at for m in search.items]
        assert times == sorted(times, reverse=True)  # newest first, across pages
        search.page_size = 50
        await pilot.press("escape")
        await wait(pilot, lambda: app.current == "authors", "back to the authors")
        # From an incident: its brand over its time.
        open_incident(hub.hub)
        await pilot.press("1")
        incidents = app.view_of(IncidentsView)
        await wait(pilot, lambda: incidents.table.row_count == 1, "the incident")
        done = search.searches
        await pilot.press("enter")
        await wait(pilot, lambda: search.searches == done + 1, "the incident's mentions")
        assert search.query_text == "brand:Northwind"
        assert search.range.text.endswith("..") and search.range.since is not None
        assert search.error == "" and search.table.row_count > 0
        # From one of its signals (tab to the signals table, enter).
        await pilot.press("escape")
        await wait(pilot, lambda: app.current == "incidents", "back to the incidents")
        await pilot.press("tab")
        await wait(
            pilot,
            lambda: incidents.signals.has_focus and incidents.signals.row_count > 0,
            "the signals table, with the incident's signals",
        )
        await pilot.press("enter")
        await wait(pilot, lambda: search.searches == done + 2, "the signal's mentions")
        assert search.query_text == "brand:Northwind" and "signal" in search.origin
        # A mention in full.
        await pilot.press("enter")
        detail = app.view_of(DetailView)
        await wait(pilot, lambda: app.current == "detail" and detail.detail is not None, "detail")
        body = shown(app.main.query_one("#detail-body"))
        m = detail.detail.mention  # type: ignore[union-attr]
        for words in (m.author, m.source, "sentiment", "engagement", "brands", "Northwind"):
            assert words in body
        await pilot.press("c")
        await wait(pilot, lambda: detail.detail is not None and detail.detail.history, "history")
        await wait(pilot, lambda: "HISTORY" in shown(app.main.query_one("#detail-body")), "shown")
        await pilot.press("escape")
        await wait(pilot, lambda: app.current == "search", "back to the search")


# --------------------------------------------------------------------------- history


async def test_history_charts_by_hour_day_week_and_the_csv_export(
    hub: Running, tmp_path: Path
) -> None:
    await two_weeks(hub)
    app = console(hub, tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await live(app, pilot)
        history = app.view_of(HistoryView)
        await pilot.press("8")
        await wait(pilot, lambda: history.loads == 1, "the history")
        assert history.error == "", history.error
        assert history.history is not None and history.history.rows
        sov = app.main.query_one("#chart-sov", BrandChart)
        negative = app.main.query_one("#chart-negative", BrandChart)
        assert [s.name for s in sov.series][:3] == ["Northwind", "Contoso", "Fabrikam"]
        await wait(pilot, lambda: "Northwind" in shown(sov), "the chart drawn")
        assert "SHARE OF VOICE" in shown(sov) and "NEGATIVE SHARE" in shown(negative)
        # Drawn as lines at 160x48 (braille dots), the battery story on the right.
        assert any("\u2800" < ch <= "\u28ff" for ch in shown(sov))
        northwind = [v for v in negative.series[0].values if v is not None]
        assert northwind[-2] > 0.5 > northwind[0]
        rows = table_text(history.table)
        assert any(row.split(" | ")[1] == "Northwind" for row in rows)
        # The same data again: the charts are not drawn again.
        draws = (sov.draws, negative.draws)
        await pilot.press("ctrl+r")
        await wait(pilot, lambda: history.loads == 2, "the same history")
        await pilot.pause()
        assert (sov.draws, negative.draws) == draws
        for key, by in (("h", "hour"), ("w", "week"), ("d", "day")):
            loads = history.loads
            await pilot.press(key)
            await wait(pilot, lambda n=loads: history.loads > n, f"by {by}")  # type: ignore[misc]
            assert history.history is not None and history.history.by == by
            assert f"by {by}" in caption(app, "history")
            if by == "hour":  # hours nobody spoke in: a share of nothing is "-", not 0%
                cells = [r.split(" | ") for r in table_text(history.table)]
                empty = [c for c in cells if c[2].strip() == "0"]
                assert empty and all(c[4].strip() == "-" for c in empty), empty[:2]
        await pilot.press("x")
        await wait(pilot, lambda: history.exported is not None, "the export")
        path = Path(history.exported or "")
        assert path.parent == tmp_path and path.name.startswith("groundcontrol-history-day-")
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0][1] == "brand" and len(table) > 1
        assert any(str(path) in n for n in notes(app))
        # t: another range; a bad one is refused in the prompt.
        await pilot.press("t")
        await wait(pilot, lambda: isinstance(app.screen, PromptScreen), "the range prompt")
        field = app.screen.query_one(Input)
        field.value = "soon"
        await pilot.press("enter")
        await wait(pilot, lambda: app.screen.query_one("#prompt-error").display, "refusal")
        field.value = "2h"
        loads = history.loads
        await pilot.press("enter")
        await wait(pilot, lambda: history.loads > loads, "the new range")
        assert history.range_choice == "2h" and "2h" in caption(app, "history")


# --------------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("size", [COMPACT, WIDE])
async def test_screenshots(hub: Running, tmp_path: Path, size: tuple[int, int]) -> None:
    """SVGs of each view at 80x24 and 160x48; with GROUNDCONTROL_SCREENSHOTS=1 they go to
    docs/screenshots (and to PNG, where rsvg-convert is installed)."""
    out = SCREENSHOTS if os.environ.get("GROUNDCONTROL_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    open_incident(hub.hub)
    await two_weeks(hub)
    written: list[Path] = []
    app = console(hub, tmp_path)

    def shot(name: str) -> None:
        path = out / f"console-{name}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(path.name, str(out))
        written.append(path)

    async with app.run_test(size=size) as pilot:
        await live(app, pilot)
        incidents = app.view_of(IncidentsView)
        await wait(pilot, lambda: incidents.table.row_count == 1, "the incident")
        shot("incidents")
        await pilot.press("2")
        await wait(pilot, lambda: app.view_of(TopicsView).table.row_count > 0, "topics")
        shot("topics")
        queue = app.view_of(QueueView)
        await pilot.press("6")
        await wait(pilot, lambda: queue.table.row_count == 9, "the queue")
        await pilot.press("c")
        await wait(pilot, lambda: "CLAIMED" in table_text(queue.table)[0], "a claim")
        shot("queue")
        search = app.view_of(SearchView)
        await pilot.press("5", "enter")
        await wait(pilot, lambda: search.searches == 1, "an author's mentions")
        await pilot.press("slash")
        app.main.query_one("#search-query", Input).value = "brand:Northwind (battery"
        await pilot.press("enter")
        await wait(pilot, lambda: app.main.query_one(SearchBar).error, "the error")
        shot("search-error")
        app.main.query_one("#search-query", Input).value = "brand:Northwind battery"
        await pilot.press("enter")
        await wait(pilot, lambda: search.searches == 2, "the search")
        shot("search")
        detail = app.view_of(DetailView)
        await pilot.press("enter")
        await wait(pilot, lambda: detail.detail is not None, "a mention in full")
        await pilot.press("c")
        await wait(pilot, lambda: detail.detail is not None and detail.detail.history, "a claim")
        shot("detail")
        history = app.view_of(HistoryView)
        await pilot.press("8")
        await wait(pilot, lambda: history.loads >= 1, "the history")
        assert history.set_range("15d") is None
        await wait(pilot, lambda: history.loads >= 2, "two weeks")
        shot("history")
        await pilot.press("o")
        await wait(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        await wait(pilot, lambda: "Northwind" in screen_text(app), "the brand tiles")
        shot("overview")
        await pilot.press("escape")
        await wait(pilot, lambda: app.screen is app.main, "back to the views")
        await pilot.press("6", "question_mark")
        await wait(pilot, lambda: isinstance(app.screen, KeysScreen), "the keys")
        shot("keys")
    assert all(path.stat().st_size > 0 for path in written)
    converter = shutil.which("rsvg-convert")
    if out == SCREENSHOTS and converter is not None:
        for path in written:
            png = str(path.with_suffix(".png"))
            await asyncio.to_thread(subprocess.run, [converter, str(path), "-o", png], check=True)


# --------------------------------------------------------------------------- the command


def test_the_command_lists_the_keys_and_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    from groundcontrol.cli.console import console_module
    from groundcontrol.cli.main import main as cli_main

    with pytest.raises(SystemExit) as done:
        cli_main(["console", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for words in ("GROUNDCONTROL_TOKEN", "analyst", "c claim", "a assign", "/ ", "ctrl+p", "esc"):
        assert words in out, words
    app = console_module().make_console("ws://127.0.0.1:8765", access=analyst())
    assert isinstance(app, ConsoleApp) and app.api.url("/mentions").startswith("http://")
