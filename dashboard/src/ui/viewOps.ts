/** The operations behind the view on screen, for the header's copy buttons. */
import { signal } from "@preact/signals";
import type { Operation } from "../api/copy";

export const viewOps = signal<Operation[]>([]);
