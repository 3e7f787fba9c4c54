/**
 * The package as a browser user gets it: a page (test/e2e/browser-app/) that imports "bptt" and
 * "bptt/kernels.wasm", bundled by Vite from a node_modules/bptt that links to this repository
 * (as an install would), so the resolution goes through package.json "exports" with the
 * "browser" condition. Checks that the bundle imports nothing of Node's, and, in Debian's
 * Chromium with cross-origin isolation, that training on the WebAssembly kernels lowers the
 * loss, a checkpoint round-trips in memory, the file functions explain what to use instead, and a
 * page's worker trains on 2 threads through nested workers running "bptt/thread-worker.js", set up
 * by the package's browser loader (`loadBrowserKernels`).
 *
 * Needs the built package (dist/, made by `npm ci`). The browser part is skipped, with a
 * warning, where /usr/bin/chromium is missing.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, closeServer, launchChromium, serveSite } from "./site.ts";

const root = join(import.meta.dirname, "..", "..");
const built = existsSync(join(root, "dist", "browser.js")) && existsSync(join(root, "dist", "kernels", "kernels.wasm"));

describe.runIf(built)("the package in a browser bundle", () => {
  let work: string;
  let site: string;
  let server: Server | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "bptt-browser-package-"));
    const app = join(work, "app");
    cpSync(join(import.meta.dirname, "browser-app"), app, { recursive: true });
    mkdirSync(join(app, "node_modules"));
    symlinkSync(root, join(app, "node_modules", "bptt"), "dir");
    site = join(work, "site");
    await build({ root: app, configFile: false, logLevel: "warn", build: { outDir: site, emptyOutDir: true, target: "es2022" }, worker: { format: "es" } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await closeServer(server);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("bundles the browser entry: no import of a Node module, and the kernels as an asset", () => {
    const files = readdirSync(join(site, "assets"));
    const js = files.filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(site, "assets", f), "utf8")).join("\n");
    expect(js).not.toContain("externalized for browser compatibility"); // Vite's stand-in for a node: import
    expect(js).toContain("reads or writes files, which only Node can do"); // browser.ts, not index.ts
    expect(files.some((f) => f.endsWith(".wasm"))).toBe(true);
  });

  it.skipIf(!existsSync(CHROMIUM))("trains on the WebAssembly kernels in Chromium, round-trips a checkpoint, explains the file functions", async () => {
    let url: string;
    ({ server, url } = await serveSite(site));
    context = await launchChromium(join(work, "profile"));
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => "result" in window, undefined, { timeout: 60_000 });
    const r = (await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result));
    expect(r["error"], String(r["error"])).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r).toMatchObject({ simd: true, kernels: "wasm", fallbackCalls: 0, threads: 1 });
    expect(r["last"] as number).toBeLessThan((r["first"] as number) - 0.5);
    expect(r["sample"]).toMatch(/^[a-z .\n]{40}$/);
    // 2 threads in a page's worker, through nested workers running bptt/thread-worker.js
    const threaded = r["threaded"] as Record<string, unknown>;
    expect(threaded["error"], String(threaded["error"])).toBeUndefined();
    expect(threaded).toMatchObject({ threads: 2, fallbackCalls: 0, oneThreadReason: undefined, portableReason: undefined });
    // loadBrowserKernels fetched the FMA build where the browser validates relaxed SIMD (Chromium ≥ 114)
    expect(threaded["build"]).toBe(threaded["relaxedSimd"] === true ? "fma" : "simd");
    expect(threaded["last"] as number).toBeLessThan((threaded["first"] as number) - 0.5);
    expect(r["fileError"]).toMatch(/loadCheckpoint\("model.safetensors"\) reads or writes files, which only Node can do; in a browser use checkpointFromBytes/);
  }, 90_000);
});

if (!existsSync(CHROMIUM)) {
  console.warn(`\n*** SKIPPING the browser part of the package test: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`);
}
