"""Where the collector can lose events: the `reason` label of
`celery_admin_collector_dropped_events_total`, the status key's `dropped_<reason>` fields and
`systemStatus.collector.droppedByReason`. One list, so the status, the metric, the sampler and
the schema cannot disagree.

- `intake`: over the reader's hand-off budget; `frames`: in cut or malformed frames;
  `overflow`: new tasks over the merge buffer's cap; `bus`: live updates not delivered (history
  unaffected, so it alone does not make the collector `dropping`);
- `stream_gap`: durable mode, events never seen: jumps in a producer's sequence numbers, i.e.
  entries that fell off a stream's cap (trimmed before they were read, or while pending) or that
  a worker dropped before writing them.
"""

from __future__ import annotations

DROP_REASONS: tuple[str, ...] = ("intake", "frames", "overflow", "bus", "stream_gap")
HISTORY_DROPS: tuple[str, ...] = tuple(r for r in DROP_REASONS if r != "bus")

__all__ = ["DROP_REASONS", "HISTORY_DROPS"]
