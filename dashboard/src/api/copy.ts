/**
 * "Copy as GraphQL" and "copy as curl": a runbook step is one paste. The token is never copied;
 * curl reads it from $CELERY_ADMIN_TOKEN.
 */
import { type AnyVariables, type DocumentInput, stringifyDocument } from "@urql/core";
import { graphqlUrl } from "./endpoint";

export interface Operation {
  label: string;
  document: DocumentInput<unknown, AnyVariables>;
  variables: Record<string, unknown>;
}

export function operation<R, V extends AnyVariables>(
  label: string,
  document: DocumentInput<R, V>,
  variables: V,
): Operation {
  return {
    label,
    document: document as DocumentInput<unknown, AnyVariables>,
    variables: (variables ?? {}) as Record<string, unknown>,
  };
}

function text(op: Operation): string {
  return stringifyDocument(op.document).trim();
}

function cleanVariables(variables: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(variables)) as Record<string, unknown>;
}

export function asGraphQL(op: Operation): string {
  const variables = JSON.stringify(cleanVariables(op.variables), null, 2);
  const commented = variables
    .split("\n")
    .map((line) => `#   ${line}`)
    .join("\n");
  return `${text(op)}\n\n# variables:\n${commented}\n`;
}

export function asCurl(op: Operation): string {
  const body = JSON.stringify({ query: text(op), variables: cleanVariables(op.variables) });
  const url = graphqlUrl();
  const kind = /^\s*subscription\b/.test(text(op))
    ? "# a subscription: run it over WebSocket (e.g. in GraphiQL); over HTTP it is refused\n"
    : "";
  return (
    `${kind}curl -sS -X POST '${url.replace(/'/g, "'\\''")}' \\\n` +
    `  -H 'Content-Type: application/json' \\\n` +
    `  -H "Authorization: Bearer $CELERY_ADMIN_TOKEN" \\\n` +
    `  --data-binary @- <<'GRAPHQL'\n${body}\nGRAPHQL\n`
  );
}

export async function copyText(value: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    // Not a secure context (plain http on a LAN address): the old way.
    const area = document.createElement("textarea");
    area.value = value;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}
