/** The shell: sign-in, navigation, who is signed in, connection banners, the current page. */
import { useSignalEffect } from "@preact/signals";
import { useEffect, useState } from "preact/hooks";
import { resetSocket, unauthenticated } from "./api/client";
import { graphiqlUrl } from "./api/endpoint";
import {
  accepted,
  canManage,
  identity,
  identityError,
  loadIdentity,
  manage,
  me,
  watchExpiry,
} from "./auth/identity";
import { signInMessage, signOut } from "./auth/providers";
import { token } from "./auth/session";
import { NAV, type PageModule, pageFor } from "./nav";
import { href, route } from "./router";
import { ConnectionBanner } from "./ui/ConnectionBanner";
import { CopyButtons } from "./ui/CopyButtons";
import { HelpDialog, helpOpen } from "./ui/Help";
import { SignIn } from "./ui/SignIn";
import { viewOps } from "./ui/viewOps";

const loaded = new Map<string, PageModule>();

function Page() {
  const entry = pageFor(route.value);
  const [, setTick] = useState(0);
  const module = entry ? loaded.get(entry.id) : undefined;
  useEffect(() => {
    if (entry && !loaded.has(entry.id)) {
      void entry.load().then((m) => {
        loaded.set(entry.id, m);
        setTick((t) => t + 1);
      });
    }
  }, [entry?.id]);
  if (!entry) {
    return (
      <section>
        <h1>Not found</h1>
        <p>
          <a href="#/">Back to the overview</a>
        </p>
      </section>
    );
  }
  if (!module) return <p aria-busy="true">Loading…</p>;
  const Component = module.default;
  return <Component key={entry.id} route={route.value} />;
}

export function App() {
  useSignalEffect(() => {
    const current = token.value;
    resetSocket();
    unauthenticated.value = false;
    if (current) {
      signInMessage.value = null;
      void loadIdentity();
    }
  });
  // An expired token: ask the API again when it expires; it says so, and sign-in shows why.
  useSignalEffect(() => (token.value ? watchExpiry() : undefined));
  useSignalEffect(() => {
    if (accepted.value === "no" || unauthenticated.value) {
      signOut(identityError.value ?? "The API no longer accepts this token (expired or revoked).");
    }
  });

  if (!token.value) return <SignIn error={signInMessage.value} />;
  const who = identity.value;
  const currentId = pageFor(route.value)?.id;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          celery-admin
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => n.listed).map((n) => (
              <li key={n.id}>
                <a
                  href={href(n.segment ? [n.segment] : [])}
                  aria-current={currentId === n.id || (currentId === "task" && n.id === "tasks") ? "page" : undefined}
                >
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who" data-testid="who">
          <span title={who?.source === "token" ? "from the token (display only)" : "from the API"}>
            <span data-testid="subject">{who?.subject ?? "unknown"}</span> ·{" "}
            <span data-testid="role">{who?.role ?? "…"}</span>
          </span>
          {manage.value === "no" && <span class="muted small"> (read-only)</span>}
          {me.value?.scoped && (
            <span
              class="muted small"
              data-testid="scoped"
              title={me.value.scopes
                .map((s) => `${s.binding}: queues ${s.queues.join(", ") || "any"}; tasks ${s.taskNames.join(", ") || "any"}; workers ${s.workers.join(", ") || "none"}`)
                .join("\n")}
            >
              {" "}
              (scoped: {me.value.scopes.map((s) => s.binding).join(", ")})
            </span>
          )}
          <a class="ghost-link" href={graphiqlUrl()} target="_blank" rel="noopener">
            GraphiQL
          </a>
          <button type="button" class="ghost" aria-label="Keyboard shortcuts" onClick={() => (helpOpen.value = true)}>
            ?
          </button>
          <button type="button" class="ghost" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" tabIndex={-1} data-can-manage={canManage.value ? "yes" : manage.value}>
        <div class="view-tools">
          <CopyButtons ops={viewOps.value} compact />
        </div>
        <Page />
      </main>
      <HelpDialog />
    </>
  );
}
