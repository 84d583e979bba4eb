/**
 * "Alert me on this": an alert rule from the tasks filter (its names, queues and workers are the
 * rule's scope), appended to the `alerts.rules` setting with updateSystemConfig and the version
 * read just before (a concurrent edit answers CONFLICT instead of being overwritten).
 */
import { useState } from "preact/hooks";
import { runAction } from "../api/actions";
import { query } from "../api/client";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import { SYSTEM_CONFIGURATION, UPDATE_CONFIG } from "../api/ops";
import type { TaskFilter } from "../util/filter";
import { PayloadOutcome } from "./ActionDialog";
import { CopyButtons } from "./CopyButtons";
import { Dialog } from "./Dialog";

const KEY = "alerts.rules";

export function AlertRuleDialog(props: { filter: TaskFilter; onClose: () => void }) {
  const [kind, setKind] = useState<"failure_rate" | "task_stuck">("failure_rate");
  const [threshold, setThreshold] = useState(20);
  const [windowMin, setWindowMin] = useState(5);
  const [stuckMin, setStuckMin] = useState(30);
  const [severity, setSeverity] = useState("warning");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [payload, setPayload] = useState<Awaited<ReturnType<typeof submit>> | null>(null);

  const scope = {
    names: props.filter.names ?? [],
    queues: props.filter.queues ?? [],
    workers: props.filter.workers ?? [],
  };
  const label = [...scope.names, ...scope.queues, ...scope.workers].join("-").replace(/[^A-Za-z0-9_.:-]/g, "_");
  const id = `${kind}-${label || "all"}`.slice(0, 56);
  const rule =
    kind === "failure_rate"
      ? { kind, id, severity, threshold: threshold / 100, window_seconds: windowMin * 60, scope }
      : { kind, id, severity, seconds: stuckMin * 60, scope };
  const ignored = Object.keys(props.filter).filter((k) => !["names", "queues", "workers"].includes(k));

  async function submit() {
    const config = await query(SYSTEM_CONFIGURATION, {});
    const entry = config.systemConfiguration.entries.find((e) => e.key === KEY);
    const rules = Array.isArray(entry?.value) ? (entry.value as { id?: string }[]) : [];
    const value = [...rules.filter((r) => r.id !== id), rule];
    return runAction("updateSystemConfig", UPDATE_CONFIG, {
      key: KEY,
      value,
      expectedVersion: entry?.version ?? null,
    });
  }

  return (
    <Dialog title="Alert me on this" onClose={props.onClose}>
      <p class="muted small">
        Scope from the filter: {scope.names.length + scope.queues.length + scope.workers.length ? JSON.stringify(scope) : "every task"}.
        {ignored.length > 0 && ` Not part of an alert rule: ${ignored.join(", ")}.`}
      </p>
      <CopyButtons ops={[operation("append rule", UPDATE_CONFIG, { key: KEY, value: ["…current rules…", rule], expectedVersion: null })]} />
      {payload ? (
        <>
          <PayloadOutcome payload={payload} />
          <div class="actions">
            <button type="button" onClick={props.onClose}>
              Close
            </button>
          </div>
        </>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              setPayload(await submit());
            } catch (err) {
              setError(describe(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          <fieldset>
            <legend>When</legend>
            <label class="inline">
              <input type="radio" name="kind" checked={kind === "failure_rate"} onChange={() => setKind("failure_rate")} /> the failure rate passes
            </label>
            <label class="inline">
              <input type="radio" name="kind" checked={kind === "task_stuck"} onChange={() => setKind("task_stuck")} /> a task runs longer than
            </label>
          </fieldset>
          {kind === "failure_rate" ? (
            <>
              <label>
                Threshold (%) <input type="number" min={1} max={100} value={threshold} onInput={(e) => setThreshold(Number((e.target as HTMLInputElement).value))} />
              </label>
              <label>
                Over the last (minutes) <input type="number" min={1} max={1440} value={windowMin} onInput={(e) => setWindowMin(Number((e.target as HTMLInputElement).value))} />
              </label>
            </>
          ) : (
            <label>
              Minutes <input type="number" min={1} value={stuckMin} onInput={(e) => setStuckMin(Number((e.target as HTMLInputElement).value))} />
            </label>
          )}
          <label>
            Severity{" "}
            <select value={severity} onChange={(e) => setSeverity((e.target as HTMLSelectElement).value)}>
              <option value="info">info</option>
              <option value="warning">warning</option>
              <option value="critical">critical</option>
            </select>
          </label>
          <p class="small">
            Rule id <code>{id}</code> (replaces a rule with the same id).
          </p>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="button" class="ghost" onClick={props.onClose}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={busy}>
              Add the rule
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
