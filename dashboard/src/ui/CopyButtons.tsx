/** "Copy as GraphQL" and "Copy as curl" for one or more operations. */
import { useState } from "preact/hooks";
import { asCurl, asGraphQL, copyText, type Operation } from "../api/copy";

export function CopyButtons({ ops, compact = false }: { ops: Operation[]; compact?: boolean }) {
  const [copied, setCopied] = useState<string | null>(null);
  if (!ops.length) return null;
  const copy = async (kind: "graphql" | "curl") => {
    const text = ops.map((op) => (kind === "graphql" ? asGraphQL(op) : asCurl(op))).join("\n");
    const ok = await copyText(text);
    setCopied(ok ? (kind === "graphql" ? "GraphQL copied" : "curl copied") : "copy failed");
    setTimeout(() => setCopied(null), 2000);
  };
  return (
    <span class={`copy-buttons${compact ? " compact" : ""}`}>
      <button type="button" class="ghost" onClick={() => void copy("graphql")}>
        Copy as GraphQL
      </button>
      <button type="button" class="ghost" onClick={() => void copy("curl")}>
        Copy as curl
      </button>
      <span role="status" aria-live="polite" class="muted small">
        {copied ?? ""}
      </span>
    </span>
  );
}
