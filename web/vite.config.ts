/**
 * Vite build of the playground (web/): a static page plus its training worker, built from the
 * library's sources in src/. `npm run build:web` writes web/dist/; `npm run playground` builds
 * and serves it.
 *
 * The WebAssembly kernels need SharedArrayBuffer, which browsers give only to cross-origin
 * isolated pages: both servers send the two headers below. A static host without them still
 * works, with the (slower) portable kernels; the page says which kernels run.
 *
 * The page is written as an app that uses the package: it imports "bptt" and the package's subpath
 * exports (package.json "exports": "bptt/kernels.wasm", "bptt/kernels-fma.wasm",
 * "bptt/thread-worker.js"), never a module of src/ (test/web-imports.test.ts fails if it does).
 * PACKAGE_ALIASES points those names at the library's sources instead of the built dist/, so the
 * page always builds from the current source (no `tsc` first) and is still written exactly as a
 * user's app would be; only the kernels are the built ones (`npm run build:wasm`). The TypeScript
 * side is the same mapping: "paths" in tsconfig.json.
 */
import { fileURLToPath } from "node:url";
import { defineConfig, type Alias } from "vite";

const repo = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** The package's names → the library's sources (and built kernels); a query such as `?url` or `?worker` is kept. */
export const PACKAGE_ALIASES: readonly Alias[] = [
  { find: /^bptt$/, replacement: repo("src/browser.ts") },
  { find: /^bptt\/thread-worker\.js(?=\?|$)/, replacement: repo("src/model/thread-worker.ts") },
  { find: /^bptt\/(kernels(?:-fma)?\.wasm)(?=\?|$)/, replacement: `${repo("dist/kernels")}/$1` },
];

/** COOP + COEP: makes the page cross-origin isolated. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
} as const;

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./", // relative URLs: the built page can be hosted under any path
  resolve: { alias: [...PACKAGE_ALIASES] },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  worker: { format: "es" },
  server: { host: "127.0.0.1", headers: ISOLATION_HEADERS },
  preview: { host: "127.0.0.1", port: 4173, headers: ISOLATION_HEADERS },
});
