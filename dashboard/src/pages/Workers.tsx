/**
 * Workers: who answers (live through `workerEvents`: online/offline, heartbeats with active and
 * processed counts), pools, queues; the control actions the API allows this caller, each showing
 * the audit id it produced; typed confirmation for shutdowns.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { runAction } from "../api/actions";
import { query } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf } from "../api/graphql";
import {
  ADD_CONSUMER, CANCEL_CONSUMER, POOL_GROW, POOL_RESTART, POOL_SHRINK, SET_RATE_LIMIT,
  SHUTDOWN_SYSTEM, SHUTDOWN_WORKER, WORKER_EVENTS, WORKERS,
} from "../api/ops";
import { canManage, mayShow, outOfScope } from "../auth/identity";
import { OutOfScope } from "../ui/OutOfScope";
import type { PageProps } from "../nav";
import { href } from "../router";
import { ActionDialog } from "../ui/ActionDialog";
import { Time } from "../ui/Time";
import { viewOps } from "../ui/viewOps";
import { useLive, useResync } from "../util/live";
import { duration } from "../util/time";

type Worker = ResultOf<typeof WORKERS>["workers"][number];
type Dialog =
  | { kind: "grow" | "shrink" | "restart" | "shutdown"; host: string }
  | { kind: "rate"; host: string }
  | { kind: "consumer"; host: string; add: boolean }
  | { kind: "shutdownSystem" };

export default function Workers({ route }: PageProps) {
  const focus = route.params.get("host");
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [live, setLive] = useState<Map<string, { online: boolean; active: number | null; processed: number | null; at: string | null }>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [taskName, setTaskName] = useState("");
  const [rate, setRate] = useState("10/m");
  const [queue, setQueue] = useState("");
  const reload = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = async () => {
    viewOps.value = [operation("workers", WORKERS, {}), operation("workerEvents", WORKER_EVENTS, {})];
    try {
      setWorkers((await query(WORKERS, {})).workers);
      setError(null);
    } catch (e) {
      setError(describe(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  useResync(() => void load());
  useLive(WORKER_EVENTS, {}, (d) => {
    const e = d.workerEvents;
    if (e.__typename !== "WorkerEvent") return;
    setLive((prev) => new Map(prev).set(e.hostname, { online: e.online, active: e.active ?? null, processed: e.processed ?? null, at: e.at ?? null }));
    if (e.kind === "worker-online" || e.kind === "worker-offline") {
      // Pools and queues come from inspect: ask again, once, after a burst of comings and goings.
      if (reload.current) clearTimeout(reload.current);
      reload.current = setTimeout(() => void load(), 1000);
    }
  });

  const close = (changed: boolean) => {
    setDialog(null);
    if (changed) void load();
  };
  const known = new Set(workers?.map((w) => w.hostname));
  const extra = [...live.entries()].filter(([h]) => !known.has(h));

  return (
    <section aria-labelledby="workers-title">
      <h1 id="workers-title">Workers</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="toolbar">
        <span class="spacer" />
        {mayShow("shutdownSystem", { every: "worker" }) && (
          <button type="button" class="danger" data-control onClick={() => setDialog({ kind: "shutdownSystem" })}>
            Drain and shut down all…
          </button>
        )}
      </div>
      <div class="table-wrap">
        <table data-testid="workers-table" aria-busy={workers === null}>
          <thead>
            <tr>
              <th scope="col">Worker</th>
              <th scope="col">Status</th>
              <th scope="col">Pool</th>
              <th scope="col">Active</th>
              <th scope="col">Processed</th>
              <th scope="col">Load</th>
              <th scope="col">Heartbeat</th>
              <th scope="col">Queues</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {workers?.map((w) => {
              const l = live.get(w.hostname);
              const online = l ? l.online : w.online;
              return (
                <tr key={w.hostname} data-worker={w.hostname} data-online={String(online)} class={focus === w.hostname ? "highlight" : ""}>
                  <th scope="row">{w.hostname}</th>
                  <td>
                    <span class={`badge ${online ? "state-success" : "state-lost"}`}>{online ? "online" : "offline"}</span>
                  </td>
                  <td>
                    {w.pool ? `${w.pool.implementation ?? ""} ${w.pool.processes}` : "—"}
                    {w.pool?.autoscaleMax ? ` (autoscale ${w.pool.autoscaleMin}–${w.pool.autoscaleMax})` : ""}
                  </td>
                  <td>
                    <a href={href(["tasks"], { q: `worker:${w.hostname} state:STARTED` })}>{l?.active ?? w.activeTasks.length}</a>
                  </td>
                  <td>{(l?.processed ?? w.processedTotal).toLocaleString()}</td>
                  <td>{w.load != null ? `${Math.round(w.load * 100)}%` : "—"}</td>
                  <td>
                    <Time value={l?.at ?? w.lastHeartbeat} short />
                  </td>
                  <td>{w.queues.map((q) => q.name).join(", ")}</td>
                  <td class="row-actions">
                    <OutOfScope show={online && canManage.value} reason={outOfScope({ worker: w.hostname })} />
                    {online && mayShow("poolGrow", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "grow", host: w.hostname })}>
                        Pool +1
                      </button>
                    )}
                    {online && mayShow("poolShrink", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "shrink", host: w.hostname })}>
                        Pool −1
                      </button>
                    )}
                    {online && mayShow("setRateLimit", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "rate", host: w.hostname })}>
                        Rate limit…
                      </button>
                    )}
                    {online && mayShow("addConsumer", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "consumer", host: w.hostname, add: true })}>
                        Consume…
                      </button>
                    )}
                    {online && mayShow("cancelConsumer", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "consumer", host: w.hostname, add: false })}>
                        Stop consuming…
                      </button>
                    )}
                    {online && mayShow("poolRestart", { worker: w.hostname }) && (
                      <button type="button" class="ghost" data-control onClick={() => setDialog({ kind: "restart", host: w.hostname })}>
                        Restart pool
                      </button>
                    )}
                    {online && mayShow("shutdownWorker", { worker: w.hostname }) && (
                      <button type="button" class="danger" data-control onClick={() => setDialog({ kind: "shutdown", host: w.hostname })}>
                        Shut down…
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
            {extra.map(([host, l]) => (
              <tr key={host} data-worker={host} data-online={String(l.online)}>
                <th scope="row">{host}</th>
                <td>
                  <span class={`badge ${l.online ? "state-success" : "state-lost"}`}>{l.online ? "online" : "offline"}</span>
                </td>
                <td colSpan={7} class="muted small">
                  seen live; details on the next refresh
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {workers?.some((w) => w.uptime) && (
        <p class="muted small">
          Uptimes: {workers.filter((w) => w.uptime).map((w) => `${w.hostname} ${duration(w.uptime)}`).join(" · ")}
        </p>
      )}

      {dialog && (dialog.kind === "grow" || dialog.kind === "shrink") && (
        <ActionDialog
          title={`${dialog.kind === "grow" ? "Grow" : "Shrink"} the pool of ${dialog.host}`}
          op={operation(dialog.kind === "grow" ? "poolGrow" : "poolShrink", dialog.kind === "grow" ? POOL_GROW : POOL_SHRINK, { n: 1, workers: [dialog.host] })}
          confirmLabel={dialog.kind === "grow" ? "Add one process" : "Remove one process"}
          run={() =>
            dialog.kind === "grow"
              ? runAction("poolGrow", POOL_GROW, { n: 1, workers: [dialog.host] })
              : runAction("poolShrink", POOL_SHRINK, { n: 1, workers: [dialog.host] })
          }
          onClose={(p) => close(Boolean(p))}
        />
      )}
      {dialog?.kind === "restart" && (
        <ActionDialog
          title={`Restart the pool of ${dialog.host}`}
          op={operation("poolRestart", POOL_RESTART, { workers: [dialog.host] })}
          confirmLabel="Restart the pool"
          run={() => runAction("poolRestart", POOL_RESTART, { workers: [dialog.host] })}
          onClose={(p) => close(Boolean(p))}
        >
          <p class="muted small">Needs worker_pool_restarts on the worker.</p>
        </ActionDialog>
      )}
      {dialog?.kind === "rate" && (
        <ActionDialog
          title={`Rate limit on ${dialog.host}`}
          op={operation("setRateLimit", SET_RATE_LIMIT, { taskName, rate, workers: [dialog.host] })}
          confirmLabel="Set the rate limit"
          run={() => runAction("setRateLimit", SET_RATE_LIMIT, { taskName, rate, workers: [dialog.host] })}
          onClose={(p) => close(Boolean(p))}
        >
          <label>
            Task name
            <input list="registered" value={taskName} onInput={(e) => setTaskName((e.target as HTMLInputElement).value)} required />
          </label>
          <datalist id="registered">
            {workers?.find((w) => w.hostname === dialog.host)?.registeredTasks.map((t) => <option key={t} value={t} />)}
          </datalist>
          <label>
            Rate (e.g. 10/m, 0 removes it)
            <input value={rate} onInput={(e) => setRate((e.target as HTMLInputElement).value)} required />
          </label>
        </ActionDialog>
      )}
      {dialog?.kind === "consumer" && (
        <ActionDialog
          title={`${dialog.add ? "Consume a queue on" : "Stop consuming a queue on"} ${dialog.host}`}
          op={operation(dialog.add ? "addConsumer" : "cancelConsumer", dialog.add ? ADD_CONSUMER : CANCEL_CONSUMER, { queue, workers: [dialog.host] })}
          confirmLabel={dialog.add ? "Add consumer" : "Cancel consumer"}
          run={() =>
            dialog.add
              ? runAction("addConsumer", ADD_CONSUMER, { queue, workers: [dialog.host] })
              : runAction("cancelConsumer", CANCEL_CONSUMER, { queue, workers: [dialog.host] })
          }
          onClose={(p) => close(Boolean(p))}
        >
          <label>
            Queue
            <input value={queue} onInput={(e) => setQueue((e.target as HTMLInputElement).value)} required />
          </label>
        </ActionDialog>
      )}
      {dialog?.kind === "shutdown" && (
        <ActionDialog
          title={`Shut down ${dialog.host}`}
          op={operation("shutdownWorker", SHUTDOWN_WORKER, { hostname: dialog.host })}
          confirmLabel="Shut it down"
          danger
          typed={dialog.host}
          run={() => runAction("shutdownWorker", SHUTDOWN_WORKER, { hostname: dialog.host })}
          onClose={(p) => close(Boolean(p))}
        >
          <p>The worker stops after its running tasks; nothing restarts it from here.</p>
        </ActionDialog>
      )}
      {dialog?.kind === "shutdownSystem" && (
        <ActionDialog
          title="Drain and shut down every worker"
          op={operation("shutdownSystem", SHUTDOWN_SYSTEM, { drain: true, drainTimeout: 60 })}
          confirmLabel="Drain and shut down"
          danger
          typed="drain"
          run={() => runAction("shutdownSystem", SHUTDOWN_SYSTEM, { drain: true, drainTimeout: 60 })}
          result={(p) => (
            <ol>
              {p.steps.map((s, i) => (
                <li key={i}>
                  {s.ok ? "✓" : "✗"} {s.name}
                </li>
              ))}
            </ol>
          )}
          onClose={(p) => close(Boolean(p))}
        >
          <p>Every worker stops consuming, running tasks get up to 60 s to finish, then all shut down.</p>
        </ActionDialog>
      )}
    </section>
  );
}
