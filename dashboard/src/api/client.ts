/**
 * One urql client for the page: queries and mutations over HTTP POST, subscriptions over one
 * WebSocket (graphql-transport-ws). The socket reconnects forever with capped backoff and
 * resubscribes; the token is read at each (re)connect, so signing in again needs no reload.
 * Every result passes through here, so connection state and FORBIDDEN answers are seen in one place.
 */
import { signal } from "@preact/signals";
import {
  Client,
  type CombinedError,
  type AnyVariables,
  type DocumentInput,
  fetchExchange,
  subscriptionExchange,
} from "@urql/core";
import { type Client as WsClient, createClient as createWsClient } from "graphql-ws";
import { authorizationHeader, token } from "../auth/session";
import {
  busRecovered,
  httpDown,
  reconnects,
  reportMissed,
  resync,
  socketState,
} from "./connection";
import { graphqlUrl, websocketUrl } from "./endpoint";
import { ApiError, toFailures } from "./errors";

const MAX_BACKOFF_MS = 5000;
let everConnected = false;

function makeSocket(): WsClient {
  return createWsClient({
    url: websocketUrl(),
    lazy: true,
    lazyCloseTimeout: 3000,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    connectionParams: () => authorizationHeader(),
    retryWait: async (retries) => {
      const wait = Math.min(MAX_BACKOFF_MS, 250 * 2 ** retries) * (0.75 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, wait));
    },
    shouldRetry: (event) => {
      // 4403: the server refused the token; retrying with the same one cannot help.
      const code = (event as { code?: number } | null)?.code;
      if (code === 4403 || code === 4401) {
        socketState.value = "refused";
        return false;
      }
      return true;
    },
    on: {
      connecting: () => {
        socketState.value = everConnected ? "reconnecting" : "connecting";
      },
      connected: () => {
        if (everConnected) {
          reconnects.value++;
          resync.value++;
        }
        everConnected = true;
        socketState.value = "live";
      },
      closed: (event) => {
        const code = (event as { code?: number } | null)?.code;
        if (code === 4403 || code === 4401) socketState.value = "refused";
        else if (socketState.value === "live") socketState.value = "reconnecting";
      },
    },
  });
}

let socket = makeSocket();

// graphql-ws rejects an internal connect promise with the CloseEvent when a socket is closed on
// purpose mid-connect (sign-out, a refused token); nobody awaits it, and the page already shows
// the connection state. Other unhandled rejections still surface.
window.addEventListener("unhandledrejection", (event) => {
  if (typeof CloseEvent !== "undefined" && event.reason instanceof CloseEvent) event.preventDefault();
});

/** After signing in or out: drop the socket so the next subscription uses the new token. */
export function resetSocket(): void {
  socket.dispose();
  everConnected = false;
  socketState.value = "idle";
  socket = makeSocket();
}

export const client = new Client({
  url: graphqlUrl(),
  requestPolicy: "network-only",
  preferGetMethod: false,
  fetchOptions: () => ({ headers: { ...authorizationHeader() } }),
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || "" };
        return {
          subscribe(sink) {
            const unsubscribe = socket.subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});

type Doc<R, V extends AnyVariables> = DocumentInput<R, V>;

/** Set when the API said the token is not (or no longer) valid: the page asks to sign in again. */
export const unauthenticated = signal(false);

function settle<R>(result: { data?: R | undefined; error?: CombinedError | undefined }): R {
  if (result.error?.networkError) {
    httpDown.value = result.error.networkError.message || "the API did not answer";
  } else {
    httpDown.value = null;
  }
  const failures = toFailures(result.error);
  if (failures.length) {
    if (failures.some((f) => f.code === "UNAUTHENTICATED") && token.value) {
      unauthenticated.value = true;
    }
    throw new ApiError(failures);
  }
  if (result.data === undefined || result.data === null) throw new ApiError([]);
  return result.data;
}


export async function query<R, V extends AnyVariables>(doc: Doc<R, V>, variables: V): Promise<R> {
  return settle(await client.query(doc, variables).toPromise());
}

/**
 * Like `query`, but partial data is kept: fields that failed (e.g. a FORBIDDEN args field for a
 * viewer, a TIMEOUT totalCount) come back as null with their failures listed.
 */
export async function queryPartial<R, V extends AnyVariables>(
  doc: Doc<R, V>,
  variables: V,
): Promise<{ data: R | null; failures: ReturnType<typeof toFailures> }> {
  const result = await client.query(doc, variables).toPromise();
  if (result.error?.networkError) {
    httpDown.value = result.error.networkError.message || "the API did not answer";
    throw new ApiError(toFailures(result.error));
  }
  httpDown.value = null;
  return { data: (result.data as R | undefined) ?? null, failures: toFailures(result.error) };
}

export async function mutate<R, V extends AnyVariables>(doc: Doc<R, V>, variables: V): Promise<R> {
  return settle(await client.mutation(doc, variables).toPromise());
}

export interface LiveHandlers<R> {
  next(data: R): void;
  error?(error: ApiError): void;
}

/**
 * Start a subscription; `EventsMissed` items (any field whose __typename is EventsMissed) go to the
 * connection banner and are not passed on. Returns the unsubscribe function.
 */
export function live<R, V extends AnyVariables>(
  doc: Doc<R, V>,
  variables: V,
  handlers: LiveHandlers<R>,
): () => void {
  const { unsubscribe } = client.subscription(doc, variables).subscribe((result) => {
    if (result.error) {
      handlers.error?.(new ApiError(toFailures(result.error)));
      return;
    }
    const data = result.data as Record<string, unknown> | undefined;
    if (!data) return;
    const item = Object.values(data)[0] as { __typename?: string; count?: number | null; reason?: string } | undefined;
    if (item?.__typename === "EventsMissed") {
      reportMissed({ count: item.count ?? null, reason: item.reason ?? "" });
      return;
    }
    busRecovered();
    handlers.next(result.data as R);
  });
  return unsubscribe;
}
