/** Keyboard shortcuts, and the dialog `?` opens. */
import { signal } from "@preact/signals";
import { navigate } from "../router";
import { Dialog } from "./Dialog";

export const helpOpen = signal(false);

const GOTO: Record<string, string[]> = {
  o: [],
  t: ["tasks"],
  w: ["workers"],
  q: ["queues"],
  a: ["audit"],
};

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

let pendingG = 0;

export function installShortcuts(): void {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]") && event.key !== "?") return;
    if (event.key === "?") {
      event.preventDefault();
      helpOpen.value = !helpOpen.value;
    } else if (event.key === "/") {
      event.preventDefault();
      const filter = document.querySelector<HTMLInputElement>("[data-filter-input]");
      if (filter) filter.focus();
      else {
        navigate(["tasks"], { focus: "1" });
      }
    } else if (event.key === "g") {
      pendingG = Date.now();
    } else if (Date.now() - pendingG < 1500 && GOTO[event.key]) {
      pendingG = 0;
      navigate(GOTO[event.key] ?? []);
    }
  });
}

export function HelpDialog() {
  if (!helpOpen.value) return null;
  return (
    <Dialog title="Keyboard shortcuts" onClose={() => (helpOpen.value = false)}>
      <dl class="shortcuts">
        <dt>
          <kbd>/</kbd>
        </dt>
        <dd>Filter tasks</dd>
        <dt>
          <kbd>?</kbd>
        </dt>
        <dd>This help</dd>
        <dt>
          <kbd>g</kbd> <kbd>o</kbd>
        </dt>
        <dd>Overview</dd>
        <dt>
          <kbd>g</kbd> <kbd>t</kbd>
        </dt>
        <dd>Tasks</dd>
        <dt>
          <kbd>g</kbd> <kbd>w</kbd>
        </dt>
        <dd>Workers</dd>
        <dt>
          <kbd>g</kbd> <kbd>q</kbd>
        </dt>
        <dd>Queues</dd>
        <dt>
          <kbd>g</kbd> <kbd>a</kbd>
        </dt>
        <dd>Audit log</dd>
        <dt>
          <kbd>Esc</kbd>
        </dt>
        <dd>Close a dialog</dd>
      </dl>
      <p class="muted small">Times are shown in {Intl.DateTimeFormat().resolvedOptions().timeZone}; hover one for UTC.</p>
    </Dialog>
  );
}
