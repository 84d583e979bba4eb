/** A time in the browser's zone, with UTC in the tooltip (and the machine-readable datetime). */
import { formatLocal, formatUtc, parse } from "../util/time";

export function Time({ value, short = false }: { value: string | null | undefined; short?: boolean }) {
  const date = parse(value);
  if (!date) return <span class="muted">—</span>;
  return (
    <time dateTime={date.toISOString()} title={formatUtc(date)}>
      {formatLocal(date, short)}
    </time>
  );
}
