/**
 * One task: its timeline (recorded times, the events seen live while watching, and the operator
 * actions on it from the audit log), its data when the API lets this caller see it (args, kwargs,
 * result, traceback: null or FORBIDDEN otherwise), and its canvas drawn live, with revoke / retry
 * for those the API allows.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { query, queryPartial } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf } from "../api/graphql";
import { AUDIT_LOGS, CANVAS, RETRY_TASK, REVOKE_TASK, TASK, TASK_DATA, TASK_EVENTS } from "../api/ops";
import { runAction } from "../api/actions";
import { canManage, mayShow, outOfScope } from "../auth/identity";
import { OutOfScope } from "../ui/OutOfScope";
import type { PageProps } from "../nav";
import { href } from "../router";
import { ActionDialog, AuditLink } from "../ui/ActionDialog";
import { BulkDialog } from "../ui/BulkDialog";
import { CanvasGraph, layout, type Node, subtree } from "../ui/Canvas";
import { StateBadge } from "../ui/StateBadge";
import { Time } from "../ui/Time";
import { viewOps } from "../ui/viewOps";
import { useLive, useResync } from "../util/live";
import { duration, parse } from "../util/time";

type Task = NonNullable<ResultOf<typeof TASK>["task"]>;
type Data = NonNullable<ResultOf<typeof TASK_DATA>["task"]>;
type Audit = ResultOf<typeof AUDIT_LOGS>["auditLogs"]["edges"][number]["node"];

const TERMINAL = new Set(["SUCCESS", "FAILURE", "REVOKED", "REJECTED", "LOST"]);

interface Entry {
  at: string;
  label: string;
  kind: "recorded" | "live" | "audit";
  auditId?: string;
  detail?: string;
}

export default function TaskDetail({ route }: PageProps) {
  const id = route.path[1] ?? "";
  const [task, setTask] = useState<Task | null>(null);
  const [missing, setMissing] = useState(false);
  const [data, setData] = useState<Data | null>(null);
  const [dataNote, setDataNote] = useState<string | null>(null);
  const [audit, setAudit] = useState<Audit[]>([]);
  const [seen, setSeen] = useState<Entry[]>([]);
  const [nodes, setNodes] = useState<Map<string, Node>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<null | "revoke" | "retry" | "revokeSubtree" | "retryLeaves">(null);
  const [terminate, setTerminate] = useState(true);

  const rootId = task?.rootId ?? task?.id ?? id;

  const load = async () => {
    viewOps.value = [
      operation("task", TASK, { id }),
      operation("task data", TASK_DATA, { id }),
      operation("task events", TASK_EVENTS, { filter: { ids: [id] } }),
    ];
    setError(null);
    try {
      const t = (await query(TASK, { id })).task;
      setMissing(!t);
      setTask(t ?? null);
      if (t) {
        const canvas = await query(CANVAS, { filter: { rootId: t.rootId ?? t.id } });
        const map = new Map<string, Node>();
        const add = (n: { id: string; name?: string | null; state: string; parentId?: string | null; groupId?: string | null }) =>
          map.set(n.id, { id: n.id, name: n.name ?? null, state: n.state, parentId: n.parentId ?? null, groupId: n.groupId ?? null });
        for (const { node } of canvas.tasks.edges) add(node);
        add(t);
        if (t.parent && !map.has(t.parent.id)) add({ ...t.parent, parentId: null });
        for (const c of t.children) if (!map.has(c.id)) add({ ...c, parentId: t.id });
        setNodes(map);
      }
    } catch (e) {
      setError(describe(e));
    }
    try {
      const { data: d, failures } = await queryPartial(TASK_DATA, { id });
      setData(d?.task ?? null);
      const hidden = failures.filter((f) => f.code === "FORBIDDEN");
      setDataNote(hidden.length ? "Task data is hidden for your role." : failures[0]?.message ?? null);
    } catch (e) {
      setDataNote(describe(e));
    }
    if (canManage.value) {
      try {
        const rows = await query(AUDIT_LOGS, { filter: { target: id }, first: 50, after: null });
        setAudit(rows.auditLogs.edges.map((e) => e.node));
      } catch {
        setAudit([]);
      }
    }
  };
  useEffect(() => {
    setSeen([]);
    void load();
  }, [id, canManage.value]);
  useResync(() => void load());

  const applyEvent = (e: Extract<ResultOf<typeof TASK_EVENTS>["taskEvents"], { __typename: "TaskEvent" }>) => {
    setNodes((prev) => {
      const existing = prev.get(e.taskId);
      const next = new Map(prev);
      next.set(e.taskId, {
        id: e.taskId,
        name: e.name ?? existing?.name ?? null,
        state: e.state ?? existing?.state ?? "PENDING",
        parentId: e.parentId ?? existing?.parentId ?? null,
        groupId: existing?.groupId ?? null,
      });
      return next;
    });
    if (e.taskId === id) {
      setTask((t) =>
        t
          ? {
              ...t,
              state: e.state ?? t.state,
              worker: e.worker ?? t.worker,
              retries: e.retries ?? t.retries,
              runtime: e.runtime ?? t.runtime,
              startedAt: e.startedAt ?? t.startedAt,
              finishedAt: e.finishedAt ?? t.finishedAt,
              exception: e.exception ?? t.exception,
            }
          : t,
      );
      if (e.kind !== "task.current") {
        setSeen((s) => [...s, { at: e.at ?? new Date().toISOString(), label: e.kind, kind: "live", detail: e.state ?? "" }]);
      }
      if (e.state && TERMINAL.has(e.state)) void refreshData();
    }
  };
  const refreshData = async () => {
    try {
      const { data: d } = await queryPartial(TASK_DATA, { id });
      if (d?.task) setData(d.task);
    } catch {
      /* keep what we have */
    }
  };
  // The canvas (every task under the root) and this task itself, each event applied once.
  useLive(TASK_EVENTS, { filter: { rootId } }, (d) => {
    if (d.taskEvents.__typename === "TaskEvent" && d.taskEvents.taskId !== id) applyEvent(d.taskEvents);
  }, `root:${rootId}`, Boolean(task));
  useLive(TASK_EVENTS, { filter: { ids: [id] } }, (d) => {
    if (d.taskEvents.__typename === "TaskEvent") applyEvent(d.taskEvents);
  }, `id:${id}`);

  const timeline = useMemo<Entry[]>(() => {
    if (!task) return [];
    const recorded: [string, string | null | undefined][] = [
      ["sent", task.sentAt],
      ["received", task.receivedAt],
      ["started", task.startedAt],
      ["retried", task.retriedAt],
      ["failed", task.failedAt],
      ["succeeded", task.succeededAt],
      ["revoked", task.revokedAt],
    ];
    const entries: Entry[] = recorded
      .filter((r): r is [string, string] => Boolean(r[1]))
      .map(([label, at]) => ({ at, label, kind: "recorded" }));
    for (const row of audit) {
      // The audit row keeps the mutation's answer as recorded (e.g. the new id of a retry).
      const response = row.response as { data?: { task_ids?: string[] } } | null;
      const newIds = response?.data?.task_ids ?? [];
      entries.push({
        at: row.createdAt,
        label: `${row.action} by ${row.subject ?? "?"}: ${row.outcome.toLowerCase()}`,
        kind: "audit",
        auditId: row.id,
        detail: newIds.length ? `new task ${newIds.join(", ")}` : row.error ?? "",
      });
    }
    entries.push(...seen);
    return entries.sort((a, b) => (parse(a.at)?.getTime() ?? 0) - (parse(b.at)?.getTime() ?? 0));
  }, [task, audit, seen]);

  const graph = useMemo(() => layout(nodes, rootId), [nodes, rootId]);
  const below = useMemo(() => subtree(id, graph.children), [id, graph]);
  const revokable = below.filter((n) => !TERMINAL.has(nodes.get(n)?.state ?? ""));
  const failedLeaves = below.filter((n) => nodes.get(n)?.state === "FAILURE" && !(graph.children.get(n)?.length));

  if (missing) {
    return (
      <section>
        <h1>Task not found</h1>
        <p>
          No task <code>{id}</code> is recorded. <a href={href(["tasks"])}>All tasks</a>
        </p>
      </section>
    );
  }
  if (!task) return <p aria-busy="true">{error ?? "Loading…"}</p>;
  const running = !TERMINAL.has(task.state);
  return (
    <section aria-labelledby="task-title" data-testid="task-detail" data-state={task.state}>
      <p class="crumbs">
        <a href={href(["tasks"])}>Tasks</a> › <code>{task.id}</code>
      </p>
      <h1 id="task-title">
        {task.name ?? "unnamed task"} <StateBadge state={task.state} />
      </h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="toolbar">
        <OutOfScope show={canManage.value} reason={outOfScope({ task: { queue: task.queue ?? null, name: task.name ?? null } })} />
        {running && mayShow("revokeTask", { task: { queue: task.queue ?? null, name: task.name ?? null } }) && (
          <button type="button" class="danger" data-control onClick={() => setDialog("revoke")}>
            Revoke…
          </button>
        )}
        {!running && mayShow("retryTask", { task: { queue: task.queue ?? null, name: task.name ?? null } }) && (
          <button type="button" data-control onClick={() => setDialog("retry")}>
            Retry…
          </button>
        )}
      </div>
      <dl class="facts">
        <dt>Queue</dt>
        <dd>{task.queue ? <a href={href(["tasks"], { q: `queue:${task.queue}` })}>{task.queue}</a> : "—"}</dd>
        <dt>Worker</dt>
        <dd>{task.worker ?? "—"}</dd>
        <dt>Runtime</dt>
        <dd>{duration(task.runtime)}</dd>
        <dt>Retries</dt>
        <dd>{task.retries}</dd>
        <dt>ETA</dt>
        <dd>
          <Time value={task.eta} />
        </dd>
        <dt>Expires</dt>
        <dd>
          <Time value={task.expires} />
        </dd>
        <dt>Parent</dt>
        <dd>{task.parent ? <a href={href(["tasks", task.parent.id])}>{task.parent.name ?? task.parent.id}</a> : task.parentId ?? "—"}</dd>
        <dt>Root</dt>
        <dd>{task.rootId && task.rootId !== task.id ? <a href={href(["tasks", task.rootId])}>{task.rootId}</a> : "this task"}</dd>
        <dt>Group</dt>
        <dd>{task.groupId ?? "—"}</dd>
      </dl>

      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        {timeline.map((entry, i) => (
          <li key={i} class={entry.kind}>
            <Time value={entry.at} /> <strong>{entry.label}</strong>{" "}
            {entry.auditId && <AuditLink auditId={entry.auditId} />} <span class="muted small">{entry.detail}</span>
          </li>
        ))}
      </ol>
      {!canManage.value && <p class="muted small">Operator actions on this task are in the audit log (admins).</p>}

      <h2>Data</h2>
      {dataNote && <p class="muted">{dataNote}</p>}
      <dl class="facts data">
        <dt>args</dt>
        <dd>
          <pre>{data?.argsJson !== undefined && data?.argsJson !== null ? JSON.stringify(data.argsJson) : data?.args ?? "—"}</pre>
        </dd>
        <dt>kwargs</dt>
        <dd>
          <pre>{data?.kwargsJson !== undefined && data?.kwargsJson !== null ? JSON.stringify(data.kwargsJson) : data?.kwargs ?? "—"}</pre>
        </dd>
        <dt>result</dt>
        <dd>
          <pre>{data?.result ?? "—"}</pre>
        </dd>
        <dt>exception</dt>
        <dd>
          <pre>{task.exception ?? "—"}</pre>
        </dd>
      </dl>
      {data?.traceback && (
        <details open={task.state === "FAILURE"}>
          <summary>Traceback</summary>
          <pre class="traceback">{data.traceback}</pre>
        </details>
      )}

      <h2>Canvas</h2>
      <div class="toolbar">
        <span class="muted small">{nodes.size} task{nodes.size === 1 ? "" : "s"} under root {rootId.slice(0, 8)}</span>
        <span class="spacer" />
        {mayShow("revokeTasks") && (
          <button type="button" class="danger" data-control disabled={!revokable.length} onClick={() => setDialog("revokeSubtree")}>
            Revoke subtree ({revokable.length})…
          </button>
        )}
        {mayShow("retryTasks") && (
          <button type="button" data-control disabled={!failedLeaves.length} onClick={() => setDialog("retryLeaves")}>
            Retry failed leaves ({failedLeaves.length})…
          </button>
        )}
      </div>
      <CanvasGraph nodes={nodes} rootId={rootId} current={id} />

      {dialog === "revoke" && (
        <ActionDialog
          title="Revoke this task"
          op={operation("revokeTask", REVOKE_TASK, { id, terminate })}
          confirmLabel="Revoke"
          danger
          run={() => runAction("revokeTask", REVOKE_TASK, { id, terminate })}
          onClose={(p) => {
            setDialog(null);
            if (p) void load();
          }}
        >
          <p>
            Revoke <code>{id}</code> ({task.name}).
          </p>
          <label class="inline">
            <input type="checkbox" checked={terminate} onChange={(e) => setTerminate((e.target as HTMLInputElement).checked)} /> terminate it if
            running (SIGTERM)
          </label>
        </ActionDialog>
      )}
      {dialog === "retry" && (
        <ActionDialog
          title="Retry this task"
          op={operation("retryTask", RETRY_TASK, { id })}
          confirmLabel="Retry"
          run={() => runAction("retryTask", RETRY_TASK, { id })}
          result={(p) =>
            p.taskIds.length ? (
              <p>
                New task: <a href={href(["tasks", p.taskIds[0] ?? ""])}>{p.taskIds[0]}</a>
              </p>
            ) : null
          }
          onClose={(p) => {
            setDialog(null);
            if (p) void load();
          }}
        >
          <p>Send {task.name} again with its exact original arguments (a new task id).</p>
        </ActionDialog>
      )}
      {dialog === "revokeSubtree" && <BulkDialog kind="revoke" filter={{ ids: revokable }} onClose={() => { setDialog(null); void load(); }} />}
      {dialog === "retryLeaves" && <BulkDialog kind="retry" filter={{ ids: failedLeaves }} onClose={() => { setDialog(null); void load(); }} />}
    </section>
  );
}
