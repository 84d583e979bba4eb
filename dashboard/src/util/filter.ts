/**
 * The tasks page's one filter: a line of `key:value` words (and free text) that lives in the URL as
 * `q`, and becomes the API's `TaskFilterInput`. The same filter drives the history query, the live
 * subscription, bulk previews, "alert me on this" and export.
 *
 *   state:FAILURE,RETRY name:src.tasks.demo.add queue:ai_analysis worker:alpha@host
 *   id:<uuid> root:<uuid> parent:<uuid> finished>2026-11-26T10:00Z received<... runtime>2 retries>0
 *   anything else (or "quoted text") searches args, kwargs, result and exception
 */
import type { VariablesOf } from "../api/graphql";
import type { TASKS } from "../api/ops";

export type TaskFilter = NonNullable<VariablesOf<typeof TASKS>["filter"]>;
export type TasksVariables = VariablesOf<typeof TASKS>;
export type Order = TasksVariables["orderBy"];

export const ORDERS: Order[] = [
  "SEEN_DESC", "SEEN_ASC", "RECEIVED_DESC", "RECEIVED_ASC", "STARTED_DESC", "STARTED_ASC",
  "FINISHED_DESC", "FINISHED_ASC", "RUNTIME_DESC", "RUNTIME_ASC",
];
export const SIZES = [25, 50, 100, 200];
type State = NonNullable<TaskFilter["states"]>[number];

export const STATES: State[] = [
  "PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED", "LOST",
  "UNKNOWN",
];

const LISTS: Record<string, "names" | "queues" | "workers" | "ids"> = {
  name: "names",
  queue: "queues",
  worker: "workers",
  id: "ids",
};
const RANGES = ["received", "started", "finished"] as const;

export interface Parsed {
  filter: TaskFilter;
  problems: string[];
}

function words(text: string): string[] {
  return text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

function unquote(value: string): string {
  return value.replace(/^"(.*)"$/, "$1");
}

function isoOrNull(value: string): string | null {
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) || value.length <= 10 ? value : value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function parseFilter(text: string): Parsed {
  const filter: TaskFilter = {};
  const problems: string[] = [];
  const free: string[] = [];
  for (const word of words(text.trim())) {
    const list = /^(\w+):(.+)$/.exec(word);
    const range = /^(\w+)([<>])(.+)$/.exec(word);
    if (list?.[1] && list[2] !== undefined) {
      const key = list[1].toLowerCase();
      const values = unquote(list[2]).split(",").filter(Boolean);
      if (key === "state") {
        const states = values.map((v) => v.toUpperCase());
        const bad = states.filter((s) => !STATES.includes(s as State));
        if (bad.length) problems.push(`unknown state ${bad.join(", ")}`);
        filter.states = [...(filter.states ?? []), ...(states.filter((s) => STATES.includes(s as State)) as State[])];
      } else if (LISTS[key]) {
        const field = LISTS[key];
        filter[field] = [...(filter[field] ?? []), ...values];
      } else if (key === "root") {
        filter.rootId = values[0] ?? null;
      } else if (key === "parent") {
        filter.parentId = values[0] ?? null;
      } else if (key === "text") {
        free.push(unquote(list[2]));
      } else {
        problems.push(`unknown key ${key}:`);
      }
    } else if (range?.[1] && range[2] && range[3]) {
      const key = range[1].toLowerCase();
      const after = range[2] === ">";
      if ((RANGES as readonly string[]).includes(key)) {
        const iso = isoOrNull(range[3]);
        if (!iso) problems.push(`not a time: ${range[3]}`);
        else {
          const k = key as (typeof RANGES)[number];
          filter[k] = { ...(filter[k] ?? {}), [after ? "after" : "before"]: iso };
        }
      } else if (key === "runtime" || key === "retries") {
        const n = Number(range[3]);
        if (Number.isNaN(n)) problems.push(`not a number: ${range[3]}`);
        else if (key === "runtime") filter[after ? "runtimeMin" : "runtimeMax"] = n;
        else filter[after ? "retriesMin" : "retriesMax"] = Math.round(n);
      } else {
        problems.push(`unknown range ${key}`);
      }
    } else {
      free.push(unquote(word));
    }
  }
  if (free.length) filter.text = free.join(" ");
  return { filter, problems };
}

/** Words for one more condition, e.g. appended by a click on a name or queue. */
export function addWord(text: string, word: string): string {
  return text.split(/\s+/).includes(word) ? text : `${text.trim()} ${word}`.trim();
}

export function isEmpty(filter: TaskFilter): boolean {
  return Object.keys(filter).length === 0;
}

/** The tasks page's history query, from its URL parameters. */
export function tasksVariables(params: URLSearchParams): TasksVariables {
  const { filter } = parseFilter(params.get("q") ?? "");
  const first = SIZES.includes(Number(params.get("first"))) ? Number(params.get("first")) : 50;
  const order = ORDERS.includes(params.get("order") as Order) ? (params.get("order") as Order) : "SEEN_DESC";
  return { filter: isEmpty(filter) ? null : filter, first, after: params.get("after"), orderBy: order };
}
