"""The webhook receiver: parsing and signatures, then run() alone against a real hub,
with a fake vendor that signs both ways and retries like a vendor does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds.base import FeedConfigError, FeedContext
from feeds.webhook import (
    BATCH_ITEMS,
    BodyError,
    Receiver,
    Settings,
    batches,
    parse_body,
    parse_time,
    run,
    source_name,
    standard_key,
    verify_github,
    verify_standard,
)
from groundcontrol.client.stream import Backoff
from groundcontrol.hub.server import Hub, start_hub
from groundcontrol.model import Mention
from groundcontrol.protocol import Retraction
from tests.deadline import SAFETY, until
from tests.fakes.webhook import (
    Vendor,
    body,
    document,
    new_standard_secret,
    sign_github,
    sign_standard,
)
from tests.test_hub import small_config

NOW = int(time.time())
T0 = NOW - 600  # documents from ten minutes ago: inside the hub's window
SECRET_ENV = "VENDOR_WEBHOOK_SECRET"
GH_SECRET = "It's a Secret to Everybody"
STD_SECRET = new_standard_secret()


# --------------------------------------------------------------------------- parsing


def test_parse_body_takes_a_meltwater_style_delivery() -> None:
    docs = [
        document(101, T0, "Northwind Aero 14 battery swelled again", handle="mia"),
        document(
            102,
            T0 + 60,
            "Recall rumours are everywhere",
            source_type="Online News",
            title="Northwind faces questions",
            language="en-GB",
            followers=0,
        ),
    ]
    docs[1]["published_date"] = T0 + 60  # unix seconds work too
    parsed = parse_body(body(docs), Settings())
    assert parsed.skipped == [] and parsed.edits == [] and parsed.deleted == []
    tweet, article = parsed.mentions
    assert tweet.source == "twitter" and tweet.source_id == "101"
    assert tweet.text == "Northwind Aero 14 battery swelled again"
    assert tweet.created_at == datetime.fromtimestamp(T0, UTC)
    assert (tweet.author, tweet.author_reach, tweet.lang) == ("mia", 1234, "en")
    assert tweet.url == "https://twitter.com/mia/status/101"
    assert (tweet.engagement.likes, tweet.engagement.reposts, tweet.engagement.replies) == (3, 1, 0)
    assert article.source == "online_news"
    assert article.text == "Northwind faces questions\n\nRecall rumours are everywhere"
    assert article.created_at.timestamp() == T0 + 60
    assert article.lang == "en"


def test_parse_body_skips_malformed_documents_and_keeps_the_rest() -> None:
    good = document(1, T0, "Northwind is fine")
    no_id = document(2, T0, "no id")
    del no_id["id"]
    bad_date = document(3, T0, "bad date")
    bad_date["published_date"] = "last tuesday"
    empty = document(4, T0, "   ")
    ctrl_id = document(5, T0, "control characters in the id")
    ctrl_id["id"] = "5\x00"
    docs: list[Any] = [good, no_id, bad_date, empty, "not an object", ctrl_id]
    parsed = parse_body(body(docs), Settings())
    assert [m.source_id for m in parsed.mentions] == ["1"]
    assert [reason for reason, _ in parsed.skipped] == [
        "no id at 'id'",
        "bad time 'last tuesday': not ISO 8601 or unix time",
        "no text at 'content'",
        "a document is a JSON object, not str",
        "bad id at 'id'",
    ]
    assert json.loads(parsed.skipped[0][1])["content"] == "no id"
    assert parsed.documents == 6


def test_parse_body_refuses_a_body_of_the_wrong_shape() -> None:
    with pytest.raises(BodyError, match="not JSON"):
        parse_body(b"<html>502 Bad Gateway</html>", Settings())
    with pytest.raises(BodyError, match="no list of documents at 'documents'"):
        parse_body(b'{"results": []}', Settings())
    with pytest.raises(BodyError, match=r"at 'data\.results'"):
        parse_body(b'{"data": {"results": {"id": 1}}}', Settings(items="data.results"))
    # items = "": the body is the list, or one document.
    one = json.dumps(document(7, T0, "single")).encode()
    assert [m.source_id for m in parse_body(one, Settings(items="")).mentions] == ["7"]
    many = json.dumps([document(8, T0, "a"), document(9, T0, "b")]).encode()
    assert [m.source_id for m in parse_body(many, Settings(items="")).mentions] == ["8", "9"]
    assert parse_body(b'{"documents": []}', Settings()).documents == 0


def brandwatch_settings(**kw: Any) -> Settings:
    return Settings(
        items="data.results",
        text_field="body.text",
        title_field="body.headline",
        id_field="meta.uid",
        created_field="meta.ts_ms",
        url_field="links.0.href",
        author_field="user.screen_name",
        reach_field="user.stats.followers",
        lang_field="meta.lang",
        source_field="network",
        likes_field="stats.favs",
        reposts_field="stats.rts",
        replies_field="stats.replies",
        **kw,
    )


def brandwatch_doc(uid: int, ms: int, text: str) -> dict[str, Any]:
    return {
        "meta": {"uid": uid, "ts_ms": ms, "lang": "DE"},
        "network": "Reddit!",
        "body": {"headline": "", "text": f"<p>{text}</p>"},
        "links": [{"href": f"https://reddit.com/r/laptops/{uid}"}],
        "user": {"screen_name": "kai", "stats": {"followers": "77"}},
        "stats": {"favs": 5, "rts": "2", "replies": None},
    }


def test_field_mapping_follows_dotted_paths() -> None:
    raw = json.dumps(
        {"data": {"results": [brandwatch_doc(55, T0 * 1000 + 250, "Northwind <b>rocks</b>")]}}
    ).encode()
    (m,) = parse_body(raw, brandwatch_settings(html=True)).mentions
    assert m.source == "reddit" and m.source_id == "55"
    assert m.text == "Northwind rocks"
    assert m.created_at.timestamp() == pytest.approx(T0 + 0.25)
    assert (m.url, m.author, m.author_reach, m.lang) == (
        "https://reddit.com/r/laptops/55",
        "kai",
        77,
        "de",
    )
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies) == (5, 2, 0)
    # The same document with the default (Meltwater) mapping has no list at all.
    with pytest.raises(BodyError):
        parse_body(raw, Settings())


def test_parse_time_and_source_names() -> None:
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    for value in (
        "2026-11-22T10:00:00Z",
        "2026-11-22T11:00:00+01:00",
        "2026-11-22 10:00:00",  # no zone: UTC
        at.timestamp(),
        int(at.timestamp() * 1000),
        str(int(at.timestamp())),
    ):
        assert parse_time(value) == at, value
    for bad in (None, "", "soon", True, -5, 0, float("nan"), 10**20, {"t": 1}):
        with pytest.raises(ValueError):
            parse_time(bad)
    assert source_name("Twitter", "webhook") == "twitter"
    assert source_name("Online News", "webhook") == "online_news"
    assert source_name("  __TikTok.com ", "webhook") == "tiktok.com"
    assert source_name("日本", "webhook") == "webhook"
    assert source_name(None, "vendor") == "vendor"
    assert source_name("x" * 40, "webhook") == "x" * 32


def test_deleted_and_edited_documents_become_retractions_and_edits() -> None:
    edited = document(2, T0, "Northwind (edited: it was my charger)")
    edited["edited"] = True
    gone = {"id": "3", "source_type": "twitter", "deleted": True}  # no text needed
    parsed = parse_body(body([document(1, T0, "new"), edited, gone]), Settings())
    assert [m.source_id for m in parsed.mentions] == ["1"]
    assert [(m.source_id, m.text) for m in parsed.edits] == [
        ("2", "Northwind (edited: it was my charger)")
    ]
    assert parsed.deleted == [Retraction(source="twitter", source_id="3")]
    # Flags off: the same documents are plain mentions (the deleted one lacks text).
    off = parse_body(body([edited, gone]), Settings(edited_field="", deleted_field=""))
    assert [m.source_id for m in off.mentions] == ["2"]
    assert [r for r, _ in off.skipped] == ["bad time None"]


def test_batches_stay_within_the_hubs_limits() -> None:
    many = [document(i, T0, f"Northwind {i}") for i in range(BATCH_ITEMS * 2 + 3)]
    parsed = parse_body(body(many), Settings())
    parsed.deleted.append(Retraction(source="twitter", source_id="old"))
    cut = batches(parsed)
    assert [len(m) + len(e) + len(d) for m, e, d in cut] == [BATCH_ITEMS, BATCH_ITEMS, 4]
    assert [m.source_id for part in cut for m in part[0]] == [str(i) for i in range(len(many))]
    assert cut[-1][2] == [Retraction(source="twitter", source_id="old")]
    big = [document(i, T0, "x" * 19_000) for i in range(300)]
    assert all(
        sum(len(m.text) for m in part[0]) < 2_200_000
        for part in batches(parse_body(body(big), Settings()))
    )


# --------------------------------------------------------------------------- signatures


def test_github_signature_from_the_fake_vendor_verifies() -> None:
    raw = body([document(1, T0, "Northwind")])
    key = GH_SECRET.encode()
    headers = sign_github(GH_SECRET)(raw)
    assert verify_github(key, headers, raw) == ""
    upper = {"X-Hub-Signature-256": headers["X-Hub-Signature-256"].upper().replace("SHA", "sha")}
    assert verify_github(key, upper, raw) == ""  # hex case does not matter
    assert verify_github(key, headers, raw + b" ") == "X-Hub-Signature-256 does not match the body"
    assert verify_github(b"other", headers, raw) == "X-Hub-Signature-256 does not match the body"
    assert verify_github(key, {}, raw) == "missing X-Hub-Signature-256 header"
    assert verify_github(key, {"X-Hub-Signature-256": "sha1=abc"}, raw) == (
        "X-Hub-Signature-256 is not sha256=<hex>"
    )


def test_standard_webhooks_signature_from_the_fake_vendor_verifies() -> None:
    raw = body([document(1, T0, "Northwind")])
    key = standard_key(STD_SECRET)
    now = 1_800_000_000.0
    headers = sign_standard(STD_SECRET, "msg_1", clock=lambda: now)(raw)
    assert verify_standard(key, headers, raw, now) == ""
    assert verify_standard(key, headers, raw, now + 299) == ""
    assert "is 301s old" in verify_standard(key, headers, raw, now + 301)
    assert "is 301s in the future" in verify_standard(key, headers, raw, now - 301)
    assert verify_standard(key, headers, raw + b"x", now) == "no webhook-signature matches the body"
    other = standard_key(new_standard_secret(b"another key of 32 bytes, really!"))
    assert verify_standard(other, headers, raw, now) == "no webhook-signature matches the body"
    # The id is signed too: a replayed signature under another id fails.
    assert verify_standard(key, {**headers, "webhook-id": "msg_2"}, raw, now) != ""
    # Several signatures (a key rotation): any one matching is enough.
    rotated = {**headers, "webhook-signature": "v1,Zm9v " + headers["webhook-signature"]}
    assert verify_standard(key, rotated, raw, now) == ""
    v2 = {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}
    assert verify_standard(key, v2, raw, now) == "no webhook-signature matches the body"
    assert verify_standard(key, {**headers, "webhook-timestamp": "soon"}, raw, now) == (
        "webhook-timestamp 'soon' is not unix seconds"
    )
    del headers["webhook-id"]
    assert verify_standard(key, headers, raw, now) == "missing webhook-id header"
    with pytest.raises(ValueError, match="whsec_"):
        standard_key("whsec_not base64!")


async def test_settings_are_checked() -> None:
    Settings().check()
    Settings(signature="none", listen="[::1]:0").check()
    for bad, match in (
        (Settings(signature="hmac"), "signature must be one of"),
        (Settings(listen="8790"), "HOST:PORT"),
        (Settings(listen="localhost:http"), "HOST:PORT"),
        (Settings(source="Web Hook"), "source 'Web Hook'"),
        (Settings(id_field=""), "id_field is empty"),
        (Settings(max_body_bytes=0), "max_body_bytes"),
        (Settings(ack_timeout=0.0), "ack_timeout"),
        (Settings(secret_env=""), "needs secret_env"),
    ):
        with pytest.raises(FeedConfigError, match=match):
            bad.check()
    ctx = FeedContext("ws://127.0.0.1:1", "vendor", env={})
    with pytest.raises(FeedConfigError, match="GROUNDCONTROL_WEBHOOK_SECRET"):
        await Receiver(Settings(), ctx).start()
    ctx = FeedContext("ws://127.0.0.1:1", "vendor", env={SECRET_ENV: "whsec_%%%"})
    with pytest.raises(FeedConfigError, match=f"{SECRET_ENV}: not a Standard Webhooks secret"):
        await Receiver(Settings(signature="standard", secret_env=SECRET_ENV), ctx).start()


# --------------------------------------------------------------------------- end to end


@dataclass
class Served:
    url: str
    receiver: Receiver
    db: Path
    hub: Hub | None
    hub_port: int
    events: list[str] = field(default_factory=list)
    hub_runner: web.AppRunner | None = None


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path,
    settings: Settings,
    *,
    secret: str = GH_SECRET,
    hub_up: bool = True,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Served]:
    """A hub with a store, and run() alone in front of it on a free port."""
    db = tmp_path / "gc.db"
    hub, runner, port = await start_hub(small_config(), port=0, store_path=db)
    if not hub_up:
        await runner.cleanup()
    events: list[str] = []
    ctx = FeedContext(
        f"ws://127.0.0.1:{port}",
        "vendor",
        state_dir=tmp_path / "state",
        on_event=events.append,
        env={SECRET_ENV: secret},
        clock=clock,
    )
    listening: asyncio.Future[tuple[Receiver, int]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run(
            settings,
            ctx,
            on_listening=lambda r, p: listening.set_result((r, p)),
            hub_backoff=Backoff(initial=0.05, maximum=0.2),
        )
    )
    served: Served | None = None
    try:
        receiver, web_port = await asyncio.wait_for(listening, SAFETY)
        served = Served(
            f"http://127.0.0.1:{web_port}/webhooks/vendor",
            receiver,
            db,
            hub if hub_up else None,
            port,
            events,
            runner if hub_up else None,
        )
        yield served
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if served is not None and served.hub_runner is not None:
            await served.hub_runner.cleanup()
        elif served is None and hub_up:
            await runner.cleanup()
    assert not any(e.startswith("Traceback") for e in events)


def rows(db: Path, sql: str = "SELECT source, source_id FROM mentions ORDER BY id") -> list[Any]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def dead_reasons(db: Path) -> list[str]:
    return [r[0] for r in rows(db, "SELECT reason FROM dead_letters ORDER BY rowid")]


def github(**kw: Any) -> Settings:
    return Settings(secret_env=SECRET_ENV, **kw)


async def test_signed_deliveries_land_and_bad_ones_are_refused(tmp_path: Path) -> None:
    async with serving(tmp_path, github(max_body_bytes=20_000)) as s:
        vendor = Vendor(s.url, attempts=1)
        sign = sign_github(GH_SECRET)
        bad_date = document(3, T0, "Northwind, date unknown")
        bad_date["published_date"] = "yesterday-ish"
        docs = [document(1, T0, "Northwind one"), document(2, T0 + 1, "Northwind two"), bad_date]
        first = await vendor.post(body(docs), sign)
        assert first.status == 200, first.text
        assert json.loads(first.text) == {"accepted": 2, "skipped": 1, "duplicates": 0}
        assert rows(s.db) == [("twitter", "1"), ("twitter", "2")]

        # A forged delivery: 401, counted, nothing stored, no dead letter.
        forged = await vendor.post(body([document(66, T0, "Northwind forged")]), sign_github("x"))
        assert forged.status == 401
        assert forged.text == "signature: X-Hub-Signature-256 does not match the body\n"
        unsigned = await vendor.post(body([document(67, T0, "Northwind unsigned")]))
        assert unsigned.status == 401 and "missing X-Hub-Signature-256" in unsigned.text
        assert s.receiver.rejected_signatures == 2
        assert s.receiver.health.errors >= 2

        not_json = await vendor.post(b"<xml>northwind</xml>", sign)
        assert not_json.status == 400 and not_json.text.startswith("body is not JSON")
        wrong_shape = await vendor.post(b'{"results": []}', sign)
        assert wrong_shape.status == 400
        assert wrong_shape.text == "no list of documents at 'documents'\n"

        big = body([document(i, T0, "Northwind " + "x" * 1000) for i in range(100, 130)])
        assert len(big) > 20_000
        too_big = await vendor.post(big, sign)
        assert too_big.status == 413
        assert s.receiver.rejected_signatures == 2  # a 413 is decided before the signature

        # The same good delivery again (a vendor retry): 200, stored once.
        again = await vendor.post(body(docs), sign)
        assert json.loads(again.text) == {"accepted": 2, "skipped": 1, "duplicates": 2}
        await until(lambda: len(dead_reasons(s.db)) >= 4)
        assert rows(s.db) == [("twitter", "1"), ("twitter", "2")]
        reasons = dead_reasons(s.db)
        assert reasons.count("feed: bad time 'yesterday-ish': not ISO 8601 or unix time") == 2
        assert any(r.startswith("feed: body is not JSON") for r in reasons)
        assert "feed: no list of documents at 'documents'" in reasons
        assert not any("forged" in r or "X-Hub-Signature" in r for r in reasons)
        assert s.receiver.accepted == 4 and s.receiver.skipped == 2
        assert any("refused a delivery (401)" in e for e in s.events)
        assert not any(GH_SECRET in e for e in s.events)


async def test_standard_webhooks_refuses_stale_timestamps_and_ignores_replays(
    tmp_path: Path,
) -> None:
    settings = Settings(signature="standard", secret_env=SECRET_ENV)
    async with serving(tmp_path, settings, secret=STD_SECRET) as s:
        assert s.hub is not None
        vendor = Vendor(s.url, attempts=1)
        raw = body([document(11, T0, "Northwind eleven"), document(12, T0, "Northwind twelve")])
        sign = sign_standard(STD_SECRET, "msg_2Yh5")
        first = await vendor.post(raw, sign)
        assert first.status == 200, first.text
        batches_taken = s.hub.counters.batches
        # The vendor delivers the same message again: answered as before, not re-sent.
        replay = await vendor.post(raw, sign)
        assert (replay.status, replay.text) == (first.status, first.text)
        assert s.receiver.replays == 1
        assert s.hub.counters.batches == batches_taken
        assert s.hub.counters.duplicates == 0

        stale_raw = body([document(13, T0, "Northwind stale")])
        stale = await vendor.post(
            stale_raw, sign_standard(STD_SECRET, clock=lambda: time.time() - 400)
        )
        assert stale.status == 401 and "s old (limit 300s)" in stale.text
        future = await vendor.post(
            stale_raw, sign_standard(STD_SECRET, clock=lambda: time.time() + 400)
        )
        assert future.status == 401 and "in the future" in future.text
        wrong_key = await vendor.post(
            stale_raw, sign_standard(new_standard_secret(b"k" * 32), "msg_x")
        )
        assert wrong_key.status == 401
        assert s.receiver.rejected_signatures == 3
        # A replayed id with another body is refused: the signature covers both.
        swapped = await vendor.post(
            stale_raw, lambda _raw: {**sign(raw), "content-type": "application/json"}
        )
        assert swapped.status == 401
        assert rows(s.db) == [("twitter", "11"), ("twitter", "12")]


async def test_any_body_shape_maps_and_unsigned_mode_warns(tmp_path: Path) -> None:
    settings = brandwatch_settings(signature="none", html=True, source="brandwatch")
    async with serving(tmp_path, settings) as s:
        assert any("signature = none" in e for e in s.events)
        raw = json.dumps(
            {
                "data": {
                    "results": [
                        brandwatch_doc(7, T0 * 1000, "Northwind <i>support</i> is slow"),
                        {**brandwatch_doc(8, T0 * 1000, "no network"), "network": None},
                        {"meta": {"uid": 9}},
                    ]
                }
            }
        ).encode()
        answer = await Vendor(s.url, attempts=1).post(raw)
        assert json.loads(answer.text) == {"accepted": 2, "skipped": 1, "duplicates": 0}
        got = rows(
            s.db,
            "SELECT source, source_id, text, author, author_reach, lang, likes, reposts, url "
            "FROM mentions ORDER BY source_id",
        )
        assert got == [
            ("reddit", "7", "Northwind support is slow", "kai", 77, "de", 5, 2,
             "https://reddit.com/r/laptops/7"),
            ("brandwatch", "8", "no network", "kai", 77, "de", 5, 2,
             "https://reddit.com/r/laptops/8"),
        ]  # fmt: skip
        await until(lambda: bool(dead_reasons(s.db)))
        assert dead_reasons(s.db) == ["feed: bad time None"]


async def test_hub_down_answers_503_and_the_vendor_retry_lands_once(tmp_path: Path) -> None:
    async with serving(tmp_path, github(ack_timeout=0.3), hub_up=False) as s:
        # It retries until the hub is back, however long starting one takes.
        vendor = Vendor(s.url, attempts=10_000, delay=0.05, max_delay=0.2)
        docs = [document(i, T0 + i, f"Northwind outage {i}") for i in range(1, 6)]
        delivery = asyncio.create_task(vendor.post(body(docs), sign_github(GH_SECRET)))
        await until(lambda: s.receiver.unavailable >= 1)
        assert vendor.log[0].status == 503
        assert "did not ack within 0.3s" in vendor.log[0].text
        assert s.receiver.health.status().detail.startswith("503")
        _hub, s.hub_runner, _ = await start_hub(small_config(), port=s.hub_port, store_path=s.db)
        final = await asyncio.wait_for(delivery, SAFETY)
        assert final.status == 200, vendor.log
        # The batch of the first try waited in the feed and went when the hub came
        # back; the retry found it there: every document is stored exactly once.
        assert rows(s.db) == [("twitter", str(i)) for i in range(1, 6)]
        assert s.receiver.health.status().detail == ""


async def test_a_delivery_cut_in_the_middle_stores_nothing_and_the_next_one_lands(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, github()) as s:
        raw = body([document(21, T0, "Northwind cut off")])
        port = int(s.url.split(":")[2].split("/")[0])
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            "POST /webhooks/vendor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in sign_github(GH_SECRET)(raw).items())
            + "\r\n"
        )
        writer.write(head.encode() + raw[: len(raw) // 2])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        await until(lambda: s.receiver.health.errors >= 1)
        assert "cut short" in s.receiver.health.detail
        ok = await Vendor(s.url, attempts=1).post(
            body([document(22, T0, "Northwind whole")]), sign_github(GH_SECRET)
        )
        assert ok.status == 200
        assert rows(s.db) == [("twitter", "22")]
        assert s.receiver.deliveries == 1


def changes() -> tuple[bytes, bytes]:
    first = body([document(31, T0, "Northwind battery died"), document(32, T0, "Northwind meh")])
    edited = document(31, T0, "Northwind battery died (update: replaced under warranty)")
    edited["edited"] = True
    gone = {"id": "32", "source_type": "twitter", "deleted": True}
    return first, body([edited, gone])


async def test_run_sends_edits_and_deletions(tmp_path: Path) -> None:
    async with serving(tmp_path, github()) as s:
        client = s.receiver.client
        assert client is not None
        sent: list[tuple[list[Mention], list[Mention], list[Retraction]]] = []
        submit = client.submit

        async def recording(
            mentions: list[Mention],
            *,
            edits: list[Mention] | None = None,
            deleted: list[Retraction] | None = None,
        ) -> int:
            sent.append((mentions, edits or [], deleted or []))
            return await submit(mentions, edits=edits, deleted=deleted)

        client.submit = recording  # type: ignore[method-assign]
        vendor = Vendor(s.url, attempts=1)
        first, second = changes()
        assert (await vendor.post(first, sign_github(GH_SECRET))).status == 200
        answer = await vendor.post(second, sign_github(GH_SECRET))
        assert answer.status == 200 and json.loads(answer.text)["accepted"] == 2
        assert [m.source_id for m in sent[0][0]] == ["31", "32"]
        assert sent[1][0] == []
        assert [m.text for m in sent[1][1]] == [
            "Northwind battery died (update: replaced under warranty)"
        ]
        assert sent[1][2] == [Retraction(source="twitter", source_id="32")]


async def test_edits_and_deletions_reach_the_store(tmp_path: Path) -> None:
    async with serving(tmp_path, github()) as s:
        vendor = Vendor(s.url, attempts=1)
        first, second = changes()
        assert (await vendor.post(first, sign_github(GH_SECRET))).status == 200
        assert (await vendor.post(second, sign_github(GH_SECRET))).status == 200
        assert rows(s.db, "SELECT source_id, text FROM mentions") == [
            ("31", "Northwind battery died (update: replaced under warranty)")
        ]


async def test_the_receiver_mounts_on_another_app_and_takes_big_bodies(tmp_path: Path) -> None:
    """How the hub runs it: Receiver.handle on its own app (default 1 MiB client limit)."""
    db = tmp_path / "gc.db"
    _hub, hub_runner, port = await start_hub(small_config(), port=0, store_path=db)
    ctx = FeedContext(f"ws://127.0.0.1:{port}", "meltwater", env={SECRET_ENV: GH_SECRET})
    receiver = Receiver(github(), ctx)
    app = web.Application()
    app.router.add_post("/webhooks/meltwater", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/meltwater"
    try:
        # Mounted but not started (no secret read yet): nothing is taken, signed or not.
        early = await Vendor(url, attempts=1).post(body([document(1, T0, "Northwind early")]))
        assert early.status == 503
        await receiver.start()
        docs = [document(i, T0, f"Northwind {i} " + "y" * 2_000) for i in range(1_200)]
        raw = body(docs)
        assert len(raw) > 2 * 1024 * 1024
        answer = await Vendor(url, attempts=1).post(raw, sign_github(GH_SECRET))
        assert answer.status == 200, answer.text
        assert json.loads(answer.text)["accepted"] == 1_200
        assert len(rows(db)) == 1_200
    finally:
        await runner.cleanup()
        await receiver.close()
        await hub_runner.cleanup()
