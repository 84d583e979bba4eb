/**
 * The signed-in token: kept in sessionStorage (gone when the tab closes), taken once from a
 * `#token=<jwt>` link and removed from the address bar at once (so it is not left in history,
 * bookmarks or a screenshot of the URL). Nothing here decides a permission: the claims are decoded
 * for display only (see identity.ts).
 */
import { computed, signal } from "@preact/signals";

const KEY = "celery-admin.token";

function readStored(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the token lives only in memory
  }
}

export const token = signal<string | null>(readStored());

export function setToken(value: string | null): void {
  const cleaned = value?.trim().replace(/^Bearer\s+/i, "") || null;
  token.value = cleaned;
  try {
    if (cleaned) sessionStorage.setItem(KEY, cleaned);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* memory only */
  }
}

/** Take `#token=...` from the fragment, store it, and rewrite the address without it. */
export function takeTokenFromFragment(): void {
  const hash = window.location.hash;
  const match = /(?:^#|&)token=([^&]+)/.exec(hash);
  if (!match?.[1]) return;
  setToken(decodeURIComponent(match[1]));
  const rest = hash.replace(/(^#|&)token=[^&]+/, "$1").replace(/^#&/, "#");
  const clean = rest === "#" || rest === "" ? "#/" : rest;
  history.replaceState(history.state, "", window.location.pathname + window.location.search + clean);
}

export interface Claims {
  sub?: string;
  role?: string;
  exp?: number;
  iss?: string;
  [claim: string]: unknown;
}

/** The payload of a JWT, unverified: for showing who is signed in, never for deciding. */
export function decodeClaims(jwt: string | null): Claims | null {
  if (!jwt) return null;
  const part = jwt.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? (claims as Claims) : null;
  } catch {
    return null;
  }
}

export const claims = computed(() => decodeClaims(token.value));

export function authorizationHeader(): Record<string, string> {
  return token.value ? { Authorization: `Bearer ${token.value}` } : {};
}
