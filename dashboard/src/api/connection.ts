/**
 * What the page knows about its link to the API, shown in the banner: the WebSocket (connecting,
 * live, reconnecting, refused), missed-event notices from subscriptions (`EventsMissed`: a slow
 * reader, or BUS_INTERRUPTED when the server lost Redis), and whether HTTP answers. `resync` counts
 * moments after which views must refetch, because events may have been lost in between.
 */
import { computed, signal } from "@preact/signals";

export type SocketState = "idle" | "connecting" | "live" | "reconnecting" | "refused";

export const socketState = signal<SocketState>("idle");
export const reconnects = signal(0);
export const httpDown = signal<string | null>(null);
export const busInterrupted = signal<{ since: number } | null>(null);
export const slowConsumer = signal<{ at: number; count: number | null } | null>(null);
export const resync = signal(0);

export interface Missed {
  count: number | null;
  reason: string;
}

/** Every subscription hands its `EventsMissed` items here. */
export function reportMissed(missed: Missed): void {
  if (missed.reason === "BUS_INTERRUPTED") {
    if (!busInterrupted.value) busInterrupted.value = { since: Date.now() };
  } else {
    slowConsumer.value = { at: Date.now(), count: missed.count };
    resync.value++;
  }
}

export function busRecovered(): void {
  if (busInterrupted.value) {
    busInterrupted.value = null;
    resync.value++;
  }
}

export const connectionProblem = computed(() => {
  if (socketState.value === "refused") return "refused";
  if (httpDown.value) return "http";
  if (socketState.value === "reconnecting") return "socket";
  if (busInterrupted.value) return "bus";
  return null;
});
