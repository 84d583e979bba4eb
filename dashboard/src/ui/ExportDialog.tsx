/** Export the filtered list (CSV or JSON), page by page, bounded, with progress and cancel. */
import { useRef, useState } from "preact/hooks";
import { operation } from "../api/copy";
import { describe } from "../api/errors";
import { TASK_EXPORT } from "../api/ops";
import type { TaskFilter } from "../util/filter";
import { download, exportTasks } from "../util/exporter";
import { CopyButtons } from "./CopyButtons";
import { Dialog } from "./Dialog";

const LIMITS = [1000, 10_000, 50_000];

export function ExportDialog(props: { filter: TaskFilter; orderBy: string; onClose: () => void }) {
  const [format, setFormat] = useState<"csv" | "json">("csv");
  const [limit, setLimit] = useState(10_000);
  const [rows, setRows] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const filter = Object.keys(props.filter).length ? props.filter : null;
  const start = async () => {
    abort.current = new AbortController();
    setError(null);
    setRows(0);
    try {
      const blob = await exportTasks({
        filter: filter ?? {},
        orderBy: props.orderBy,
        format,
        limit,
        signal: abort.current.signal,
        progress: setRows,
      });
      const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      download(blob, `tasks-${stamp}.${format}`);
    } catch (e) {
      setError(describe(e));
    } finally {
      abort.current = null;
    }
  };
  const busy = abort.current !== null;
  return (
    <Dialog
      title="Export tasks"
      onClose={() => {
        abort.current?.abort();
        props.onClose();
      }}
    >
      <p class="muted small">
        The rows matching the current filter, fetched 200 at a time; times in UTC (ISO 8601). Task
        arguments and results are not exported.
      </p>
      <CopyButtons ops={[operation("export page", TASK_EXPORT, { filter, first: 200, after: null, orderBy: props.orderBy as "SEEN_DESC" })]} />
      <fieldset>
        <legend>Format</legend>
        <label class="inline">
          <input type="radio" name="format" checked={format === "csv"} onChange={() => setFormat("csv")} /> CSV
        </label>
        <label class="inline">
          <input type="radio" name="format" checked={format === "json"} onChange={() => setFormat("json")} /> JSON
        </label>
      </fieldset>
      <label>
        At most{" "}
        <select value={String(limit)} onChange={(e) => setLimit(Number((e.target as HTMLSelectElement).value))}>
          {LIMITS.map((l) => (
            <option key={l} value={l}>
              {l.toLocaleString()} rows
            </option>
          ))}
        </select>
      </label>
      {rows !== null && (
        <p role="status">
          <progress max={limit} value={rows} /> {rows.toLocaleString()} rows
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        {busy ? (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel export
          </button>
        ) : (
          <button type="button" class="primary" onClick={() => void start()}>
            Export
          </button>
        )}
      </div>
    </Dialog>
  );
}
