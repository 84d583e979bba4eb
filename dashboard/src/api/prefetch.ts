/**
 * Start a page's first query while its code is still loading: the page takes the answer (once)
 * if it asks for exactly the same thing, else queries as usual.
 */
const pending = new Map<string, Promise<unknown>>();

export function prefetch<R>(key: string, start: () => Promise<R>): void {
  const promise = start();
  promise.catch(() => undefined); // the page sees the failure when it takes it
  pending.set(key, promise);
}

export function take<R>(key: string, otherwise: () => Promise<R>): Promise<R> {
  const found = pending.get(key) as Promise<R> | undefined;
  pending.delete(key);
  return found ?? otherwise();
}
