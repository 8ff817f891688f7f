"""Disk spool (write stage): durable FIFO of line-protocol batches while InfluxDB is unreachable.

Append-only segment files ``<seq>.seg``; each record is::

    magic b"FSP1" | u32 payload length | u32 line count | u32 CRC32(payload) | payload

(big-endian; payload = UTF-8 lines joined by "\\n"). Length + CRC per record, as Vector's disk
buffer does (faults §1.2), so a torn write after SIGKILL or a flipped bit is detected on replay: the
bad record is skipped and counted and reading resynchronises on the next magic. Segments are read
only once closed (the reader rotates the active one), and the read position of the oldest segment
is persisted in ``<seq>.ack`` so a restart does not replay what was already delivered.

One process owns a spool directory (``flock`` on ``.lock``): two writers sharing one would
interleave and double-deliver.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MAGIC = b"FSP1"
_HEADER = struct.Struct(">4sIII")
MAX_RECORD_BYTES = 256 * 1024 * 1024  # a larger length field can only be corruption


class SpoolLockedError(RuntimeError):
    """Another process owns this spool directory."""


@dataclass
class SpoolRecord:
    """One spooled batch; pass it back to `Spool.ack` once delivered (or given up)."""

    segment: int
    end_offset: int
    lines: list[str]


class Spool:
    """Thread-safe FIFO of batches on disk, bounded by `max_bytes` (oldest segments dropped)."""

    def __init__(
        self,
        directory: Path | str,
        *,
        segment_max_bytes: int = 16 * 1024 * 1024,
        max_bytes: int = 2 * 1024 * 1024 * 1024,
        fsync: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_max_bytes = segment_max_bytes
        self.max_bytes = max_bytes
        # fsync per append would cost a disk flush per batch (Telegraf #18085); page cache survives
        # a process crash, which is the failure we design for.
        self.fsync = fsync
        self._lock = threading.RLock()
        self._lockfile = open(self.directory / ".lock", "a+b")  # noqa: SIM115 (held for our lifetime)
        try:
            fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lockfile.close()
            raise SpoolLockedError(f"spool {self.directory} is in use by another process") from exc
        self._write_seq: int | None = None  # active (append) segment
        self._fh: BinaryIO | None = None
        self.corrupt_records = 0
        self.dropped_lines = 0  # lines discarded when the spool exceeded max_bytes
        self._pending_lines = self._count_lines_on_disk()

    # -- helpers -------------------------------------------------------------------------------
    def _segments(self) -> list[int]:
        seqs = []
        for p in self.directory.glob("*.seg"):
            with contextlib.suppress(ValueError):
                seqs.append(int(p.stem))
        return sorted(seqs)

    def _seg_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}.seg"

    def _ack_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}.ack"

    def _ack_offset(self, seq: int) -> int:
        try:
            return int(self._ack_path(seq).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _count_lines_on_disk(self) -> int:
        total = 0
        for seq in self._segments():
            for _, _, count, _ in self._scan(seq, self._ack_offset(seq), count_corrupt=False):
                total += count
        return total

    def _scan(
        self, seq: int, offset: int, *, count_corrupt: bool = True, limit: int | None = None
    ) -> list[tuple[int, int, int, bytes]]:
        """Valid records from `offset`: (start, end, line_count, payload); skips corruption.

        With `limit`, stops after that many valid records, so corruption further on is only met
        (and counted) when the reader actually gets there.
        """
        out: list[tuple[int, int, int, bytes]] = []
        try:
            fh = open(self._seg_path(seq), "rb")  # noqa: SIM115
        except FileNotFoundError:
            return out
        with fh:
            size = os.fstat(fh.fileno()).st_size
            pos = offset
            while pos < size and (limit is None or len(out) < limit):
                fh.seek(pos)
                header = fh.read(_HEADER.size)
                if len(header) == _HEADER.size:
                    magic, length, count, crc = _HEADER.unpack(header)
                    end = pos + _HEADER.size + length
                    if magic == MAGIC and length <= MAX_RECORD_BYTES and end <= size:
                        payload = fh.read(length)
                        if zlib.crc32(payload) == crc:
                            out.append((pos, end, count, payload))
                            pos = end
                            continue
                # Corrupt or torn (crash mid-append) record: count it, resync on the next magic.
                if count_corrupt:
                    self.corrupt_records += 1
                fh.seek(pos + 1)
                rest = fh.read()
                nxt = rest.find(MAGIC)
                if nxt < 0:
                    break
                pos = pos + 1 + nxt
        return out

    # -- API -----------------------------------------------------------------------------------
    @property
    def pending_lines(self) -> int:
        return self._pending_lines

    def bytes_on_disk(self) -> int:
        total = 0
        for seq in self._segments():
            with contextlib.suppress(OSError):
                total += self._seg_path(seq).stat().st_size
        return total

    def empty(self) -> bool:
        with self._lock:
            return not any(
                self._scan(s, self._ack_offset(s), count_corrupt=False, limit=1)
                for s in self._segments()
            )

    def append(self, lines: list[str]) -> None:
        """Append one batch as one record (raises OSError when the disk is full/read-only)."""
        if not lines:
            return
        payload = "\n".join(lines).encode("utf-8", "surrogatepass")
        record = _HEADER.pack(MAGIC, len(payload), len(lines), zlib.crc32(payload)) + payload
        with self._lock:
            if self._fh is None:
                segs = self._segments()
                self._write_seq = (segs[-1] + 1) if segs else 1
                self._fh = open(self._seg_path(self._write_seq), "ab")  # noqa: SIM115
            fh = self._fh
            fh.write(record)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
            self._pending_lines += len(lines)
            if fh.tell() >= self.segment_max_bytes:
                self._close_active()
            self._enforce_cap()

    def _close_active(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None
        self._write_seq = None

    def _enforce_cap(self) -> None:
        segs = self._segments()
        while len(segs) > 1 and self.bytes_on_disk() > self.max_bytes:
            oldest = segs.pop(0)
            lost = sum(
                c
                for _, _, c, _ in self._scan(oldest, self._ack_offset(oldest), count_corrupt=False)
            )
            self.dropped_lines += lost
            self._pending_lines = max(0, self._pending_lines - lost)
            log.warning(
                "spool over %d bytes: dropped oldest segment (%d lines)", self.max_bytes, lost
            )
            self._remove(oldest)

    def _remove(self, seq: int) -> None:
        self._seg_path(seq).unlink(missing_ok=True)
        self._ack_path(seq).unlink(missing_ok=True)

    def peek(self) -> SpoolRecord | None:
        """The oldest undelivered batch, or None. Call `ack(record)` after delivering it."""
        with self._lock:
            for seq in self._segments():
                if seq == self._write_seq:
                    # Read only closed segments: rotate so appends continue in a new file.
                    self._close_active()
                records = self._scan(seq, self._ack_offset(seq), limit=1)
                if not records:
                    self._remove(seq)
                    continue
                start, end, count, payload = records[0]
                if start != self._ack_offset(seq):
                    # Skipped corruption before this record: persist that we are past it, so the
                    # corrupt bytes are counted once, not on every peek.
                    self._ack_path(seq).write_text(str(start))
                lines = payload.decode("utf-8", "surrogatepass").split("\n") if payload else []
                if len(lines) != count:
                    self.corrupt_records += 1
                return SpoolRecord(seq, end, lines)
            # Nothing readable left: lines of corrupt records counted at append time are gone.
            self._pending_lines = 0
            return None

    def ack(self, record: SpoolRecord) -> None:
        """Mark `record` delivered: advance (atomically) past it; delete a finished segment."""
        with self._lock:
            self._pending_lines = max(0, self._pending_lines - len(record.lines))
            seg = self._seg_path(record.segment)
            try:
                size = seg.stat().st_size
            except FileNotFoundError:
                return
            if record.end_offset >= size and record.segment != self._write_seq:
                self._remove(record.segment)
                return
            tmp = self._ack_path(record.segment).with_suffix(".ack.tmp")
            tmp.write_text(str(record.end_offset))
            os.replace(tmp, self._ack_path(record.segment))

    def close(self) -> None:
        with self._lock:
            self._close_active()
            with contextlib.suppress(OSError):
                fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_UN)
            self._lockfile.close()
