"""The CPU cuts change nothing a wall or the store sees: the enrichment cache, copy
fingerprints made with enrichment (in the worker), and stories ranked at most once a
second on the live hub's ticks."""

from __future__ import annotations

import msgspec
import pytest

from feeds.demo import DemoStream
from groundcontrol.config import Config, load_config
from groundcontrol.hub.workers import EnrichPool
from groundcontrol.listen.copies import CopyIndex
from groundcontrol.listen.enrich import Enricher
from groundcontrol.model import Mention
from groundcontrol.signals.analytics import Analytics

START = 1_790_000_000.0


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def demo(seconds: int = 120, rate: float = 40.0) -> list[Mention]:
    mentions = DemoStream(seed=5, rate=rate, start=START).between(START, START + seconds)
    for m in mentions:
        m.id = m.key
        m.received_at = m.created_at.timestamp()
    return mentions


def copies(mentions: list[Mention]) -> list[Mention]:
    return msgspec.json.decode(msgspec.json.encode(mentions), type=list[Mention])


def test_cached_enrichment_is_the_uncached_one_on_the_demo_stream(config: Config) -> None:
    mentions = demo()
    texts = [m.text for m in mentions]
    assert len(set(texts)) < 0.95 * len(texts), "the demo should repeat some texts"
    # Twice through the same cached enricher (the second pass mostly from the cache),
    # and once through a tiny one that keeps evicting.
    cached = Enricher(config.brands, config.queries, triage=config.triage)
    tiny = Enricher(config.brands, config.queries, triage=config.triage, cache_size=16)
    reference = Enricher(config.brands, config.queries, triage=config.triage, cache_size=0)
    expected = copies(mentions)
    for m in expected:
        reference.enrich_one(m)  # one at a time, no cache: the reference
    for enricher in (cached, cached, tiny):
        got = copies(mentions)
        enricher.enrich(got)
        assert got == expected
    assert cached.cache_hits > len(mentions)  # all of the second pass, and the repeats
    assert len(tiny._cache) == 16
    assert reference.cache_hits == 0 and not reference._cache


def test_copies_marked_from_enrichment_fingerprints_are_the_same(config: Config) -> None:
    mentions = demo()
    enricher = Enricher(config.brands, config.queries)
    prints = enricher.fields([(m.text, m.lang) for m in mentions])
    on_loop, from_prints = copies(mentions), copies(mentions)
    CopyIndex().mark(on_loop)
    CopyIndex().mark(from_prints, [f[8] for f in prints])
    marked = [m.copy_of for m in on_loop]
    assert sum(map(bool, marked)) > 10, "the demo should have copies"
    assert [m.copy_of for m in from_prints] == marked


async def test_a_worker_gives_the_inline_enrichment_and_fingerprints(config: Config) -> None:
    mentions = demo(30)
    pool = EnrichPool(config.brands, config.queries, workers=1, triage=config.triage)
    await pool.start()
    try:
        in_worker = copies(mentions)
        prints = await pool.enrich(in_worker)
    finally:
        pool.close()
    inline = copies(mentions)
    assert prints == pool._inline(inline)
    assert in_worker == inline


def test_stories_are_ranked_at_most_once_a_second_and_catch_up(config: Config) -> None:
    mentions = demo(60, rate=80.0)
    throttled, every_tick = Analytics(config), Analytics(config)
    bs = config.analytics.bucket_seconds
    t0 = (int(START // bs) + 1) * bs  # a bucket's start: the ticks below seal none
    for m in mentions:
        m.received_at = t0 + 0.1
    half = len(mentions) // 2
    for a in (throttled, every_tick):
        a.tick(t0)  # ranks nothing
        a.add(copies(mentions[:half]))
    # 0.25 s later: ranked again on every tick, not yet when once a second.
    assert every_tick.tick(t0 + 0.25)[0].influencers != []
    assert throttled.tick(t0 + 0.25, rank_every=1.0)[0].influencers == []
    for a in (throttled, every_tick):
        a.add(copies(mentions[half:]))
    assert throttled.tick(t0 + 0.5, rank_every=1.0)[0].influencers == []
    # A second after the last ranking it catches up with everything that came in.
    caught_up = throttled.tick(t0 + 1.0, rank_every=1.0)[0]
    reference = every_tick.tick(t0 + 1.0)[0]
    assert caught_up.influencers != [] and caught_up.influencers == reference.influencers
    assert caught_up.topics == reference.topics
    # Nothing new: no ranking, and the last one stays.
    assert throttled.tick(t0 + 2.5, rank_every=1.0)[0].influencers == caught_up.influencers
