"""A bounded on-disk spool of batches a feed has sent but the hub has not acked yet.

The spool is what lets a feed promise "nothing lost" across a crash of either side:
a batch is appended (and fsynced) before it counts as submitted, and it stays on disk
until the hub acks it. After a restart the feed reads ``unacked()`` and sends those
batches again; the hub dedupes on (source, source id), so a batch the hub committed
but never got to ack is harmless.

Layout of the directory:

- ``<n>.seg``: append-only segment files of records. A record is a 20-byte header
  (magic ``GCS1``, payload length u32, crc32 u32, seq u64, little endian) followed by
  the payload. The crc covers the seq and the payload, so a torn or garbled record
  is detected. A new segment starts once the current one passes ``segment_bytes``.
- ``acks.log``: append-only records of 12 bytes (seq u64, crc32 of it u32). It is
  compacted (rewritten to a temporary file, fsynced, then ``os.replace``d) when it
  holds many acks of records that are gone already.

A segment whose records are all acked is deleted. On open the spool recovers: it
reads every segment and the ack log, truncates a torn tail (a crash in the middle
of an append), and skips acked records.

The spool is thread-safe (one lock), so the feed client can run its blocking file
I/O in a worker thread without blocking the event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MiB = 1024 * 1024

_MAGIC = b"GCS1"
_HEADER = struct.Struct("<4sIIQ")  # magic, payload length, crc32(seq + payload), seq
_SEQ = struct.Struct("<Q")
_ACK = struct.Struct("<QI")  # seq, crc32 of the packed seq
_ACK_LOG = "acks.log"
_SEG_SUFFIX = ".seg"
# Guards against a garbled length field making recovery read (or trust) gigabytes.
MAX_RECORD_BYTES = 1 << 30


class SpoolInUse(Exception):
    """Another process has this spool directory open."""


class SpoolFull(Exception):
    """Appending would take the spool past its ``max_bytes``; nothing was written."""


@dataclass
class _Segment:
    number: int
    path: Path
    size: int = 0
    seqs: set[int] = field(default_factory=set)
    unacked: int = 0


@dataclass(frozen=True)
class _Where:
    segment: int
    offset: int  # of the payload
    length: int


def _crc(seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq)))


def _ack_record(seq: int) -> bytes:
    packed = _SEQ.pack(seq)
    return packed + struct.pack("<I", zlib.crc32(packed))


class Spool:
    """Bounded, crash-safe FIFO of ``(seq, payload)`` records kept until acked.

    ``max_bytes`` bounds the segment files on disk (acked records still sitting in a
    segment with unacked ones count too). ``fsync=False`` trades durability against
    power loss for speed (a process crash still loses nothing); tests use it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 256 * MiB,
        fsync: bool = True,
        segment_bytes: int = 16 * MiB,
    ) -> None:
        if max_bytes <= _HEADER.size:
            raise ValueError(f"max_bytes must be more than {_HEADER.size}, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = fsync
        # Several segments fit under the bound, so deleting a fully acked one frees
        # a useful share of it.
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self._lock = threading.Lock()
        self._segments: dict[int, _Segment] = {}
        self._index: dict[int, _Where] = {}  # unacked seq -> where its payload is
        self._acked_live: set[int] = set()  # acked seqs whose record is still on disk
        self._max_seq = 0
        self._unacked_bytes = 0
        self._refused: int | None = None  # size of the last refused record
        self._active: _Segment | None = None
        self._active_fd: int | None = None
        self._ack_records = 0
        self.recovered_bytes = 0
        """Bytes of torn or garbled records cut off while opening."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Two writers would interleave records and acks; the kernel drops the lock
        # when the holder dies, even by SIGKILL, so a restart is never locked out.
        self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolInUse(f"spool {self.directory} is in use by another process") from None
        self._recover()
        self._ack_fd = os.open(self.directory / _ACK_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    # ------------------------------------------------------------------ public

    def append(self, seq: int, payload: bytes) -> None:
        """Write one record; durable on return when ``fsync`` is on.

        Raises ``SpoolFull`` when the record does not fit under ``max_bytes``, and
        ``ValueError`` for a seq that is not above every seq appended before (a seq
        is never reused, even after a restart).
        """
        size = _HEADER.size + len(payload)
        if size > min(self.max_bytes, MAX_RECORD_BYTES):
            raise ValueError(f"a record of {size} bytes can never fit in this spool")
        with self._lock:
            if seq <= self._max_seq:
                raise ValueError(f"seq {seq} is not above the last one ({self._max_seq})")
            if self._bytes_used() + size > self.max_bytes:
                self._refused = size
                raise SpoolFull(
                    f"spool {self.directory} is full: {self._bytes_used()} of "
                    f"{self.max_bytes} bytes used, {len(self._index)} batches unacked"
                )
            seg = self._writable_segment()
            assert self._active_fd is not None
            header = _HEADER.pack(_MAGIC, len(payload), _crc(seq, payload), seq)
            # One write per record: a crash leaves at most one torn record at the tail.
            os.write(self._active_fd, header + payload)
            if self.fsync:
                os.fdatasync(self._active_fd)
            self._index[seq] = _Where(seg.number, seg.size + _HEADER.size, len(payload))
            seg.size += size
            seg.seqs.add(seq)
            seg.unacked += 1
            self._max_seq = seq
            self._unacked_bytes += len(payload)
            self._refused = None
            if seg.size >= self.segment_bytes:
                self._close_active()

    def ack(self, seq: int) -> None:
        """Record that the hub has ``seq``; unknown or already acked seqs are ignored."""
        with self._lock:
            where = self._index.pop(seq, None)
            if where is None:
                return
            os.write(self._ack_fd, _ack_record(seq))
            if self.fsync:
                os.fdatasync(self._ack_fd)
            self._ack_records += 1
            self._unacked_bytes -= where.length
            seg = self._segments[where.segment]
            seg.unacked -= 1
            self._acked_live.add(seq)
            if seg.unacked == 0:
                # Also the segment being written: an idle feed keeps no files around,
                # and reopening costs one file creation on the next append.
                self._delete_segment(seg)
            self._maybe_compact_acks()

    def unacked(self) -> list[tuple[int, bytes]]:
        """Every unacked ``(seq, payload)``, in append order (read from disk)."""
        with self._lock:
            out: list[tuple[int, bytes]] = []
            by_segment: dict[int, list[tuple[int, _Where]]] = {}
            for seq, where in self._index.items():
                by_segment.setdefault(where.segment, []).append((seq, where))
            for number in sorted(by_segment):
                with open(self._segments[number].path, "rb") as f:
                    for seq, where in by_segment[number]:
                        f.seek(where.offset)
                        out.append((seq, f.read(where.length)))
            return out

    def next_seq(self) -> int:
        """A seq above every seq this spool has ever been given (survives a restart)."""
        with self._lock:
            return self._max_seq + 1

    @property
    def depth(self) -> int:
        """Unacked batches."""
        return len(self._index)

    @property
    def unacked_bytes(self) -> int:
        """Payload bytes of the unacked batches."""
        return self._unacked_bytes

    @property
    def bytes_used(self) -> int:
        """Bytes of segment files on disk: what ``max_bytes`` bounds."""
        with self._lock:
            return self._bytes_used()

    @property
    def full(self) -> bool:
        """True after an append was refused, until there is room for that record."""
        with self._lock:
            return self._refused is not None and (
                self._bytes_used() + self._refused > self.max_bytes
            )

    def close(self) -> None:
        """Close the files; the spool must not be used afterwards."""
        with self._lock:
            self._close_active()
            with contextlib.suppress(OSError):
                os.close(self._ack_fd)
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)  # releases the flock

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        acked = self._read_ack_log()
        for path in sorted(self.directory.glob("*" + _SEG_SUFFIX)):
            try:
                number = int(path.stem)
            except ValueError:
                continue  # not ours
            self._segments[number] = self._scan_segment(number, path, acked)
        for seg in list(self._segments.values()):
            if seg.unacked == 0:
                self._delete_segment(seg)
        for seq in acked:
            self._max_seq = max(self._max_seq, seq)
        self._ack_records = len(acked)
        # Start clean: the ack log keeps only what still matters plus the highest seq.
        self._rewrite_ack_log()

    def _scan_segment(self, number: int, path: Path, acked: set[int]) -> _Segment:
        seg = _Segment(number, path)
        with open(path, "r+b") as f:
            data = f.read()
            pos = 0
            while pos < len(data):
                ok = pos + _HEADER.size <= len(data)
                if ok:
                    magic, length, crc, seq = _HEADER.unpack_from(data, pos)
                    end = pos + _HEADER.size + length
                    ok = (
                        magic == _MAGIC
                        and length <= MAX_RECORD_BYTES
                        and end <= len(data)
                        and _crc(seq, data[pos + _HEADER.size : end]) == crc
                    )
                if not ok:
                    # A torn tail (crash mid-append) or garbage: everything from here on
                    # is untrustworthy; keep what came before.
                    cut = len(data) - pos
                    log.warning("spool %s: cutting %d torn bytes at offset %d", path, cut, pos)
                    self.recovered_bytes += cut
                    f.truncate(pos)
                    if self.fsync:
                        os.fsync(f.fileno())
                    break
                self._max_seq = max(self._max_seq, seq)
                seg.seqs.add(seq)
                if seq in acked:
                    self._acked_live.add(seq)
                else:
                    self._index[seq] = _Where(number, pos + _HEADER.size, length)
                    self._unacked_bytes += length
                    seg.unacked += 1
                pos = end
            seg.size = pos
        return seg

    def _read_ack_log(self) -> set[int]:
        path = self.directory / _ACK_LOG
        acked: set[int] = set()
        if not path.exists():
            return acked
        data = path.read_bytes()
        usable = len(data) - len(data) % _ACK.size
        for pos in range(0, usable, _ACK.size):
            seq, crc = _ACK.unpack_from(data, pos)
            if zlib.crc32(data[pos : pos + _SEQ.size]) != crc:
                self.recovered_bytes += len(data) - pos
                break
            acked.add(seq)
        return acked

    # ------------------------------------------------------------------ internals

    def _bytes_used(self) -> int:
        return sum(seg.size for seg in self._segments.values())

    def _writable_segment(self) -> _Segment:
        if self._active is not None and self._active_fd is not None:
            return self._active
        number = max(self._segments, default=0) + 1
        path = self.directory / f"{number:012d}{_SEG_SUFFIX}"
        self._active_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL)
        if self.fsync:
            self._fsync_dir()  # the new file's name must survive a crash too
        seg = _Segment(number, path)
        self._segments[number] = seg
        self._active = seg
        return seg

    def _close_active(self) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
        seg = self._active
        self._active_fd = None
        self._active = None
        if seg is not None and seg.unacked == 0 and seg.number in self._segments:
            self._delete_segment(seg)

    def _delete_segment(self, seg: _Segment) -> None:
        if seg is self._active:
            self._close_active()
            return
        seg.path.unlink(missing_ok=True)
        del self._segments[seg.number]
        self._acked_live -= seg.seqs
        if self.fsync:
            self._fsync_dir()

    def _maybe_compact_acks(self) -> None:
        if self._ack_records > max(1024, 4 * (len(self._acked_live) + 1)):
            self._rewrite_ack_log()
            os.close(self._ack_fd)
            self._ack_fd = os.open(self.directory / _ACK_LOG, os.O_WRONLY | os.O_APPEND)

    def _rewrite_ack_log(self) -> None:
        # Keep the acks of records still on disk, plus the highest seq ever given, so
        # next_seq() survives a restart after every segment was deleted.
        keep = set(self._acked_live)
        if self._max_seq:
            keep.add(self._max_seq)
        keep -= self._index.keys()  # the highest seq may be unacked: never ack it here
        path = self.directory / _ACK_LOG
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(b"".join(_ack_record(seq) for seq in sorted(keep)))
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if self.fsync:
            self._fsync_dir()
        self._ack_records = len(keep)

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
