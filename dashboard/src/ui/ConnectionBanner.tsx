/**
 * The link to the API, always visible when it is not fine: the WebSocket reconnecting, the server's
 * event bus interrupted (Redis away: live updates may have been missed), HTTP not answering, or the
 * token refused. While the bus is interrupted the page asks `systemStatus` every few seconds and
 * clears the notice itself once the server's bus is connected again.
 */
import { useSignalEffect } from "@preact/signals";
import { query } from "../api/client";
import {
  busInterrupted,
  busRecovered,
  connectionProblem,
  httpDown,
  reconnects,
  slowConsumer,
  socketState,
} from "../api/connection";
import { SYSTEM_STATUS } from "../api/ops";
import { ago } from "../util/time";

const CHECK_EVERY_MS = 3000;

export function ConnectionBanner() {
  useSignalEffect(() => {
    if (!busInterrupted.value) return;
    let stopped = false;
    const check = async () => {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, CHECK_EVERY_MS));
        if (stopped) return;
        try {
          const status = await query(SYSTEM_STATUS, {});
          if (status.systemStatus.eventBus.connected) {
            busRecovered();
            return;
          }
        } catch {
          /* keep asking */
        }
      }
    };
    void check();
    return () => {
      stopped = true;
    };
  });

  const problem = connectionProblem.value;
  const slow = slowConsumer.value;
  return (
    <div class="banners" aria-live="polite">
      {problem === "refused" && (
        <div class="banner error" role="alert" data-testid="banner-refused">
          The API refused this token on the live connection. Sign in again.
        </div>
      )}
      {problem === "http" && (
        <div class="banner error" role="alert" data-testid="banner-http">
          The API does not answer ({httpDown.value}). Retrying…
        </div>
      )}
      {problem === "socket" && (
        <div class="banner warn" role="status" data-testid="banner-socket">
          Live connection lost; reconnecting… (reconnects so far: {reconnects.value})
        </div>
      )}
      {busInterrupted.value && (
        <div class="banner warn" role="status" data-testid="banner-bus">
          Live updates interrupted since {ago(new Date(busInterrupted.value.since))}: the server lost
          its event bus (Redis). Events may be missing; the page catches up by itself when it is back.
        </div>
      )}
      {slow && Date.now() - slow.at < 15_000 && (
        <div class="banner info" role="status" data-testid="banner-missed">
          This page read too slowly and missed {slow.count ?? "some"} live event
          {slow.count === 1 ? "" : "s"}; it reloaded the current view.
        </div>
      )}
      <span class="sr-only" data-testid="socket-state">
        {socketState.value}
      </span>
    </div>
  );
}
