/**
 * Build the playground from the current sources and serve it on 127.0.0.1 with the
 * cross-origin isolation headers (as `vite preview` does), and launch Debian's Chromium on it.
 * Shared by the end-to-end test and web/measure-speed.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { build } from "vite";

/** Debian's Chromium (apt-get install chromium). */
export const CHROMIUM = "/usr/bin/chromium";

const root = join(import.meta.dirname, "..", "..");
const ISOLATION = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".svg": "image/svg+xml",
};

/**
 * Build the page into a folder.
 * @param outDir where the site goes (emptied first)
 */
export async function buildSite(outDir: string): Promise<void> {
  await build({ configFile: join(root, "web", "vite.config.ts"), logLevel: "warn", build: { outDir, emptyOutDir: true } });
}

/**
 * Serve a folder statically on 127.0.0.1 (a free port).
 * @param dir the built site
 * @param isolated send COOP/COEP (needed for the WebAssembly kernels)
 * @returns the server and its URL
 */
export function serveSite(dir: string, isolated = true): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(dir, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(dir + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", ...(isolated ? ISOLATION : {}) });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
  }));
}

/**
 * Chromium with a fresh profile, headless, without any network service of its own.
 * @param profile an empty folder for the user data
 * @returns the browser context
 */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** Close a server. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
}
