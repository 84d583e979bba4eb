/**
 * The dashboard's build: one entry, relative asset URLs (so it works under any URL prefix), fixed
 * output names (so the committed build diffs cleanly and a rebuild can be compared byte for byte).
 */
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: `${process.env.DASHBOARD_STATIC_DIR ?? "../src/dashboard/static"}/app`,
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        entryFileNames: "assets/[name].js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
