/**
 * The pages, in navigation order, each loaded on first visit (so the first page costs only itself).
 * The seam for pages that other issues bring: periodic tasks (issue 13) add an entry here with a
 * page module under pages/; queue peek extends pages/Queues.tsx where the API offers it.
 */
import type { FunctionComponent } from "preact";
import type { Route } from "./router";

export interface PageProps {
  route: Route;
}

export type PageModule = { default: FunctionComponent<PageProps> };

export interface NavEntry {
  id: string;
  label: string;
  /** First path segment ("" for the overview). */
  segment: string;
  load: () => Promise<PageModule>;
  /** Shown in the navigation (task detail is reached from lists). */
  listed: boolean;
}

export const NAV: NavEntry[] = [
  { id: "overview", label: "Overview", segment: "", listed: true, load: () => import("./pages/Overview") },
  { id: "tasks", label: "Tasks", segment: "tasks", listed: true, load: () => import("./pages/Tasks") },
  { id: "workers", label: "Workers", segment: "workers", listed: true, load: () => import("./pages/Workers") },
  { id: "queues", label: "Queues", segment: "queues", listed: true, load: () => import("./pages/Queues") },
  { id: "audit", label: "Audit log", segment: "audit", listed: true, load: () => import("./pages/Audit") },
  // Periodic tasks (issue 13): { id: "periodic", label: "Periodic", segment: "periodic", listed: true, load: () => import("./pages/Periodic") },
];

export const TASK_DETAIL: NavEntry = {
  id: "task",
  label: "Task",
  segment: "tasks",
  listed: false,
  load: () => import("./pages/TaskDetail"),
};

export function pageFor(route: Route): NavEntry | null {
  const [first = "", second] = route.path;
  if (first === "tasks" && second) return TASK_DETAIL;
  return NAV.find((entry) => entry.segment === first) ?? null;
}
