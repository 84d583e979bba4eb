/**
 * Who is signed in, and what the API lets them do, as the API states it: `me { subject role scoped
 * scopes }`, and whether an admin-only field (`auditLogs`) answers them (asked side by side: in one
 * document a viewer's FORBIDDEN on the non-null `auditLogs` would null `me` too).
 *
 * Until the API has answered, subject and role are decoded from the token for display only. The
 * page never decides a permission itself: management controls show when the API answered the admin
 * field; for a scoped caller, a control acting on a queue, worker or task outside the scopes `me`
 * lists is hidden and the row says why (the same rules the API applies, src/access_scope.py); any
 * control the API refuses with FORBIDDEN is hidden from then on. A control shown is a control the
 * API may still refuse, and the page says so.
 */
import { computed, signal } from "@preact/signals";
import { queryPartial } from "../api/client";
import { ApiError } from "../api/errors";
import { PROBE_ADMIN, WHO_AM_I } from "../api/ops";
import { claims, token } from "./session";

export type Answer = "unknown" | "yes" | "no";

export interface Scope {
  binding: string;
  queues: string[];
  taskNames: string[];
  workers: string[];
}

export interface Me {
  subject: string;
  role: string;
  issuer: string | null;
  scoped: boolean;
  scopes: Scope[];
}

export interface Identity {
  subject: string | null;
  role: string | null;
  /** Where subject and role come from: the token's claims (display only) or the API's `me`. */
  source: "token" | "api";
}

/** The API's `me` for the current token; null until it answered. */
export const me = signal<Me | null>(null);

export const identity = computed<Identity | null>(() => {
  if (!token.value) return null;
  const answered = me.value;
  if (answered) return { subject: answered.subject, role: answered.role, source: "api" };
  const c = claims.value;
  return {
    subject: typeof c?.sub === "string" ? c.sub : null,
    role: typeof c?.role === "string" ? c.role : null,
    source: "token",
  };
});

/** The API accepted the token (any answer but UNAUTHENTICATED). */
export const accepted = signal<Answer>("unknown");
/** The API grants management (admin fields answer). */
export const manage = signal<Answer>("unknown");
/** Mutations the API refused with FORBIDDEN for this caller, by field name. */
export const refused = signal<ReadonlySet<string>>(new Set());
export const identityError = signal<string | null>(null);

/** What a control acts on, as the API's scope rules see it. */
export type Target =
  | { queue: string }
  | { worker: string }
  | { task: { queue: string | null; name: string | null } }
  | { every: "queue" | "worker" | "task" }
  | { settings: true };

/** `*` and `?` only, matched whole and case-sensitively (Python's fnmatchcase without classes). */
function matches(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "s").test(value);
}

/**
 * Why the caller's scopes (as `me` lists them) leave `target` out, in the API's words; null when
 * the caller is not scoped or the target is in scope.
 */
export function outOfScope(target: Target): string | null {
  const answered = me.value;
  if (!answered?.scoped) return null;
  const rules = answered.scopes;
  if ("settings" in target) return "outside your scope: settings and periodic entries";
  if ("every" in target) return `outside your scope: every ${target.every}`;
  if ("queue" in target) {
    return rules.some((r) => r.queues.includes(target.queue)) ? null : `outside your scope: queue ${target.queue}`;
  }
  if ("worker" in target) {
    return rules.some((r) => r.workers.some((p) => matches(p, target.worker)))
      ? null
      : `outside your scope: worker ${target.worker}`;
  }
  const { queue, name } = target.task;
  const inside = rules.some(
    (r) =>
      (!r.queues.length || (queue !== null && r.queues.includes(queue))) &&
      (!r.taskNames.length || (name !== null && r.taskNames.some((p) => matches(p, name)))),
  );
  return inside ? null : `outside your scope: task ${name ?? "?"} on ${queue ?? "no queue"}`;
}

/**
 * May the page show the control for `action` (a mutation field name) on `target`? Only after the
 * API said the caller manages, never after it refused that action, and only inside the scopes.
 */
export function mayShow(action: string, target?: Target): boolean {
  if (manage.value !== "yes" || refused.value.has(action)) return false;
  return !target || outOfScope(target) === null;
}

export const canManage = computed(() => manage.value === "yes");

/** A mutation came back FORBIDDEN: hide that control for the rest of the session. */
export function learnRefused(action: string): void {
  const next = new Set(refused.value);
  next.add(action);
  refused.value = next;
}

const EXPIRED = "Your sign-in has expired: sign in again.";

function refusal(error: ApiError): string {
  const failure = error.failures.find((f) => f.code === "UNAUTHENTICATED");
  if (failure?.reason === "expired") return EXPIRED;
  return failure?.message ?? "the API refused this token";
}

export async function loadIdentity(): Promise<void> {
  accepted.value = "unknown";
  manage.value = "unknown";
  me.value = null;
  refused.value = new Set();
  identityError.value = null;
  if (!token.value) return;
  try {
    const [who, probe] = await Promise.all([
      queryPartial(WHO_AM_I, {}),
      queryPartial(PROBE_ADMIN, {}),
    ]);
    const problem = new ApiError(who.failures);
    if (problem.has("UNAUTHENTICATED") || !who.data?.me) {
      accepted.value = problem.has("UNAUTHENTICATED") ? "no" : "unknown";
      manage.value = "no";
      identityError.value = who.failures.length ? refusal(problem) : "the API did not say who you are";
      return;
    }
    me.value = who.data.me;
    accepted.value = "yes";
    if (probe.data?.auditLogs) manage.value = "yes";
    else if (new ApiError(probe.failures).has("FORBIDDEN")) manage.value = "no";
    // else the database is away: show no controls until it answers
  } catch (error) {
    // The API is away: show no controls until it answers.
    accepted.value = "unknown";
    identityError.value = error instanceof Error ? error.message : String(error);
  }
}

/** Ask the API whether it still accepts the token; only a refusal changes anything. */
async function recheck(): Promise<void> {
  try {
    const { failures } = await queryPartial(WHO_AM_I, {});
    const problem = new ApiError(failures);
    if (problem.has("UNAUTHENTICATED")) {
      identityError.value = refusal(problem);
      accepted.value = "no";
    }
  } catch {
    /* the API is away: the connection banner says so */
  }
}

/**
 * When the token's `exp` passes, ask the API (then every 10 s, as it may allow some clock leeway):
 * it answers UNAUTHENTICATED (reason "expired") and the page returns to sign-in saying so. The claim
 * only times the question; the API decides.
 */
export function watchExpiry(): () => void {
  const exp = claims.value?.exp;
  if (typeof exp !== "number") return () => undefined;
  let timer: ReturnType<typeof setTimeout>;
  let stopped = false;
  const ask = (wait: number) => {
    timer = setTimeout(() => {
      void recheck().then(() => {
        if (!stopped && accepted.value !== "no") ask(10_000);
      });
    }, wait);
  };
  ask(Math.min(Math.max(exp * 1000 - Date.now() + 1000, 0), 2 ** 31 - 1));
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
