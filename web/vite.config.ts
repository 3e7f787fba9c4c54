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
import { createLogger, defineConfig, type Logger } from "vite";

/** COOP + COEP: makes the page cross-origin isolated. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
} as const;

// src/kernels/wasm.ts looks for kernels.wasm next to itself when it runs in Node; in the page the
// worker fetches the module itself (web/src/worker.ts) and that lookup never runs. Vite warns that
// it cannot resolve the file at build time: expected, so that one warning is not shown.
// (A custom logger replaces --logLevel: builds log warnings only, servers also their URL.)
function quietLogger(level: "warn" | "info"): Logger {
  const logger = createLogger(level);
  const warnOnce = logger.warnOnce.bind(logger);
  logger.warnOnce = (message, options) => {
    if (!/kernels\.wasm.* doesn't exist at build time/.test(message)) warnOnce(message, options);
  };
  return logger;
}

export default defineConfig(({ command }) => ({
  customLogger: quietLogger(command === "build" ? "warn" : "info"),
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./", // relative URLs: the built page can be hosted under any path
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  worker: { format: "es" },
  server: { host: "127.0.0.1", headers: ISOLATION_HEADERS },
  preview: { host: "127.0.0.1", port: 4173, headers: ISOLATION_HEADERS },
}));
