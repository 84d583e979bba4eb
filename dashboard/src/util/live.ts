/** Hooks binding queries and subscriptions to a component's life. */
import { useSignalEffect } from "@preact/signals";
import type { AnyVariables, DocumentInput } from "@urql/core";
import { useEffect, useRef } from "preact/hooks";
import { live } from "../api/client";
import { resync } from "../api/connection";

/** Subscribe while mounted (and while `key` is unchanged); handlers may change freely. */
export function useLive<R, V extends AnyVariables>(
  doc: DocumentInput<R, V>,
  variables: V,
  onData: (data: R) => void,
  key = "",
  enabled = true,
): void {
  const handler = useRef(onData);
  handler.current = onData;
  useEffect(() => {
    if (!enabled) return;
    return live(doc, variables, { next: (data) => handler.current(data) });
  }, [key, enabled]);
}

/** Call `refetch` whenever events may have been missed (reconnect, bus back, slow reader). */
export function useResync(refetch: () => void): void {
  const fn = useRef(refetch);
  fn.current = refetch;
  const first = useRef(true);
  useSignalEffect(() => {
    void resync.value;
    if (first.current) {
      first.current = false;
      return;
    }
    fn.current();
  });
}
