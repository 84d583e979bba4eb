/** A task state as a coloured label (the colour is never the only cue: the text is always there). */
export function StateBadge({ state }: { state: string | null | undefined }) {
  const value = state ?? "UNKNOWN";
  return <span class={`badge state-${value.toLowerCase()}`}>{value}</span>;
}
