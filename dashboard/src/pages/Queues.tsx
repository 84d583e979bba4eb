/**
 * Queues: depth by priority, unacked, consumers, kept live by the `metrics` subscription (lengths
 * and oldest-message age in each sample); purge with a typed confirmation. Peeking at messages comes
 * with the API field that offers it (a column here).
 */
import { useEffect, useState } from "preact/hooks";
import { runAction } from "../api/actions";
import { query } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf } from "../api/graphql";
import { METRICS, PURGE_QUEUE, QUEUES } from "../api/ops";
import { canManage, mayShow, outOfScope } from "../auth/identity";
import { OutOfScope } from "../ui/OutOfScope";
import type { PageProps } from "../nav";
import { href } from "../router";
import { ActionDialog } from "../ui/ActionDialog";
import { viewOps } from "../ui/viewOps";
import { useLive, useResync } from "../util/live";
import { duration } from "../util/time";

type Queue = ResultOf<typeof QUEUES>["queues"][number];
interface Sampled {
  length: number;
  oldest: number | null;
  source: string | null;
}

export default function Queues(_: PageProps) {
  const [queues, setQueues] = useState<Queue[] | null>(null);
  const [sampled, setSampled] = useState<Map<string, Sampled>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [purge, setPurge] = useState<string | null>(null);

  const load = async () => {
    viewOps.value = [operation("queues", QUEUES, {}), operation("metrics", METRICS, {})];
    try {
      setQueues((await query(QUEUES, {})).queues);
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  useResync(() => void load());
  useLive(METRICS, {}, (d) => {
    if (d.metrics.__typename !== "MetricsSample") return;
    setSampled(new Map(d.metrics.queues.map((q) => [q.name, { length: q.length, oldest: q.oldestAgeSeconds ?? null, source: q.oldestAgeSource ?? null }])));
  });

  return (
    <section aria-labelledby="queues-title">
      <h1 id="queues-title">Queues</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table data-testid="queues-table" aria-busy={queues === null}>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Waiting</th>
              <th scope="col">By priority</th>
              <th scope="col">Unacked</th>
              <th scope="col">Oldest waits</th>
              <th scope="col">Consumers</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {queues?.map((q) => {
              const s = sampled.get(q.name);
              return (
                <tr key={q.name} data-queue={q.name}>
                  <th scope="row">
                    <a href={href(["tasks"], { q: `queue:${q.name}` })}>{q.name}</a>
                  </th>
                  <td>{(s?.length ?? q.length).toLocaleString()}</td>
                  <td class="small">
                    {q.byPriority.filter((p) => p.messages).map((p) => `p${p.priority}: ${p.messages}`).join(", ") || "—"}
                  </td>
                  <td>{q.unacked ?? "—"}</td>
                  <td title={s?.source ? `from ${s.source}` : ""}>{s?.oldest != null ? duration(s.oldest) : "—"}</td>
                  <td>{q.consumers.join(", ") || <span class="muted">none</span>}</td>
                  <td class="row-actions">
                    <OutOfScope show={canManage.value} reason={outOfScope({ queue: q.name })} />
                    {mayShow("purgeQueue", { queue: q.name }) && (
                      <button type="button" class="danger" data-control onClick={() => setPurge(q.name)}>
                        Purge…
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {purge && (
        <ActionDialog
          title={`Purge ${purge}`}
          op={operation("purgeQueue", PURGE_QUEUE, { name: purge })}
          confirmLabel="Delete every waiting message"
          danger
          typed={purge}
          run={() => runAction("purgeQueue", PURGE_QUEUE, { name: purge })}
          result={(p) => <p>{p.purged ?? 0} messages removed.</p>}
          onClose={(p) => {
            setPurge(null);
            if (p) void load();
          }}
        >
          <p>Every message waiting in {purge} (all priorities) is deleted. Running tasks are not touched.</p>
        </ActionDialog>
      )}
    </section>
  );
}
