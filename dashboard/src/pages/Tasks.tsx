/**
 * Tasks: one filter (in the URL) drives the history query (cursor paging, page size, order), the
 * live `taskEvents` subscription (rows update in place; new arrivals appear on page one), the
 * two-phase bulk revoke / retry, "alert me on this", and export.
 */
import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { query, queryPartial } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf } from "../api/graphql";
import { TASK_EVENTS, TASKS, TASKS_COUNT } from "../api/ops";
import { mayShow } from "../auth/identity";
import type { PageProps } from "../nav";
import { href } from "../router";
import { AlertRuleDialog } from "../ui/AlertRuleDialog";
import { BulkDialog } from "../ui/BulkDialog";
import { ExportDialog } from "../ui/ExportDialog";
import { StateBadge } from "../ui/StateBadge";
import { Time } from "../ui/Time";
import { viewOps } from "../ui/viewOps";
import { take } from "../api/prefetch";
import { addWord, isEmpty, ORDERS, type Order, parseFilter, SIZES, STATES, tasksVariables } from "../util/filter";
import { useLive, useResync } from "../util/live";
import { duration, zoneName } from "../util/time";

type Row = ResultOf<typeof TASKS>["tasks"]["edges"][number]["node"];
type Event = Extract<ResultOf<typeof TASK_EVENTS>["taskEvents"], { __typename: "TaskEvent" }>;

function merge(row: Row, e: Event): Row {
  return {
    ...row,
    name: e.name ?? row.name,
    state: e.state ?? row.state,
    queue: e.queue ?? row.queue,
    worker: e.worker ?? row.worker,
    retries: e.retries ?? row.retries,
    runtime: e.runtime ?? row.runtime,
    receivedAt: e.receivedAt ?? row.receivedAt,
    startedAt: e.startedAt ?? row.startedAt,
    finishedAt: e.finishedAt ?? row.finishedAt,
    exception: e.exception ?? row.exception,
  };
}

function fromEvent(e: Event): Row {
  return {
    id: e.taskId,
    name: e.name ?? null,
    state: e.state ?? "PENDING",
    queue: e.queue ?? null,
    worker: e.worker ?? null,
    retries: e.retries ?? 0,
    runtime: e.runtime ?? null,
    seenAt: e.at ?? new Date().toISOString(),
    receivedAt: e.receivedAt ?? null,
    startedAt: e.startedAt ?? null,
    finishedAt: e.finishedAt ?? null,
    exception: e.exception ?? null,
    parentId: e.parentId ?? null,
    rootId: e.rootId ?? null,
  };
}

/**
 * One row; re-rendered only when its task changed (a live event replaces just that row's object),
 * so an event costs one row's diff, not the page's.
 */
class TaskRowView extends Component<{ row: Row; fresh: boolean; narrow: (word: string) => void }> {
  override shouldComponentUpdate(next: { row: Row; fresh: boolean }): boolean {
    return next.row !== this.props.row || next.fresh !== this.props.fresh;
  }

  override render() {
    const { row: r, fresh, narrow } = this.props;
    return (
      <tr data-task-id={r.id} data-state={r.state} class={fresh ? "fresh" : ""}>
        <td>
          <a href={href(["tasks", r.id])}>
            <code>{r.id.slice(0, 8)}</code>
          </a>
        </td>
        <td>
          {r.name ? (
            <button type="button" class="link" title="Only this name" onClick={() => narrow(`name:${r.name}`)}>
              {r.name.replace(/^.*\./, "")}
            </button>
          ) : (
            "—"
          )}
        </td>
        <td>
          <StateBadge state={r.state} />
        </td>
        <td>
          {r.queue ? (
            <button type="button" class="link" onClick={() => narrow(`queue:${r.queue}`)}>
              {r.queue}
            </button>
          ) : (
            "—"
          )}
        </td>
        <td>
          {r.worker ? (
            <button type="button" class="link" onClick={() => narrow(`worker:${r.worker}`)}>
              {r.worker}
            </button>
          ) : (
            "—"
          )}
        </td>
        <td>
          <Time value={r.receivedAt ?? r.seenAt} short />
        </td>
        <td>{duration(r.runtime)}</td>
        <td>{r.retries}</td>
      </tr>
    );
  }
}

export default function Tasks({ route }: PageProps) {
  const params = route.params;
  const q = params.get("q") ?? "";
  const variables = tasksVariables(params);
  const { first, after, orderBy: order } = variables as { first: number; after: string | null; orderBy: Order };
  const back = params.get("back")?.split(" ").filter(Boolean) ?? [];
  const { filter, problems } = useMemo(() => parseFilter(q), [q]);
  const filterKey = JSON.stringify(filter);
  // The API matches `text` against args, kwargs, result and exception, which task events do not
  // carry: with a text search, the subscription runs without it and only updates listed rows.
  const textSearch = Boolean(filter.text);
  const liveFilter = useMemo(() => {
    const { text: _text, ...rest } = filter;
    return isEmpty(rest) ? null : rest;
  }, [filterKey]);
  const live = !after && order === "SEEN_DESC" && !textSearch;

  const [draft, setDraft] = useState(q);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [count, setCount] = useState<number | null | "…">("…");
  const [error, setError] = useState<string | null>(null);
  const [arrived, setArrived] = useState(0);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [dialog, setDialog] = useState<null | "revoke" | "retry" | "alert" | "export">(null);
  const input = useRef<HTMLInputElement>(null);
  const rowsRef = useRef<Row[] | null>(null);
  rowsRef.current = rows;

  useEffect(() => setDraft(q), [q]);
  useEffect(() => {
    if (params.get("focus") && input.current) input.current.focus();
  }, []);

  const load = async () => {
    viewOps.value = [
      operation("tasks", TASKS, variables),
      operation("taskEvents", TASK_EVENTS, { filter: liveFilter }),
    ];
    setError(null);
    setArrived(0);
    try {
      const data = await take(`tasks:${JSON.stringify(variables)}`, () => query(TASKS, variables));
      setRows(data.tasks.edges.map((e) => e.node));
      setNext(data.tasks.pageInfo.hasNextPage ? data.tasks.pageInfo.endCursor ?? null : null);
    } catch (e) {
      setError(describe(e));
      setRows([]);
    }
    // Counting can take up to 2 s on a big table: after the rows, never before them.
    setCount("…");
    try {
      const { data } = await queryPartial(TASKS_COUNT, { filter: variables.filter });
      setCount(data?.tasks.totalCount ?? null);
    } catch {
      setCount(null);
    }
  };
  useEffect(() => {
    void load();
  }, [filterKey, first, after, order]);
  useResync(() => void load());

  useLive(
    TASK_EVENTS,
    { filter: liveFilter },
    (data) => {
      const e = data.taskEvents;
      if (e.__typename !== "TaskEvent") return;
      const current = rowsRef.current;
      if (!current) return;
      const index = current.findIndex((r) => r.id === e.taskId);
      if (index >= 0) {
        const updated = current.slice();
        updated[index] = merge(current[index] as Row, e);
        setRows(updated);
      } else if (e.kind !== "task.current" && !textSearch) {
        if (live) {
          setRows([fromEvent(e), ...current].slice(0, first));
          setFresh((f) => new Set(f).add(e.taskId));
          setTimeout(() => setFresh((f) => {
            const n = new Set(f);
            n.delete(e.taskId);
            return n;
          }), 3000);
          setCount((c) => (typeof c === "number" ? c + 1 : c));
        } else {
          setArrived((n) => n + 1);
        }
      }
    },
    filterKey,
  );

  const go = (changes: Record<string, string | null>) => {
    const nextParams = new URLSearchParams(params);
    nextParams.delete("focus");
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "") nextParams.delete(k);
      else nextParams.set(k, v);
    }
    window.location.hash = href(["tasks"], nextParams);
  };
  const applyFilter = (text: string) => go({ q: text || null, after: null, back: null });
  const narrow = (word: string) => applyFilter(addWord(q, word));
  const toggleState = (state: string) => {
    const current = new Set(filter.states ?? []);
    if (current.has(state as never)) current.delete(state as never);
    else current.add(state as never);
    const withoutStates = q.replace(/\bstate:\S+/gi, "").trim();
    applyFilter(current.size ? `${withoutStates} state:${[...current].join(",")}`.trim() : withoutStates);
  };

  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Tasks</h1>
      <form
        class="filter"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          applyFilter(draft.trim());
        }}
      >
        <label class="grow">
          <span class="sr-only">Filter</span>
          <input
            ref={input}
            data-filter-input
            type="search"
            value={draft}
            onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
            placeholder="state:FAILURE name:… queue:… worker:… finished>2026-11-26T10:00 text   (press / to focus)"
            spellcheck={false}
            aria-describedby="filter-help"
          />
        </label>
        <button type="submit" class="primary">
          Filter
        </button>
        <label>
          Page size{" "}
          <select value={String(first)} onChange={(e) => go({ first: (e.target as HTMLSelectElement).value, after: null, back: null })}>
            {SIZES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order{" "}
          <select value={order} onChange={(e) => go({ order: (e.target as HTMLSelectElement).value, after: null, back: null })}>
            {ORDERS.map((o) => (
              <option key={o} value={o}>
                {o.toLowerCase().replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
      </form>
      <p id="filter-help" class="muted small">
        Words: <code>state:</code> <code>name:</code> <code>queue:</code> <code>worker:</code> <code>id:</code>{" "}
        <code>root:</code> <code>parent:</code>, ranges <code>received&gt;</code> <code>finished&lt;</code> (ISO time),{" "}
        <code>runtime&gt;</code> <code>retries&gt;</code>; other words search args, kwargs, result and exception.
      </p>
      <div class="state-chips" role="group" aria-label="States">
        {STATES.map((s) => (
          <button
            key={s}
            type="button"
            class={`chip state-${s.toLowerCase()}`}
            aria-pressed={(filter.states ?? []).includes(s as never)}
            onClick={() => toggleState(s)}
          >
            {s}
          </button>
        ))}
      </div>
      {problems.length > 0 && (
        <p class="error" role="alert">
          {problems.join("; ")}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="toolbar">
        <span data-testid="task-count">
          {count === "…" ? "counting…" : count === null ? "many" : `${count.toLocaleString()}`} matching
        </span>
        <span class="muted small" data-testid="live-state">
          {live
            ? "● live"
            : textSearch
              ? "● listed rows update live (text search is not matched on live events)"
              : "listed rows update live; new arrivals show on the first page of newest first"}
        </span>
        {arrived > 0 && (
          <button type="button" class="ghost" onClick={() => go({ after: null, back: null, order: null })}>
            {arrived} new — show newest
          </button>
        )}
        <span class="spacer" />
        <button type="button" class="ghost" onClick={() => setDialog("export")}>
          Export…
        </button>
        {mayShow("updateSystemConfig", { settings: true }) && (
          <button type="button" class="ghost" onClick={() => setDialog("alert")} data-control>
            Alert me on this…
          </button>
        )}
        {mayShow("retryTasks") && (
          <button type="button" onClick={() => setDialog("retry")} disabled={isEmpty(filter)} data-control title={isEmpty(filter) ? "Filter first" : ""}>
            Retry matching…
          </button>
        )}
        {mayShow("revokeTasks") && (
          <button type="button" class="danger" onClick={() => setDialog("revoke")} disabled={isEmpty(filter)} data-control title={isEmpty(filter) ? "Filter first" : ""}>
            Revoke matching…
          </button>
        )}
      </div>
      <div class="table-wrap">
        <table class="tasks" aria-busy={rows === null} data-testid="tasks-table">
          <caption class="sr-only">Tasks, times in {zoneName()}</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Queue</th>
              <th scope="col">Worker</th>
              <th scope="col">Received</th>
              <th scope="col">Runtime</th>
              <th scope="col">Retries</th>
            </tr>
          </thead>
          <tbody>
            {rows?.map((r) => (
              <TaskRowView key={r.id} row={r} fresh={fresh.has(r.id)} narrow={narrow} />
            ))}
          </tbody>
        </table>
        {rows?.length === 0 && !error && <p class="muted">No task matches.</p>}
      </div>
      <nav class="pager" aria-label="Pages">
        <button type="button" class="ghost" disabled={!after} onClick={() => go({ after: null, back: null })}>
          « First
        </button>
        <button
          type="button"
          class="ghost"
          disabled={!after}
          onClick={() => {
            const previous = back[back.length - 1];
            go({ after: previous && previous !== "-" ? previous : null, back: back.slice(0, -1).join(" ") || null });
          }}
        >
          ‹ Previous
        </button>
        <button
          type="button"
          class="ghost"
          disabled={!next}
          onClick={() => go({ after: next, back: [...back, after ?? "-"].join(" ") })}
        >
          Next ›
        </button>
      </nav>
      {dialog === "revoke" || dialog === "retry" ? (
        <BulkDialog kind={dialog} filter={filter} onClose={() => { setDialog(null); void load(); }} />
      ) : null}
      {dialog === "alert" && <AlertRuleDialog filter={filter} onClose={() => setDialog(null)} />}
      {dialog === "export" && <ExportDialog filter={filter} orderBy={order} onClose={() => setDialog(null)} />}
    </section>
  );
}

