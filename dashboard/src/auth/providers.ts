/**
 * Ways to sign in: paste a token (or follow a `#token=` link), always; and the identity provider's
 * sign-in (authorization code with PKCE, see oidc.ts), offered only when the API's public
 * `systemInfo { oidc }` says single sign-on is configured.
 */
import { signal } from "@preact/signals";
import { client } from "../api/client";
import { SIGN_IN_OPTIONS } from "../api/ops";
import { type OidcOptions, begin, complete, takeAnswer } from "./oidc";
import { setToken } from "./session";

export interface SignInProvider {
  /** Stable id, e.g. "oidc". */
  id: string;
  /** What the sign-in button says. */
  label: string;
  /** Start signing in (navigates away to the identity provider). */
  begin(): Promise<void>;
}

/** Providers the API advertises; the token form is always there. */
export const providers = signal<SignInProvider[]>([]);
/** Why the page is back at sign-in (a refused answer, an expired token), for the sign-in form. */
export const signInMessage = signal<string | null>(null);
/** A provider's answer is being exchanged for a token. */
export const signingIn = signal(false);

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function oidcProvider(options: OidcOptions): SignInProvider {
  let host = options.issuer;
  try {
    const url = new URL(options.issuer);
    host = `${url.host}${url.pathname.replace(/\/$/, "")}`;
  } catch {
    /* shown as given */
  }
  return {
    id: "oidc",
    label: `Sign in with ${host}`,
    async begin() {
      signInMessage.value = null;
      try {
        await begin(options);
      } catch (error) {
        signInMessage.value = `Cannot sign in at the provider: ${message(error)}`;
      }
    },
  };
}

/**
 * Ask the API (public `systemInfo`, sent without the token so an expired one cannot spoil the
 * answer) which sign-in methods it offers.
 */
export async function discoverProviders(): Promise<void> {
  const result = await client
    .query(SIGN_IN_OPTIONS, {}, { fetchOptions: { headers: {} } })
    .toPromise();
  const oidc = result.data?.systemInfo.oidc;
  // the API away: paste a token
  providers.value = oidc ? [oidcProvider(oidc)] : [];
}

/**
 * On page load: when the provider sent the browser back here, take its answer out of the address
 * bar at once and finish the sign-in (or say why it was refused).
 */
export function completeSignIn(): void {
  const taken = takeAnswer();
  if (!taken) return;
  signingIn.value = true;
  complete(taken.answer, taken.pending)
    .then(() => {
      signInMessage.value = null;
    })
    .catch((error: unknown) => {
      signInMessage.value = message(error);
    })
    .finally(() => {
      signingIn.value = false;
    });
}

export function signOut(reason: string | null = null): void {
  signInMessage.value = reason;
  setToken(null);
}
