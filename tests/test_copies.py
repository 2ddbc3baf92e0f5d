"""Retweets, quotes and near-duplicates are marked as copies of the first mention."""

from __future__ import annotations

from datetime import UTC, datetime

from groundcontrol.listen.copies import CopyIndex, fingerprint
from groundcontrol.model import Mention

T = datetime(2026, 11, 2, 12, tzinfo=UTC)


def m(sid: str, text: str, source: str = "x", url: str = "") -> Mention:
    return Mention(
        source=source, source_id=sid, text=text, created_at=T, url=url, id=f"{source}:{sid}"
    )


def test_retweets_and_reworded_links_are_copies_of_the_first() -> None:
    first = m(
        "1", "My Aero 14 battery swelled overnight, look at this photo https://t.co/aaa #AeroGate"
    )
    rt = m(
        "2",
        "RT @angry_owner: My Aero 14 battery swelled overnight, "
        "look at this photo https://t.co/aaa #AeroGate",
    )
    relinked = m(
        "3",
        "my aero 14 battery SWELLED overnight!! look at this photo https://bit.ly/zzz 🔥",
        "bluesky",
    )
    other = m("4", "My Aero 14 battery is fine after two years, look at this photo")
    index = CopyIndex()
    index.mark([first, rt, relinked, other])
    assert [x.copy_of for x in (first, rt, relinked, other)] == ["", "x:1", "x:1", ""]
    assert index.copies == 2


def test_a_retweet_of_an_unseen_post_is_the_original_of_later_retweets() -> None:
    a = m("1", "RT @bigtechguy: The Aero 14 is the best laptop I used this year, full stop.")
    b = m("2", "RT @bigtechguy: The Aero 14 is the best laptop I used this year, full stop.")
    CopyIndex().mark([a, b])
    assert (a.copy_of, b.copy_of) == ("", "x:1")


def test_a_quote_links_to_the_post_it_quotes() -> None:
    post = m("9", "The Aero 14 review is up", url="https://x.com/bigtechguy/status/9")
    quote = m("10", "Agree with this one https://x.com/bigtechguy/status/9.")
    unrelated = m("11", "Read this https://example.com/story", url="https://x.com/a/status/11")
    CopyIndex().mark([post, quote, unrelated])
    assert (post.copy_of, quote.copy_of, unrelated.copy_of) == ("", "x:9", "")


def test_short_texts_are_never_copies() -> None:
    a, b = m("1", "love it 😍"), m("2", "Love it!")
    CopyIndex().mark([a, b])
    assert fingerprint("love it") == ""
    assert (a.copy_of, b.copy_of) == ("", "")


def test_memory_is_bounded_oldest_first() -> None:
    index = CopyIndex(max_remembered=3)
    texts = [f"post number {w} says something rather different each time" for w in "abcde"]
    index.mark([m(str(i), t) for i, t in enumerate(texts)])
    assert len(index) == 3
    again = m("9", texts[0])  # the oldest was forgotten
    recent = m("10", texts[4])
    index.mark([again, recent])
    assert (again.copy_of, recent.copy_of) == ("", "x:4")
