/**
 * Running a control mutation: every payload carries `auditId` (the record the attempt produced),
 * `ok` and typed `errors`. A FORBIDDEN answer hides that control for the session (identity.ts);
 * the attempt, with its audit id, is kept for the "recent actions" list and the audit page.
 */
import { signal } from "@preact/signals";
import type { AnyVariables, DocumentInput } from "@urql/core";
import { learnRefused } from "../auth/identity";
import { mutate } from "./client";
import { ApiError } from "./errors";

export interface PayloadBase {
  ok: boolean;
  auditId: string | null;
  errors: readonly { field: string | null; message: string; code: string }[];
  replies: readonly { hostname: string; ok: boolean; message: string | null }[];
}

export interface Attempt {
  action: string;
  auditId: string | null;
  ok: boolean;
  at: number;
  summary: string;
}

export const attempts = signal<Attempt[]>([]);

export async function runAction<P extends PayloadBase, V extends AnyVariables>(
  action: string,
  document: DocumentInput<Record<string, P>, V>,
  variables: V,
): Promise<P> {
  let payload: P;
  try {
    const data = await mutate(document, variables);
    const found = data[action];
    if (!found) throw new ApiError([{ code: "ERROR", message: `no ${action} in the answer` }]);
    payload = found;
  } catch (error) {
    if (error instanceof ApiError && error.has("FORBIDDEN")) learnRefused(action);
    throw error;
  }
  if (payload.errors.some((e) => e.code === "FORBIDDEN")) learnRefused(action);
  const summary = payload.ok
    ? "done"
    : payload.errors.map((e) => `${e.code}: ${e.message}`).join("; ") || "failed";
  attempts.value = [
    { action, auditId: payload.auditId, ok: payload.ok, at: Date.now(), summary },
    ...attempts.value,
  ].slice(0, 20);
  return payload;
}
