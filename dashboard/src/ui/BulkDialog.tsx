/**
 * Bulk revoke / retry in two phases, as the API defines them: the preview freezes the matching tasks
 * (count, a sample, a single-use token), and the confirm acts on exactly that selection, even if
 * more tasks match the filter by then.
 */
import { useEffect, useState } from "preact/hooks";
import { runAction } from "../api/actions";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import type { ResultOf, VariablesOf } from "../api/graphql";
import { RETRY_CONFIRM, RETRY_PREVIEW, REVOKE_CONFIRM, REVOKE_PREVIEW } from "../api/ops";
import { href } from "../router";
import { AuditLink, PayloadOutcome } from "./ActionDialog";
import { CopyButtons } from "./CopyButtons";
import { Dialog } from "./Dialog";
import { StateBadge } from "./StateBadge";
import { Time } from "./Time";

type Filter = VariablesOf<typeof REVOKE_PREVIEW>["filter"];
type Preview = ResultOf<typeof REVOKE_PREVIEW>["revokeTasks"];
type Done = ResultOf<typeof REVOKE_CONFIRM>["revokeTasks"];

const SAMPLE = 20;

export function BulkDialog(props: { kind: "revoke" | "retry"; filter: Filter; onClose: () => void }) {
  const revoke = props.kind === "revoke";
  const action = revoke ? "revokeTasks" : "retryTasks";
  const [preview, setPreview] = useState<Preview | null>(null);
  const [done, setDone] = useState<Done | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [terminate, setTerminate] = useState(false);
  const previewVars = { filter: props.filter, sampleSize: SAMPLE };
  const previewOp = operation(
    `${action} preview`,
    revoke ? REVOKE_PREVIEW : RETRY_PREVIEW,
    previewVars,
  );
  const token = preview?.selection?.token ?? "";
  const confirmOp = revoke
    ? operation(`${action} confirm`, REVOKE_CONFIRM, { selectionToken: token, terminate })
    : operation(`${action} confirm`, RETRY_CONFIRM, { selectionToken: token });

  useEffect(() => {
    let cancelled = false;
    setBusy(true);
    const run = revoke
      ? runAction("revokeTasks", REVOKE_PREVIEW, previewVars)
      : runAction("retryTasks", RETRY_PREVIEW, previewVars);
    run
      .then((p) => !cancelled && setPreview(p))
      .catch((e: unknown) => !cancelled && setError(describe(e)))
      .finally(() => !cancelled && setBusy(false));
    return () => {
      cancelled = true;
    };
  }, []);

  const confirm = async () => {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      setDone(
        revoke
          ? await runAction("revokeTasks", REVOKE_CONFIRM, { selectionToken: token, terminate })
          : await runAction("retryTasks", RETRY_CONFIRM, { selectionToken: token }),
      );
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };

  const selection = preview?.selection;
  return (
    <Dialog title={revoke ? "Revoke matching tasks" : "Retry matching tasks"} onClose={props.onClose} wide>
      <p class="muted">
        Step 1 freezes the tasks that match the filter now; step 2 {revoke ? "revokes" : "retries"} exactly
        those.
      </p>
      <CopyButtons ops={selection ? [previewOp, confirmOp] : [previewOp]} />
      {busy && !preview && <p aria-busy="true">Previewing…</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {preview && !selection && <PayloadOutcome payload={preview} />}
      {selection && (
        <section aria-label="Preview" data-testid="bulk-preview">
          <p>
            <strong data-testid="bulk-count">{selection.count}</strong> task{selection.count === 1 ? "" : "s"}{" "}
            selected · preview <AuditLink auditId={preview.auditId} /> · expires{" "}
            <Time value={selection.expiresAt} short />
          </p>
          {selection.sample.length > 0 && (
            <table class="compact">
              <caption class="muted small">
                {selection.sample.length < selection.count
                  ? `A sample of ${selection.sample.length}`
                  : "All of them"}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Name</th>
                  <th scope="col">State</th>
                  <th scope="col">Worker</th>
                </tr>
              </thead>
              <tbody>
                {selection.sample.map((t) => (
                  <tr key={t.id} data-sample-id={t.id}>
                    <td>
                      <a href={href(["tasks", t.id])}>
                        <code>{t.id.slice(0, 8)}</code>
                      </a>
                    </td>
                    <td>{t.name ?? "—"}</td>
                    <td>
                      <StateBadge state={t.state} />
                    </td>
                    <td>{t.worker ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {!done && selection.count > 0 && (
            <div class="actions">
              {revoke && (
                <label class="inline">
                  <input
                    type="checkbox"
                    checked={terminate}
                    onChange={(e) => setTerminate((e.target as HTMLInputElement).checked)}
                  />{" "}
                  also terminate running ones
                </label>
              )}
              <button type="button" class="ghost" onClick={props.onClose}>
                Cancel
              </button>
              <button type="button" class={revoke ? "danger" : "primary"} disabled={busy} onClick={() => void confirm()}>
                {revoke ? "Revoke" : "Retry"} these {selection.count}
              </button>
            </div>
          )}
        </section>
      )}
      {done && (
        <section data-testid="bulk-done">
          <PayloadOutcome payload={done} />
          <p>
            {done.taskIds.length} {revoke ? "revoked" : "new task ids (the retries)"}
          </p>
          <div class="actions">
            <button type="button" onClick={props.onClose} autoFocus>
              Close
            </button>
          </div>
        </section>
      )}
    </Dialog>
  );
}
