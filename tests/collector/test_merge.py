"""Merge rules: out-of-order and duplicate events, retries, runtimes, the pending cap."""

from __future__ import annotations

import itertools
import random

from src.collector.decode import Decoder
from src.collector.merge import TaskMerger, merge_rows
from src.collector.resp import parse_frames
from tests.collector.events import kombu_payload, lifecycle, task_event

T0 = 1_700_000_000.0


def merged(events: list[dict]) -> dict:  # type: ignore[type-arg]
    merger = TaskMerger()
    for event in events:
        merger.apply(dict(event))
    (row,) = merger.drain()
    return row


def test_in_order_lifecycle_fills_every_column() -> None:
    row = merged(lifecycle("t1", T0))
    assert row["state"] == "SUCCESS"
    assert (row["sent_at"], row["received_at"], row["started_at"]) == (T0, T0 + 1, T0 + 2)
    assert row["succeeded_at"] == row["finished_at"] == T0 + 3
    assert row["name"] == "proj.add" and row["args"] == "(1, 2)" and row["kwargs"] == "{}"
    assert row["queue"] == "ai_analysis" and row["worker"] == "w1@host"
    assert row["result"] == "42" and row["runtime"] == 0.9
    assert row["seen_at"] == T0 and row["root_id"] == "t1"


def test_every_order_and_duplicates_give_the_same_row() -> None:
    events = lifecycle("t1", T0)
    expected = merged(events)
    for order in itertools.permutations(events):
        assert merged(list(order)) == expected
    noisy = events + random.Random(1).choices(events, k=10)
    random.Random(2).shuffle(noisy)
    assert merged(noisy) == expected


def test_late_received_never_overwrites_terminal_states() -> None:
    for fail in (False, True):
        events = lifecycle("t1", T0, fail=fail)
        late = task_event("received", "t1", T0 + 10, name="proj.add")
        row = merged([*events, late])
        assert row["state"] == ("FAILURE" if fail else "SUCCESS")
        assert row["received_at"] == T0 + 1  # the first receipt
    revoked = [task_event("revoked", "t2", T0 + 1), task_event("received", "t2", T0 + 5)]
    assert merged(revoked)["state"] == "REVOKED"


def test_failure_keeps_exception_and_computes_runtime() -> None:
    row = merged(lifecycle("t1", T0, fail=True))
    assert row["state"] == "FAILURE"
    assert row["exception"] == "ValueError('x')" and row["traceback"] == "tb"
    assert row["runtime"] == 1.0  # failed_at - started_at


def test_retries_counted_once_each_even_when_duplicated() -> None:
    events = [
        task_event("received", "t1", T0, retries=0, name="flaky"),
        task_event("started", "t1", T0 + 1),
        task_event("retried", "t1", T0 + 2, exception="RuntimeError('1')"),
        task_event("received", "t1", T0 + 3, retries=1, name="flaky"),
        task_event("started", "t1", T0 + 4),
        task_event("retried", "t1", T0 + 5, exception="RuntimeError('2')"),
    ]
    # Until the retry's own message is seen, a task-retried only proves one retry.
    assert merged(events[:3])["retries"] == 1
    resent = task_event("sent", "t1", T0 + 4.9, retries=2, hostname="client")
    row = merged(events + events[2:3] + events[5:] + [resent])
    assert row["state"] == "RETRY" and row["retries"] == 2
    assert row["exception"] == "RuntimeError('2')"
    done = merged(
        [
            *events,
            task_event("received", "t1", T0 + 6, retries=2),
            task_event("started", "t1", T0 + 7),
            task_event("succeeded", "t1", T0 + 8, result="'ok'", runtime=0.1),
        ]
    )
    assert done["state"] == "SUCCESS" and done["retries"] == 2
    assert done["received_at"] == T0 and done["started_at"] == T0 + 7


def test_split_across_flushes_merges_like_one_batch() -> None:
    events = lifecycle("t1", T0)
    whole = merged(events)
    for cut in range(1, len(events)):
        first, second = merged(events[:cut]), merged(events[cut:])
        assert merge_rows(first, second) == whole
        assert merge_rows(second, first) == whole


def test_pending_cap_drops_new_tasks_and_counts() -> None:
    merger = TaskMerger(max_pending=2)
    for i in range(4):
        merger.apply(task_event("received", f"t{i}", T0 + i))
    merger.apply(task_event("started", "t0", T0 + 9))  # a pending task still merges
    assert len(merger) == 2 and merger.overflow_dropped == 2
    assert merger.pending["t0"]["state"] == "STARTED"


def test_lost_is_overridden_by_a_later_terminal_event() -> None:
    merger = TaskMerger()
    merger.apply(task_event("started", "t1", T0))
    merger.mark_lost("t1", "w1@host", T0 + 10)
    assert merger.pending["t1"]["state"] == "LOST"
    merger.apply(task_event("started", "t1", T0 + 1))  # a late duplicate
    assert merger.pending["t1"]["state"] == "LOST"
    merger.apply(task_event("succeeded", "t1", T0 + 5, result="1"))
    assert merger.pending["t1"]["state"] == "SUCCESS"


def test_decoder_reads_kombu_envelopes_single_and_batched() -> None:
    decoder = Decoder()
    events = lifecycle("t1", T0)
    assert decoder.decode_payload(kombu_payload(events[0], "task.sent")) == [events[0]]
    assert decoder.decode_payload(kombu_payload(events[1:])) == events[1:]
    assert decoder.decode_payload(b"not json") == [] and decoder.errors == 1


def test_resp_frames_split_anywhere() -> None:
    payload = kombu_payload(lifecycle("t1", T0)[0])
    frame = (
        b"*4\r\n$8\r\npmessage\r\n$13\r\n/0.celeryev/*\r\n$21\r\n/0.celeryev/task.sent\r\n"
        + b"$%d\r\n%s\r\n" % (len(payload), payload)
    )
    stream = b"*3\r\n$10\r\npsubscribe\r\n$13\r\n/0.celeryev/*\r\n:1\r\n" + frame * 3
    for cut in range(len(stream)):
        frames, pos = parse_frames(stream[:cut])
        rest, end = parse_frames(stream[pos:])
        assert len(frames) + len(rest) == 4 and pos + end == len(stream)
        assert all(f[3] == payload for f in (frames + rest)[1:])


def test_retry_reported_after_the_next_run_was_received_counts_once() -> None:
    events = [
        task_event("received", "t1", T0, retries=0, hostname="a"),
        task_event("started", "t1", T0 + 1, hostname="a"),
        task_event("sent", "t1", T0 + 2, retries=1, hostname="client"),
        task_event("received", "t1", T0 + 2.5, retries=1, hostname="b"),
        task_event("retried", "t1", T0 + 2.1, hostname="a", exception="E()"),
        task_event("started", "t1", T0 + 3, hostname="b"),
        task_event("succeeded", "t1", T0 + 4, hostname="b", result="1"),
    ]
    for order in (events, events[::-1]):
        row = merged(order)
        assert row["retries"] == 1 and row["state"] == "SUCCESS" and row["worker"] == "b"


async def test_malformed_events_are_skipped_and_counted() -> None:
    from src.collector.collector import Collector

    class _NoEngine:
        class dialect:
            name = "none"

    collector = Collector(engine=_NoEngine())  # type: ignore[arg-type]
    bad = [{"type": 5}, {"type": "task-started", "uuid": "t1", "timestamp": "soon"}]
    await collector.handle_batches([[*bad, *lifecycle("t1", T0)]])
    assert collector.bad_events == 1  # the non-text type; the bad timestamp is just ignored
    assert collector.merger.pending["t1"]["state"] == "SUCCESS"
