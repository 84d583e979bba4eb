// Where the build writes: the Python package's static folder, or DASHBOARD_STATIC_DIR (the CI check
// rebuilds into a temporary folder and compares it with the committed one).
import { fileURLToPath } from "node:url";
import path from "node:path";

export const dashboardDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = path.resolve(dashboardDir, "..");
export const staticDir = path.resolve(
  process.env.DASHBOARD_STATIC_DIR ?? path.join(repoDir, "src", "dashboard", "static"),
);
