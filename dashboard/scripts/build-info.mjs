// Record what the committed build was made from: a hash of the dashboard's sources (and of
// graphql.schema, which types them), and a hash of every file built. tests/dashboard/test_build.py
// recomputes both without npm, so a source edit without a rebuild (or a hand-edited build) fails.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { dashboardDir, repoDir, staticDir } from "./paths.mjs";

const SOURCES = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "scripts", "src"];

function walk(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
}

function digest(files, base) {
  const hash = createHash("sha256");
  for (const file of files.map((f) => path.relative(base, f).split(path.sep).join("/")).sort()) {
    hash.update(file);
    hash.update("\0");
    hash.update(readFileSync(path.join(base, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

const sources = SOURCES.flatMap((entry) => {
  const full = path.join(dashboardDir, entry);
  return statSync(full).isDirectory() ? walk(full) : [full];
});
const built = walk(staticDir).filter((f) => path.basename(f) !== "build-info.json");
const info = {
  comment: "Written by `npm --prefix dashboard run build`; checked by tests/dashboard/test_build.py.",
  sources: digest(sources, dashboardDir),
  schema: createHash("sha256").update(readFileSync(path.join(repoDir, "graphql.schema"))).digest("hex"),
  files: Object.fromEntries(
    built
      .map((f) => [path.relative(staticDir, f).split(path.sep).join("/"), createHash("sha256").update(readFileSync(f)).digest("hex")])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  ),
};
writeFileSync(path.join(staticDir, "build-info.json"), `${JSON.stringify(info, null, 2)}\n`);
console.log(`build-info: sources ${info.sources.slice(0, 12)}, ${built.length} files`);
