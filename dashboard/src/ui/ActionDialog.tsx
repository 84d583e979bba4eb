/**
 * Confirm one control action: what will run (with copy as GraphQL / curl), an optional typed
 * confirmation for destructive actions, then the outcome with the audit id it produced.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { PayloadBase } from "../api/actions";
import type { Operation } from "../api/copy";
import { describe } from "../api/errors";
import { href } from "../router";
import { CopyButtons } from "./CopyButtons";
import { Dialog } from "./Dialog";

export function AuditLink({ auditId }: { auditId: string | null }) {
  if (!auditId) return <span class="muted">no audit record</span>;
  return (
    <a class="audit-id" href={href(["audit"], { highlight: auditId })} data-audit-id={auditId}>
      audit #{auditId}
    </a>
  );
}

export function PayloadOutcome({ payload }: { payload: PayloadBase }) {
  return (
    <div class={`outcome ${payload.ok ? "ok" : "failed"}`} role="status">
      <p>
        <strong>{payload.ok ? "Done" : "Not done"}</strong> · <AuditLink auditId={payload.auditId} />
      </p>
      {payload.errors.length > 0 && (
        <ul class="errors">
          {payload.errors.map((e, i) => (
            <li key={i}>
              <code>{e.code}</code> {e.field ? <em>{e.field}: </em> : null}
              {e.message}
            </li>
          ))}
        </ul>
      )}
      {payload.replies.length > 0 && (
        <ul class="replies">
          {payload.replies.map((r) => (
            <li key={r.hostname}>
              {r.ok ? "✓" : "✗"} {r.hostname}
              {r.message ? `: ${r.message}` : ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function ActionDialog<P extends PayloadBase>(props: {
  title: string;
  children?: ComponentChildren;
  op: Operation;
  confirmLabel: string;
  /** Destructive: the operator must type this word first. */
  typed?: string;
  danger?: boolean;
  run: () => Promise<P>;
  result?: (payload: P) => ComponentChildren;
  onClose: (payload: P | null) => void;
}) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [payload, setPayload] = useState<P | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ready = !props.typed || typed.trim() === props.typed;
  const go = async (event: Event) => {
    event.preventDefault();
    if (!ready || busy) return;
    setBusy(true);
    setError(null);
    try {
      setPayload(await props.run());
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.title} onClose={() => props.onClose(payload)}>
      {props.children}
      <CopyButtons ops={[props.op]} />
      {payload ? (
        <>
          <PayloadOutcome payload={payload} />
          {props.result?.(payload)}
          <div class="actions">
            <button type="button" onClick={() => props.onClose(payload)} autoFocus>
              Close
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={go}>
          {props.typed && (
            <label class="typed">
              Type <code>{props.typed}</code> to confirm
              <input
                value={typed}
                onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
                autoComplete="off"
                spellcheck={false}
                autoFocus
                data-testid="typed-confirm"
              />
            </label>
          )}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="button" class="ghost" onClick={() => props.onClose(null)}>
              Cancel
            </button>
            <button type="submit" class={props.danger ? "danger" : "primary"} disabled={!ready || busy}>
              {busy ? "Working…" : props.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
