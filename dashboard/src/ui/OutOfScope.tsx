/**
 * In place of controls a scoped caller may not use here: the reason, in the API's words (from the
 * scopes `me` lists), so a missing button is never a mystery.
 */
export function OutOfScope({ show, reason }: { show: boolean; reason: string | null }) {
  if (!show || !reason) return null;
  return (
    <span class="muted small" data-out-of-scope title={reason}>
      {reason}
    </span>
  );
}
