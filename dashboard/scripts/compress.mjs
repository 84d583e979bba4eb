// Precompress the built JavaScript and CSS (gzip -9, deterministic: no name, no time in the
// header), so the server sends `x.js.gz` to browsers that accept gzip without compressing per
// request (src/dashboard/routes.py).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync, constants } from "node:zlib";
import { staticDir } from "./paths.mjs";

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

let count = 0;
for (const file of walk(staticDir)) {
  if (!/\.(js|css)$/.test(file)) continue;
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION }));
  count++;
}
console.log(`compressed ${count} files`);
