/**
 * The audit log (admins): every management attempt, newest first, filtered by actor, action,
 * outcome, target and time, in the URL; `highlight=<id>` marks the row a control action produced.
 */
import { useEffect, useState } from "preact/hooks";
import { attempts } from "../api/actions";
import { query } from "../api/client";
import { operation } from "../api/copy";
import { ApiError, describe } from "../api/errors";
import type { ResultOf, VariablesOf } from "../api/graphql";
import { AUDIT_LOGS } from "../api/ops";
import type { PageProps } from "../nav";
import { href } from "../router";
import { Time } from "../ui/Time";
import { viewOps } from "../ui/viewOps";
import { duration } from "../util/time";

type Row = ResultOf<typeof AUDIT_LOGS>["auditLogs"]["edges"][number]["node"];
type Filter = NonNullable<VariablesOf<typeof AUDIT_LOGS>["filter"]>;
const OUTCOMES = ["PENDING", "SUCCESS", "FAILURE", "DENIED"] as const;

export default function Audit({ route }: PageProps) {
  const p = route.params;
  const highlight = p.get("highlight");
  const after = p.get("after");
  const [rows, setRows] = useState<Row[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(highlight);

  const filter: Filter = {};
  if (p.get("actor")) filter.actors = [p.get("actor") as string];
  if (p.get("action")) filter.actions = [p.get("action") as string];
  if (p.get("outcome")) filter.outcomes = [p.get("outcome") as (typeof OUTCOMES)[number]];
  if (p.get("target")) filter.target = p.get("target");
  const variables = { filter: Object.keys(filter).length ? filter : null, first: 50, after };
  const key = JSON.stringify(variables);

  const load = async () => {
    viewOps.value = [operation("auditLogs", AUDIT_LOGS, variables)];
    try {
      const data = await query(AUDIT_LOGS, variables);
      setRows(data.auditLogs.edges.map((e) => e.node));
      setNext(data.auditLogs.pageInfo.hasNextPage ? data.auditLogs.pageInfo.endCursor ?? null : null);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError && e.has("FORBIDDEN") ? "The audit log is for admins: the API refused it to this token." : describe(e));
      setRows([]);
    }
  };
  useEffect(() => {
    void load();
  }, [key, attempts.value.length]);

  const set = (name: string, value: string) => {
    const nextParams = new URLSearchParams(p);
    nextParams.delete("after");
    if (value) nextParams.set(name, value);
    else nextParams.delete(name);
    window.location.hash = href(["audit"], nextParams);
  };

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <form class="filter" onSubmit={(e) => e.preventDefault()}>
        <label>
          Actor <input value={p.get("actor") ?? ""} onChange={(e) => set("actor", (e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Action <input value={p.get("action") ?? ""} placeholder="revokeTask" onChange={(e) => set("action", (e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Outcome{" "}
          <select value={p.get("outcome") ?? ""} onChange={(e) => set("outcome", (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Target <input value={p.get("target") ?? ""} placeholder="task id, queue, worker" onChange={(e) => set("target", (e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" class="ghost" onClick={() => void load()}>
          Refresh
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table data-testid="audit-table" aria-busy={rows === null}>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {rows?.map((r) => [
              <tr
                key={r.id}
                data-audit-row={r.id}
                class={`${highlight === r.id ? "highlight" : ""} clickable`}
                onClick={() => setOpen(open === r.id ? null : r.id)}
              >
                <td>
                  <button type="button" class="link" aria-expanded={open === r.id}>
                    #{r.id}
                  </button>
                </td>
                <td>
                  <Time value={r.createdAt} />
                </td>
                <td>
                  {r.subject ?? "anonymous"} <span class="muted small">{r.role ?? ""}</span>
                </td>
                <td>{r.action}</td>
                <td>
                  {r.target && /^[0-9a-f-]{36}$/.test(r.target) ? <a href={href(["tasks", r.target])}>{r.target.slice(0, 8)}</a> : r.target ?? "—"}
                </td>
                <td>
                  <span class={`badge outcome-${r.outcome.toLowerCase()}`}>{r.outcome.toLowerCase()}</span>
                </td>
                <td>{r.durationMs != null ? duration(r.durationMs / 1000) : "—"}</td>
              </tr>,
              open === r.id ? (
                <tr key={`${r.id}-detail`} class="detail">
                  <td colSpan={7}>
                    <dl class="facts">
                      <dt>request</dt>
                      <dd>
                        <pre>{JSON.stringify(r.request, null, 2)}</pre>
                      </dd>
                      <dt>response</dt>
                      <dd>
                        <pre>{JSON.stringify(r.response, null, 2)}</pre>
                      </dd>
                      {r.error && (
                        <>
                          <dt>error</dt>
                          <dd>
                            <code>{r.errorCode}</code> {r.error}
                          </dd>
                        </>
                      )}
                      <dt>finished</dt>
                      <dd>
                        <Time value={r.finishedAt} />
                      </dd>
                      <dt>from</dt>
                      <dd>{r.ip ?? "—"}</dd>
                    </dl>
                  </td>
                </tr>
              ) : null,
            ])}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages">
        <button type="button" class="ghost" disabled={!after} onClick={() => set("after", "")}>
          « Newest
        </button>
        <button type="button" class="ghost" disabled={!next} onClick={() => set("after", next ?? "")}>
          Older ›
        </button>
      </nav>
      {describeNote()}
    </section>
  );
}

function describeNote() {
  return <p class="muted small">Rows are never changed or deleted through the API. Times in your zone; UTC on hover.</p>;
}

