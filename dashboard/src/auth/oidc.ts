/**
 * Signing in at the identity provider: OAuth 2.0 authorization code with PKCE (S256), as a public
 * client (no secret; RFC 9700 and OAuth 2.0 for Browser-Based Apps).
 *
 * `begin()` reads the issuer's discovery document, keeps a one-use record in this tab's session
 * storage (state, nonce, the PKCE verifier, where the user was) and goes to the authorization
 * endpoint. The provider sends the browser back to the dashboard's own URL with `?code=&state=`;
 * `complete()` takes both out of the address bar at once, refuses an answer whose `state` is not the
 * one this tab sent, exchanges the code (with the verifier) at the token endpoint, checks the ID
 * token's `nonce`, issuer and audience (it came straight from the provider over the page's own
 * request, so its signature is not what proves it: OIDC Core 3.1.3.7), and keeps the access token
 * as a pasted one is kept. The API verifies that token on every request; nothing here decides a
 * permission.
 */
import { decodeClaims, setToken } from "./session";

export interface OidcOptions {
  issuer: string;
  clientId: string;
  scopes: string[];
  audience: string | null;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  issuer: string;
  clientId: string;
  tokenEndpoint: string;
  redirectUri: string;
  route: string;
}

const PENDING = "celery-admin.oidc";

/** Where the provider sends the browser back: this page, without query or fragment. */
export function redirectUri(): string {
  const here = new URL(".", document.baseURI);
  return `${here.origin}${here.pathname}`;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, {
    headers: { Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`the provider's discovery document answered ${response.status}`);
  const doc = (await response.json()) as Partial<Discovery>;
  if (doc.issuer?.replace(/\/$/, "") !== issuer.replace(/\/$/, "")) {
    throw new Error(`the discovery document names another issuer (${String(doc.issuer)})`);
  }
  if (!doc.authorization_endpoint || !doc.token_endpoint) {
    throw new Error("the discovery document names no authorization or token endpoint");
  }
  return doc as Discovery;
}

/** Go to the provider's sign-in. Throws (with a message for the page) when it cannot. */
export async function begin(options: OidcOptions): Promise<void> {
  if (!window.isSecureContext || !crypto.subtle) {
    throw new Error("signing in at the provider needs HTTPS (PKCE uses the browser's WebCrypto)");
  }
  const endpoints = await discover(options.issuer);
  const pending: Pending = {
    state: random(),
    nonce: random(),
    verifier: random(),
    issuer: options.issuer,
    clientId: options.clientId,
    tokenEndpoint: endpoints.token_endpoint,
    redirectUri: redirectUri(),
    route: window.location.hash || "#/",
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(endpoints.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: "code",
    client_id: options.clientId,
    redirect_uri: pending.redirectUri,
    scope: options.scopes.join(" "),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  };
  if (options.audience) params.audience = options.audience;
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  window.location.assign(url.href);
}

function takePending(): Pending | null {
  try {
    const raw = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
    return raw ? (JSON.parse(raw) as Pending) : null;
  } catch {
    return null;
  }
}

/** The provider's answer in the address bar, taken out of it at once; null when there is none. */
export function takeAnswer(): { answer: URLSearchParams; pending: Pending | null } | null {
  const answer = new URLSearchParams(window.location.search);
  if (!answer.has("code") && !answer.has("error") && !answer.has("state")) return null;
  const pending = takePending();
  const route = pending?.route && pending.route.startsWith("#") ? pending.route : "#/";
  history.replaceState(null, "", window.location.pathname + route);
  return { answer, pending };
}

/** Finish a sign-in the provider answered: the access token is set, or an Error says why not. */
export async function complete(answer: URLSearchParams, pending: Pending | null): Promise<void> {
  const error = answer.get("error");
  if (error) {
    const description = answer.get("error_description");
    throw new Error(`The identity provider refused the sign-in: ${description || error}`);
  }
  const state = answer.get("state");
  if (!pending || !state || state !== pending.state) {
    throw new Error(
      "Sign-in refused: the provider's answer does not match a sign-in started in this tab (state). Sign in again.",
    );
  }
  const code = answer.get("code");
  if (!code) throw new Error("Sign-in refused: the provider sent no authorization code.");
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    id_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || !body.access_token) {
    throw new Error(
      `The identity provider did not issue a token: ${body.error_description || body.error || response.status}`,
    );
  }
  const id = decodeClaims(body.id_token ?? null);
  if (!id) throw new Error("Sign-in refused: the provider sent no ID token (is `openid` in OIDC_SCOPES?).");
  const audience = Array.isArray(id.aud) ? id.aud : [id.aud];
  if (id.nonce !== pending.nonce) throw new Error("Sign-in refused: the ID token's nonce is not this sign-in's.");
  if (String(id.iss).replace(/\/$/, "") !== pending.issuer.replace(/\/$/, "") || !audience.includes(pending.clientId)) {
    throw new Error("Sign-in refused: the ID token is not from this provider for this client.");
  }
  setToken(body.access_token);
}
