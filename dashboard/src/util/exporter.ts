/**
 * Export a filtered task list as CSV or JSON: fetched page by page (200 rows, the API's maximum),
 * bounded by `limit` rows, and written as Blob parts so memory holds text, not objects. Cancellable.
 */
import { query } from "../api/client";
import type { ResultOf } from "../api/graphql";
import { TASK_EXPORT } from "../api/ops";
import type { TaskFilter } from "./filter";

type Row = ResultOf<typeof TASK_EXPORT>["tasks"]["edges"][number]["node"];
const COLUMNS: (keyof Row)[] = [
  "id", "name", "state", "queue", "worker", "retries", "runtime", "seenAt", "sentAt", "receivedAt",
  "startedAt", "finishedAt", "exception", "parentId", "rootId", "groupId",
];

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export async function exportTasks(options: {
  filter: TaskFilter;
  orderBy: string;
  format: "csv" | "json";
  limit: number;
  signal: AbortSignal;
  progress: (rows: number) => void;
}): Promise<Blob> {
  const parts: string[] = [];
  let rows = 0;
  let after: string | null = null;
  if (options.format === "csv") parts.push(`${COLUMNS.join(",")}\n`);
  else parts.push("[\n");
  while (rows < options.limit) {
    if (options.signal.aborted) throw new DOMException("export cancelled", "AbortError");
    const first = Math.min(200, options.limit - rows);
    const data: ResultOf<typeof TASK_EXPORT> = await query(TASK_EXPORT, {
      filter: options.filter,
      first,
      after,
      orderBy: options.orderBy as "SEEN_DESC",
    });
    const chunk: string[] = [];
    for (const { node } of data.tasks.edges) {
      if (options.format === "csv") chunk.push(`${COLUMNS.map((c) => csvCell(node[c])).join(",")}\n`);
      else chunk.push(`${rows + chunk.length > 0 ? ",\n" : ""}${JSON.stringify(node)}`);
    }
    parts.push(chunk.join(""));
    rows += data.tasks.edges.length;
    options.progress(rows);
    if (!data.tasks.pageInfo.hasNextPage || !data.tasks.pageInfo.endCursor) break;
    after = data.tasks.pageInfo.endCursor;
  }
  if (options.format === "json") parts.push("\n]\n");
  return new Blob(parts, { type: options.format === "csv" ? "text/csv" : "application/json" });
}

export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
