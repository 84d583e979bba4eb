/**
 * Hash routing: `#/tasks?states=FAILURE&first=50`. The whole state of a view lives in the URL
 * (shareable, bookmarkable), and it stays client-side (filters can name task arguments, which
 * should not land in proxy logs). Hash URLs also need no server rewrites under any prefix.
 */
import { signal } from "@preact/signals";

export interface Route {
  path: string[];
  params: URLSearchParams;
}

function current(): Route {
  const hash = window.location.hash.replace(/^#/, "");
  const [pathPart = "", queryPart = ""] = hash.split("?", 2);
  const path = pathPart
    .split("/")
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  return { path, params: new URLSearchParams(queryPart) };
}

export const route = signal<Route>(current());

/** Re-read the address (after a replaceState that fires no hashchange). */
export function refreshRoute(): void {
  route.value = current();
}

window.addEventListener("hashchange", () => {
  route.value = current();
});

export function href(path: string[], params?: URLSearchParams | Record<string, string>): string {
  const search = params instanceof URLSearchParams ? params : new URLSearchParams(params ?? {});
  const query = search.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${query ? `?${query}` : ""}`;
}

export function navigate(path: string[], params?: URLSearchParams | Record<string, string>): void {
  window.location.hash = href(path, params);
}

/** Update the current view's parameters without a history entry per keystroke. */
export function replaceParams(params: URLSearchParams): void {
  const url = href(route.value.path, params);
  history.replaceState(history.state, "", url);
  route.value = current();
}
