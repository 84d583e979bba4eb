/**
 * Overview, live through subscriptions: health, workers, queues, throughput and failure rate (the
 * last hour from `metricsHistory`, extended by each `metrics` sample), alerts (`alerts`
 * subscription), recent failures. Chart markers: operator actions from the audit log (admins) and
 * alerts, each linking to the tasks that finished around it.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { query, queryPartial } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf } from "../api/graphql";
import { ALERTS, MARKERS, METRICS, OVERVIEW, WORKER_EVENTS } from "../api/ops";
import { canManage } from "../auth/identity";
import type { PageProps } from "../nav";
import { href } from "../router";
import { Chart, type Marker } from "../ui/Chart";
import { Time } from "../ui/Time";
import { viewOps } from "../ui/viewOps";
import { useLive, useResync } from "../util/live";
import { ago, duration, parse } from "../util/time";

type Data = ResultOf<typeof OVERVIEW>;
type Sample = NonNullable<Data["dashboard"]["metrics"]>;
type Alert = Data["dashboard"]["activeAlerts"][number];

const WINDOW_S = 3600;
const MARKER_ACTIONS = [
  "setRateLimit", "setTimeLimit", "poolGrow", "poolShrink", "autoscale", "addConsumer",
  "cancelConsumer", "poolRestart", "restartSystem", "shutdownWorker", "shutdownSystem",
  "updateSystemConfig", "startMonitoring", "stopMonitoring", "purgeQueue", "revokeTasks", "retryTasks",
];

interface Point {
  at: number;
  succeeded: number | null;
  failed: number | null;
}

function windowLink(at: number): string {
  const after = new Date((at - 300) * 1000).toISOString();
  const before = new Date((at + 300) * 1000).toISOString();
  return href(["tasks"], { q: `finished>${after} finished<${before}`, order: "FINISHED_ASC" });
}

function variables() {
  const to = new Date();
  const from = new Date(to.getTime() - WINDOW_S * 1000);
  return { from: from.toISOString(), to: to.toISOString(), step: 60 };
}

export default function Overview(_: PageProps) {
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [points, setPoints] = useState<Point[]>([]);
  const [sample, setSample] = useState<Sample | null>(null);
  const [alerts, setAlerts] = useState<Map<string, Alert>>(new Map());
  const [history, setHistory] = useState<Alert[]>([]);
  const [actions, setActions] = useState<{ at: number; label: string }[]>([]);
  const [online, setOnline] = useState<Map<string, boolean>>(new Map());

  const load = async () => {
    const vars = variables();
    viewOps.value = [operation("overview", OVERVIEW, vars), operation("metrics", METRICS, {})];
    try {
      const { data: d, failures } = await queryPartial(OVERVIEW, vars);
      if (!d) throw new Error(failures.map((f) => `${f.code}: ${f.message}`).join("; "));
      setData(d);
      setError(failures.length ? failures.map((f) => `${f.code}: ${f.message}`).join("; ") : null);
      setSample(d.dashboard.metrics ?? null);
      setAlerts(new Map(d.dashboard.activeAlerts.map((a) => [a.key, a])));
      setHistory(d.alertHistory);
      setPoints(
        d.metricsHistory
          .filter((p) => p.samples > 0)
          .map((p) => ({
            at: (parse(p.at)?.getTime() ?? 0) / 1000,
            succeeded: p.succeededPerMinute ?? null,
            failed: p.failedPerMinute ?? null,
          })),
      );
    } catch (e) {
      setError(describe(e));
    }
    if (canManage.value) {
      try {
        const m = await query(MARKERS, { filter: { actions: MARKER_ACTIONS, after: vars.from } });
        setActions(
          m.auditLogs.edges.map(({ node }) => ({
            at: (parse(node.createdAt)?.getTime() ?? 0) / 1000,
            label: `${node.action}${node.target ? ` ${node.target}` : ""} by ${node.subject ?? "?"} (${node.outcome.toLowerCase()})`,
          })),
        );
      } catch {
        setActions([]);
      }
    }
  };
  useEffect(() => {
    void load();
  }, [canManage.value]);
  useResync(() => void load());

  useLive(METRICS, {}, (d) => {
    const s = d.metrics;
    if (s.__typename !== "MetricsSample") return;
    setSample(s);
    const at = (parse(s.takenAt)?.getTime() ?? Date.now()) / 1000;
    setPoints((prev) => {
      const cutoff = Date.now() / 1000 - WINDOW_S;
      const next = prev.filter((p) => p.at >= cutoff && p.at < at);
      next.push({ at, succeeded: s.throughput.succeededPerMinute, failed: s.throughput.failedPerMinute });
      return next;
    });
  });
  useLive(ALERTS, {}, (d) => {
    const m = d.alerts;
    if (m.__typename !== "AlertEvent") return;
    setAlerts((prev) => {
      const next = new Map(prev);
      if (m.alert.active) next.set(m.alert.key, m.alert);
      else next.delete(m.alert.key);
      return next;
    });
    if (m.kind === "alert.raised") setHistory((h) => [m.alert, ...h].slice(0, 100));
  });
  useLive(WORKER_EVENTS, {}, (d) => {
    const e = d.workerEvents;
    if (e.__typename !== "WorkerEvent") return;
    setOnline((prev) => (prev.get(e.hostname) === e.online ? prev : new Map(prev).set(e.hostname, e.online)));
  });

  const markers = useMemo<Marker[]>(() => {
    const list: Marker[] = actions.map((a) => ({ ...a, kind: "action", href: windowLink(a.at) }));
    for (const alert of history) {
      const at = (parse(alert.raisedAt)?.getTime() ?? 0) / 1000;
      list.push({ at, kind: "alert", label: `alert: ${alert.message}`, href: windowLink(at) });
    }
    return list;
  }, [actions, history]);

  const xs = points.map((p) => p.at);
  const succeeded = points.map((p) => p.succeeded);
  const failed = points.map((p) => p.failed);
  const rate = points.map((p) =>
    p.succeeded === null || p.failed === null || p.succeeded + p.failed === 0
      ? null
      : (100 * p.failed) / (p.succeeded + p.failed),
  );
  const last = points[points.length - 1];

  const workers = sample?.workers ?? [];
  const offline = [...online.entries()].filter(([, up]) => !up).map(([h]) => h);
  const queues = sample?.queues ?? [];

  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="cards">
        <div class="card">
          <h2>Health</h2>
          <p class={`big health-${(data?.dashboard.health ?? "unknown").toLowerCase()}`} data-testid="health">
            {data?.dashboard.health ?? "…"}
          </p>
          <ul class="plain small">
            {data?.dashboard.components.map((c) => (
              <li key={c.name} title={c.detail}>
                {c.ok ? "✓" : "✗"} {c.name}
              </li>
            ))}
          </ul>
        </div>
        <div class="card">
          <h2>Workers</h2>
          <p class="big" data-testid="workers-online">
            {sample?.workersOnline ?? "…"}
          </p>
          <p class="muted small">
            online · {sample?.tasksActive ?? 0} {sample?.tasksActive === 1 ? "task" : "tasks"} active
            {offline.length > 0 && ` · offline: ${offline.join(", ")}`}
          </p>
        </div>
        <div class="card">
          <h2>Queued</h2>
          <p class="big">{sample?.queuedTotal ?? "…"}</p>
          <p class="muted small">
            oldest waits {sample?.maxWaitSeconds != null ? duration(sample.maxWaitSeconds) : "—"}
          </p>
        </div>
        <div class="card">
          <h2>Failures</h2>
          <p class="big">
            <a href={href(["tasks"], { q: "state:FAILURE" })}>{data?.dashboard.recentFailures ?? "—"}</a>
          </p>
          <p class="muted small">
            in the last {duration(data?.dashboard.recentFailuresWindowSeconds ?? 0)}
          </p>
        </div>
      </div>
      {!data?.dashboard.metricsFresh && data && (
        <p class="muted">Monitoring has no fresh sample: is it on (startMonitoring)?</p>
      )}
      <div class="charts">
        <Chart
          title="Throughput (tasks per minute)"
          xs={xs}
          series={[
            { label: "succeeded", color: "#2e7d32" },
            { label: "failed", color: "#c62828" },
          ]}
          ys={[succeeded, failed]}
          markers={markers}
          summary={last ? `Latest: ${last.succeeded ?? 0} succeeded and ${last.failed ?? 0} failed per minute.` : "No data yet."}
        />
        <Chart
          title="Failure rate (%)"
          xs={xs}
          series={[{ label: "failed", color: "#c62828", unit: "%" }]}
          ys={[rate]}
          markers={markers}
          summary={`Latest failure rate: ${rate[rate.length - 1]?.toFixed(1) ?? "—"}%.`}
        />
      </div>
      {markers.length > 0 && (
        <details class="markers">
          <summary>{markers.length} markers (operator actions and alerts) in the last hour</summary>
          <ul>
            {markers
              .slice()
              .sort((a, b) => b.at - a.at)
              .map((m, i) => (
                <li key={i}>
                  <a href={m.href}>
                    <Time value={new Date(m.at * 1000).toISOString()} short /> {m.label}
                  </a>
                </li>
              ))}
          </ul>
        </details>
      )}
      <div class="columns">
        <section aria-labelledby="alerts-title">
          <h2 id="alerts-title">Open alerts</h2>
          {alerts.size === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <ul class="alerts" data-testid="open-alerts">
              {[...alerts.values()].map((a) => (
                <li key={a.key} class={`alert sev-${a.severity.toLowerCase()}`}>
                  <strong>{a.severity}</strong> {a.message}{" "}
                  <span class="muted small">
                    since <Time value={a.raisedAt} short />
                  </span>
                </li>
              ))}
            </ul>
          )}
          <h2>Recent failures</h2>
          {data?.failures.edges.length ? (
            <ul class="plain">
              {data.failures.edges.map(({ node }) => (
                <li key={node.id}>
                  <a href={href(["tasks", node.id])}>{node.name ?? node.id}</a>{" "}
                  <span class="muted small">
                    {node.exception ?? ""} · <Time value={node.finishedAt} short />
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">None recorded.</p>
          )}
        </section>
        <section aria-labelledby="ov-workers-title">
          <h2 id="ov-workers-title">Workers</h2>
          <table class="compact" data-testid="overview-workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Active</th>
                <th scope="col">Pool</th>
                <th scope="col">Load</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.hostname}>
                  <td>
                    <a href={href(["workers"], { host: w.hostname })}>{w.hostname}</a>
                  </td>
                  <td>{w.active}</td>
                  <td>{w.poolSize ?? "—"}</td>
                  <td>{w.poolSize ? `${Math.round((100 * w.active) / w.poolSize)}%` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Queues</h2>
          <table class="compact">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Waiting</th>
                <th scope="col">Oldest</th>
                <th scope="col">Drains in</th>
                <th scope="col">Consumers</th>
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => (
                <tr key={q.name}>
                  <td>
                    <a href={href(["tasks"], { q: `queue:${q.name}` })}>{q.name}</a>
                  </td>
                  <td>{q.length}</td>
                  <td title={q.oldestAgeSource ?? ""}>{q.oldestAgeSeconds != null ? duration(q.oldestAgeSeconds) : "—"}</td>
                  <td>{drainTime(q.name, q.length, sample)}</td>
                  <td>{q.consumers}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {sample && (
            <p class="muted small">
              Sampled <Time value={sample.takenAt} short /> ({ago(parse(sample.takenAt) ?? new Date())})
            </p>
          )}
        </section>
      </div>
    </section>
  );
}

/** Time to drain at the rate this queue's tasks finished in the sampler's window. */
function drainTime(queue: string, length: number, sample: Sample | null): string {
  if (!length) return "—";
  const t = sample?.throughput;
  const finished = t?.byQueue.find((q) => q.queue === queue)?.byState.reduce((n, s) => n + s.count, 0) ?? 0;
  if (!t || finished <= 0) return "∞";
  return duration((length * t.windowSeconds) / finished);
}
