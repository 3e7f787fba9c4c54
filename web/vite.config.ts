/**
 * Vite build of the playground (web/): a static page plus its training worker, built from the
 * library's sources in src/. `npm run build:web` writes web/dist/; `npm run playground` builds
 * and serves it.
 *
 * The WebAssembly kernels need SharedArrayBuffer, which browsers give only to cross-origin
 * isolated pages: both servers send the two headers below. A static host without them still
 * works, with the (slower) portable kernels; the page says which kernels run.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** COOP + COEP: makes the page cross-origin isolated. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
} as const;

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./", // relative URLs: the built page can be hosted under any path
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  worker: { format: "es" },
  server: { host: "127.0.0.1", headers: ISOLATION_HEADERS },
  preview: { host: "127.0.0.1", port: 4173, headers: ISOLATION_HEADERS },
});
