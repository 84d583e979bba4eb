/**
 * Entry: take a `#token=` from the link, or the identity provider's `?code=&state=` answer (each
 * dropped from the address bar at once), then render.
 */
import { render } from "preact";
import { App } from "./App";
import { completeSignIn, discoverProviders } from "./auth/providers";
import { query } from "./api/client";
import { TASKS } from "./api/ops";
import { prefetch } from "./api/prefetch";
import { takeTokenFromFragment, token } from "./auth/session";
import { tasksVariables } from "./util/filter";
import { pageFor } from "./nav";
import { refreshRoute, route } from "./router";
import { installShortcuts } from "./ui/Help";
import "./styles.css";

completeSignIn();
takeTokenFromFragment();
refreshRoute();
// Fetch the first page's code now, in parallel with the first render, not after it; for the tasks
// list, its history query too (the page takes the answer when it mounts).
void pageFor(route.value)?.load();
if (token.value && route.value.path.length === 1 && route.value.path[0] === "tasks") {
  const variables = tasksVariables(route.value.params);
  prefetch(`tasks:${JSON.stringify(variables)}`, () => query(TASKS, variables));
}
installShortcuts();
void discoverProviders();
const root = document.getElementById("app");
if (root) render(<App />, root);
