// Copy GraphiQL's built files from npm into the package, at the paths the public CDN serves them
// under (`<package>@<version>/<file>`), so the page Strawberry renders can point at our own copies
// with its integrity hashes unchanged. The versions are the ones Strawberry's page names; the
// Python test tests/dashboard/test_graphiql.py fails if Strawberry asks for anything not here.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { dashboardDir, staticDir } from "./paths.mjs";

const FILES = [
  ["react", "umd/react.production.min.js"],
  ["react-dom", "umd/react-dom.production.min.js"],
  ["js-cookie", "dist/js.cookie.min.js"],
  ["graphiql", "graphiql.min.js"],
  ["graphiql", "graphiql.min.css"],
  ["@graphiql/plugin-explorer", "dist/index.umd.js"],
  ["@graphiql/plugin-explorer", "dist/style.css"],
];

const vendor = path.join(staticDir, "vendor");
rmSync(vendor, { recursive: true, force: true });
for (const [name, file] of FILES) {
  const pkgDir = path.join(dashboardDir, "node_modules", name);
  const { version } = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const target = path.join(vendor, `${name}@${version}`, file);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(path.join(pkgDir, file), target);
  console.log(`vendored ${name}@${version}/${file}`);
}
