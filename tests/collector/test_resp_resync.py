"""The pub/sub reader never crashes or stalls on a cut or corrupted byte stream (issue 9).

Raw chunks from the socket go through the `Intake` (which drops whole chunks when the loop is far
behind) and the `PubSubDecoder`; after any cut or malformed frame decoding resumes at the next
frame, the loss is counted in messages and reported once as a gap, and a WARNING is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from src.collector.collector import Collector
from src.collector.decode import PubSubDecoder
from src.collector.intake import Dropped, Intake
from src.collector.resp import MalformedFrame, parse_frames
from tests.collector.events import kombu_payload, task_event

PATTERN = b"/0.celeryev/*"


def pmessage(i: int) -> bytes:
    """One pub/sub message as Redis sends it: a task-sent event for task `t<i>`."""
    body = kombu_payload(task_event("sent", f"t{i}", 1_000.0 + i, name="proj.add"))
    channel = b"/0.celeryev/task.sent"
    parts = [b"pmessage", PATTERN, channel, body]
    out = [b"*4\r\n"] + [b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]
    return b"".join(out)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["uuid"] for e in events]


def stream(n: int) -> bytes:
    return b"".join(pmessage(i) for i in range(n))


def test_frames_split_anywhere_decode_exactly_once() -> None:
    data = stream(5)
    for cut in range(1, len(data), 37):
        decoder = PubSubDecoder()
        events = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert ids(events) == [f"t{i}" for i in range(5)]
        assert decoder.bad_frames == decoder.lost_messages == 0


def test_a_chunk_cut_mid_frame_does_not_crash_the_parser() -> None:
    """The crash of issue 9: the intake dropped a chunk, so the next one starts mid-frame. Before,
    `parse_frames` raised on its first byte, the consumer died and the intake's queue was lost."""
    one = len(pmessage(0))
    data = stream(10)
    first, dropped, rest = (
        data[: 2 * one + 40],
        data[2 * one + 40 : 5 * one + 7],
        data[5 * one + 7 :],
    )
    decoder = PubSubDecoder()
    events = decoder.feed(first)
    decoder.cut(messages=3, nbytes=len(dropped), started_at=1.0, ended_at=2.0)  # t3, t4, t5 heads
    events += decoder.feed(rest)
    assert ids(events) == ["t0", "t1", "t6", "t7", "t8", "t9"]
    assert decoder.lost_messages == 1  # t2: its head was decoded before the cut
    [gap] = decoder.take_gaps()
    assert "4 message(s)" in gap["error"]  # t2 .. t5
    assert decoder.feed(stream(1)) == [task_event("sent", "t0", 1_000.0, name="proj.add")]


def test_a_cut_nobody_announced_is_survived_too() -> None:
    """The same bytes without the intake's marker (as on main): the partial frame swallows the
    start of the next chunk, its end is malformed, and decoding resumes at the next frame."""
    one = len(pmessage(0))
    data = stream(10)
    decoder = PubSubDecoder()
    events = decoder.feed(data[: 2 * one + 40]) + decoder.feed(data[5 * one + 7 :])
    assert ids(events)[:2] == ["t0", "t1"]
    assert ids(events)[-3:] == ["t7", "t8", "t9"]
    assert decoder.bad_frames == 1


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda f: f.replace(b"*4\r\n", b"*x\r\n", 1),  # a count that is no number
        lambda f: f.replace(b"$8\r\n", b"$9\r\n", 1),  # a wrong length
        lambda f: b"#" + f[1:],  # an unknown reply type
        lambda f: f[:-30] + b"garbage" + f[-30:],  # bytes inserted into the payload
        lambda f: f.replace(b"\r\n$", b"\r\n$99999999999", 1),  # an absurd bulk length
    ],
    ids=["count", "length", "type", "inserted", "huge"],
)
def test_a_malformed_frame_is_skipped_logged_and_counted(
    corrupt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = [pmessage(i) for i in range(6)]
    good[2] = corrupt(good[2])
    data = b"".join(good)
    decoder = PubSubDecoder()
    with caplog.at_level(logging.WARNING, logger="src.collector.decode"):
        events = []
        for start in range(0, len(data), 100):  # in small chunks: the error may span several
            events += decoder.feed(data[start : start + 100])
    assert ids(events) == ["t0", "t1", "t3", "t4", "t5"]
    assert decoder.bad_frames == 1 and decoder.lost_messages == 1
    assert len(decoder.take_gaps()) == 1
    assert "resynchronised" in caplog.text


def test_parse_frames_reports_what_it_parsed_before_a_bad_frame() -> None:
    data = pmessage(0) + b"?bad\r\n" + pmessage(1)
    with pytest.raises(MalformedFrame) as raised:
        parse_frames(data)
    assert len(raised.value.frames) == 1 and raised.value.at == len(pmessage(0))


def test_a_length_that_never_completes_does_not_stall() -> None:
    """A corrupted length promising more bytes than ever come must not hold the stream."""
    decoder = PubSubDecoder(max_partial=10_000)
    bad = pmessage(0).replace(b"\r\n$", b"\r\n$5000000", 1)
    events = decoder.feed(bad)
    for i in range(1, 40):
        events += decoder.feed(pmessage(i))
    assert ids(events)[-5:] == [f"t{i}" for i in range(35, 40)]
    assert decoder.bad_frames == 1


def _intake(max_bytes: int) -> Intake:
    return Intake(asyncio.new_event_loop(), max_bytes=max_bytes, max_delay=None)


def test_intake_counts_dropped_messages_exactly_across_cut_heads() -> None:
    """Chunks cut anywhere (even through a pmessage head) and dropped for the budget are counted
    in messages: what is decoded plus what is counted equals what was sent."""
    total = 40
    data = stream(total)
    for size in (97, 211, 1000, 4096):
        intake = _intake(max_bytes=3 * size)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        decoder = PubSubDecoder()
        decoded: list[str] = []
        for n, chunk in enumerate(chunks):
            intake.put_raw(chunk)
            if n % 7 == 6:  # the loop catches up now and then; in between it is too slow
                for item in intake._batches:
                    if isinstance(item, Dropped):
                        decoder.cut(item.messages, item.bytes, item.started_at, item.ended_at)
                    else:
                        decoded += ids(decoder.feed(item))  # type: ignore[arg-type]
                intake._batches.clear()
                intake._raw_times.clear()
                intake._bytes = 0
        for item in intake._batches:
            if isinstance(item, Dropped):
                decoder.cut(item.messages, item.bytes, item.started_at, item.ended_at)
            else:
                decoded += ids(decoder.feed(item))  # type: ignore[arg-type]
        if intake._cut is not None:  # dropped to the end: the stream would go on with a cut
            decoder.cut(0, 0, 0.0, 0.0)
        assert intake.dropped_messages > 0
        assert len(decoded) == len(set(decoded))
        assert len(decoded) + intake.dropped_messages + decoder.lost_messages == total, size


def test_intake_drops_what_would_wait_longer_than_max_delay() -> None:
    """An overload is not turned into minutes of lag: past `max_delay`, chunks are dropped (and
    counted) until the loop catches up."""
    intake = Intake(asyncio.new_event_loop(), max_delay=0.0)
    assert intake.put_raw(pmessage(0))
    time.sleep(0.01)  # the first chunk has now waited longer than max_delay
    assert not intake.put_raw(pmessage(1))
    assert intake.dropped_messages == 1


async def test_collector_keeps_consuming_after_a_cut(caplog: pytest.LogCaptureFixture) -> None:
    """Through the collector's consume step: nothing raises, the gap is counted in events."""
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/unused")  # never used
    collector = Collector(engine=engine)
    collector.intake = Intake(
        asyncio.get_running_loop(), max_bytes=len(pmessage(0)) * 3, max_delay=None
    )
    data = stream(12)
    size = len(pmessage(0)) + 13
    for i in range(0, len(data), size):
        collector.intake.put_raw(data[i : i + size])
    with caplog.at_level(logging.WARNING):
        while collector.intake.qsize():
            await collector.handle_batches(await collector.intake.get())
    dropped = collector.dropped_events()
    assert len(collector.merger) + dropped["intake"] + dropped["frames"] == 12
    assert dropped["intake"] > 0
    assert collector.gaps == 1
    await engine.dispose()
