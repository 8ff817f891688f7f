"""Disk spool: FIFO order, persistence across restarts, corruption and torn-write handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from stub_server import Reply

from influx.spool import Spool, SpoolLockedError
from influx.writer import BatchingWriter


def batch(i: int, n: int = 3) -> list[str]:
    return [f"m v={i * 100 + j}i {i * 100 + j}" for j in range(n)]


def drain(sp: Spool) -> list[list[str]]:
    out = []
    while (rec := sp.peek()) is not None:
        out.append(rec.lines)
        sp.ack(rec)
    return out


def test_fifo_and_segment_rotation(tmp_path):
    sp = Spool(tmp_path, segment_max_bytes=200)
    for i in range(10):
        sp.append(batch(i))
    assert len(list(tmp_path.glob("*.seg"))) > 1
    assert sp.pending_lines == 30
    assert drain(sp) == [batch(i) for i in range(10)]
    assert sp.pending_lines == 0 and sp.empty()
    assert not list(tmp_path.glob("*.seg"))  # delivered segments are deleted
    sp.close()


def test_appends_while_reading_keep_order(tmp_path):
    sp = Spool(tmp_path)
    sp.append(batch(0))
    rec = sp.peek()
    sp.append(batch(1))  # goes to a new segment: the one being read was rotated
    assert rec is not None
    sp.ack(rec)
    assert drain(sp) == [batch(1)]
    sp.close()


def test_restart_resumes_after_acked_records(tmp_path):
    sp = Spool(tmp_path)
    for i in range(4):
        sp.append(batch(i))
    rec = sp.peek()
    assert rec is not None
    sp.ack(rec)
    rec = sp.peek()
    assert rec is not None
    sp.ack(rec)
    sp.close()
    sp2 = Spool(tmp_path)
    assert sp2.pending_lines == 6
    assert drain(sp2) == [batch(2), batch(3)]
    sp2.close()


def test_one_owner_per_directory(tmp_path):
    sp = Spool(tmp_path)
    with pytest.raises(SpoolLockedError):
        Spool(tmp_path)
    sp.close()
    Spool(tmp_path).close()


def corrupt_second_record(tmp_path: Path) -> None:
    sp = Spool(tmp_path)
    for i in range(3):
        sp.append(batch(i))
    sp.close()
    (seg,) = tmp_path.glob("*.seg")
    data = bytearray(seg.read_bytes())
    rec_len = len(data) // 3
    data[rec_len + 20] ^= 0xFF  # flip a payload byte of record 2: CRC mismatch
    seg.write_bytes(bytes(data))


def test_corrupted_record_is_skipped_and_counted(tmp_path):
    corrupt_second_record(tmp_path)
    sp = Spool(tmp_path)
    assert drain(sp) == [batch(0), batch(2)]
    assert sp.corrupt_records == 1
    sp.close()


def test_corrupt_length_field_resyncs_on_next_magic(tmp_path):
    sp = Spool(tmp_path)
    for i in range(3):
        sp.append(batch(i))
    sp.close()
    (seg,) = tmp_path.glob("*.seg")
    data = bytearray(seg.read_bytes())
    rec_len = len(data) // 3
    data[rec_len + 4 : rec_len + 8] = b"\xff\xff\xff\x00"  # absurd length
    seg.write_bytes(bytes(data))
    sp = Spool(tmp_path)
    assert drain(sp) == [batch(0), batch(2)]
    assert sp.corrupt_records == 1
    sp.close()


def test_torn_tail_after_crash(tmp_path):
    sp = Spool(tmp_path)
    sp.append(batch(0))
    sp.append(batch(1))
    sp.close()
    (seg,) = tmp_path.glob("*.seg")
    seg.write_bytes(seg.read_bytes()[:-5])  # SIGKILL mid-append
    sp = Spool(tmp_path)
    assert drain(sp) == [batch(0)]
    assert sp.corrupt_records == 1
    sp.close()


def test_cap_drops_oldest_segment_and_counts(tmp_path):
    sp = Spool(tmp_path, segment_max_bytes=100, max_bytes=400)
    for i in range(20):
        sp.append(batch(i))
    assert sp.dropped_lines > 0
    got = drain(sp)
    assert got[-1] == batch(19)  # newest kept
    assert sum(len(b) for b in got) + sp.dropped_lines == 60
    sp.close()


def test_writer_replays_a_spool_with_a_corrupted_record(tmp_path, stub):
    corrupt_second_record(tmp_path)
    s = stub(lambda st, req: Reply(204))
    w = BatchingWriter(s.url, "", "o", "db", spool_dir=tmp_path, create_bucket=False)
    assert w.flush(10)
    w.close()
    assert s.accepted_lines() == batch(0) + batch(2)
    st = w.stats()
    assert st["spool_corrupt_records"] == 1 and st["points_written"] == 6
