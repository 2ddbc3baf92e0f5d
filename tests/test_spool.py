"""The on-disk spool: round trip, acks across reopen, torn tails, bounds, a model check."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundcontrol.client.spool import Spool, SpoolFull, SpoolInUse


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_round_trip_in_append_order(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for seq in (1, 2, 5):
            spool.append(seq, f"batch {seq}".encode())
        assert spool.unacked() == [(1, b"batch 1"), (2, b"batch 2"), (5, b"batch 5")]
        assert spool.depth == 3
        assert spool.next_seq() == 6
    with Spool(tmp_path) as again:
        assert again.unacked() == [(1, b"batch 1"), (2, b"batch 2"), (5, b"batch 5")]
        assert again.next_seq() == 6


def test_acked_batches_are_not_returned_after_reopen(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for seq in range(1, 5):
            spool.append(seq, bytes([seq]) * 10)
        spool.ack(2)
        spool.ack(4)
        spool.ack(99)  # unknown: ignored
    with Spool(tmp_path) as again:
        assert again.unacked() == [(1, b"\x01" * 10), (3, b"\x03" * 10)]
        assert again.depth == 2
        assert again.unacked_bytes == 20


def test_seq_is_never_reused_even_after_everything_was_acked(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for seq in range(1, 4):
            spool.append(seq, b"x")
        for seq in range(1, 4):
            spool.ack(seq)
        assert segments(tmp_path) == []
        with pytest.raises(ValueError, match="not above"):
            spool.append(3, b"again")
    for _ in range(2):  # opening compacts the ack log: the highest seq must survive that
        with Spool(tmp_path) as again:
            assert again.next_seq() == 4
            assert again.unacked() == []


def test_one_spool_directory_has_one_writer(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(1, b"one")
        with pytest.raises(SpoolInUse):
            Spool(tmp_path)
    with Spool(tmp_path) as again:  # closed: free again
        assert again.unacked() == [(1, b"one")]


def test_torn_tail_is_cut_and_the_rest_survives(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for seq in range(1, 4):
            spool.append(seq, b"p" * 100)
    (seg,) = segments(tmp_path)
    size = seg.stat().st_size
    os.truncate(seg, size - 30)  # a crash in the middle of writing record 3
    with Spool(tmp_path) as again:
        assert [seq for seq, _ in again.unacked()] == [1, 2]
        assert again.recovered_bytes == 120 - 30
        again.append(3, b"new three")  # the torn seq was never durable: usable again
        assert again.unacked()[-1] == (3, b"new three")
    with Spool(tmp_path) as third:
        assert [seq for seq, _ in third.unacked()] == [1, 2, 3]


@pytest.mark.parametrize(
    "garbage",
    # Random bytes, fixed once: every test process must collect the same parameters.
    [b"\x00" * 7, b"GCS1" + b"\xff" * 40, random.Random(64).randbytes(64), b"GCS1\x05\x00\x00\x00"],
    ids=["zeros", "bad-length", "random", "truncated-header"],
)
def test_garbage_after_the_last_record_is_cut(tmp_path: Path, garbage: bytes) -> None:
    with Spool(tmp_path) as spool:
        spool.append(1, b"one")
        spool.append(2, b"two")
    (seg,) = segments(tmp_path)
    good = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(garbage)
    with Spool(tmp_path) as again:
        assert again.unacked() == [(1, b"one"), (2, b"two")]
        assert again.recovered_bytes == len(garbage)
    assert seg.stat().st_size == good


def test_a_flipped_bit_is_caught_by_the_crc(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(1, b"one")
        spool.append(2, b"two")
    (seg,) = segments(tmp_path)
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0x01
    seg.write_bytes(bytes(data))
    with Spool(tmp_path) as again:
        assert again.unacked() == [(1, b"one")]


def test_torn_ack_log_tail_is_ignored(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(1, b"one")
        spool.append(2, b"two")
        spool.ack(1)
    with open(tmp_path / "acks.log", "ab") as f:
        f.write(b"\x02\x00\x00")  # a torn ack of 2: 2 stays unacked, resending is safe
    with Spool(tmp_path) as again:
        assert again.unacked() == [(2, b"two")]


def test_full_spool_refuses_without_writing(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=1000, fsync=False) as spool:
        spool.append(1, b"a" * 400)  # 420 bytes with its header
        spool.append(2, b"b" * 400)
        used = spool.bytes_used
        assert not spool.full
        with pytest.raises(SpoolFull):
            spool.append(3, b"c" * 400)
        assert spool.full
        assert spool.bytes_used == used
        assert [seq for seq, _ in spool.unacked()] == [1, 2]
        spool.ack(1)  # 1 sits alone in its segment (segments rotate at max_bytes / 4)
        assert not spool.full
        spool.append(3, b"c" * 400)
        assert [seq for seq, _ in spool.unacked()] == [2, 3]
        with pytest.raises(ValueError, match="never fit"):
            spool.append(4, b"x" * 2000)


def test_segments_are_deleted_once_all_their_records_are_acked(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, segment_bytes=1000) as spool:
        for seq in range(1, 11):
            spool.append(seq, b"z" * 480)  # two records fill a segment
        assert len(segments(tmp_path)) == 5
        spool.ack(1)
        assert len(segments(tmp_path)) == 5  # 2 still needs the first one
        spool.ack(2)
        assert len(segments(tmp_path)) == 4
        for seq in range(3, 11):
            spool.ack(seq)
        assert segments(tmp_path) == []
        assert spool.bytes_used == 0


def test_disk_use_stays_bounded_over_many_appends_and_acks(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=64_000, fsync=False, segment_bytes=8_000) as spool:
        biggest = 0
        for seq in range(1, 5001):
            spool.append(seq, os.urandom(200))
            if seq > 10:
                spool.ack(seq - 10)  # ten batches in flight, like a live feed
            on_disk = sum(p.stat().st_size for p in tmp_path.iterdir())
            biggest = max(biggest, on_disk)
        assert spool.depth == 10
    # Segments stay under max_bytes; the ack log is compacted to a few KiB.
    assert biggest < 64_000 + 1024 * 12 + 100
    assert (tmp_path / "acks.log").stat().st_size < 1025 * 12


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.binary(max_size=300)),
            st.tuples(st.just("ack"), st.integers(min_value=0, max_value=40)),
            st.tuples(st.just("reopen"), st.just(b"")),
        ),
        max_size=60,
    )
)
def test_any_interleaving_matches_a_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, object]]
) -> None:
    directory = tmp_path_factory.mktemp("spool")

    def open_spool() -> Spool:
        return Spool(directory, max_bytes=4000, fsync=False, segment_bytes=700)

    model: dict[int, bytes] = {}  # insertion ordered, like the spool
    spool = open_spool()
    next_seq = 1
    try:
        for op, arg in ops:
            if op == "append":
                assert isinstance(arg, bytes)
                assert spool.next_seq() == next_seq
                try:
                    spool.append(next_seq, arg)
                except SpoolFull:
                    assert spool.bytes_used + 20 + len(arg) > 4000
                else:
                    model[next_seq] = arg
                    next_seq += 1  # a refused seq was never written: it is handed out again
            elif op == "ack":
                assert isinstance(arg, int)
                spool.ack(arg)
                model.pop(arg, None)
            else:
                spool.close()
                spool = open_spool()
            assert spool.unacked() == list(model.items())
            assert spool.depth == len(model)
            assert spool.bytes_used <= 4000
    finally:
        spool.close()
