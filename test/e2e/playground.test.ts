/**
 * The playground end to end, in a real browser: Debian's Chromium driven by playwright-core
 * (never a downloaded browser). Builds the page from the current sources, serves it on
 * 127.0.0.1 with the cross-origin isolation headers, and checks that: invalid settings get an
 * inline message; training runs in the worker on the WebAssembly kernels and the loss falls;
 * every plot has drawn data; a sample can be generated; a checkpoint downloads as a file the
 * library (and so `bptt sample`) reads, loads back into the page and trains on. Leaves a
 * screenshot in runs/e2e/playground.png (and playground-loaded.png, after the round trip).
 *
 * Skipped, with a warning, where /usr/bin/chromium is missing (`apt-get install chromium`;
 * .ci/run installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointFromBytes } from "../../src/io/checkpoint.ts";
import { sample } from "../../src/model/sample.ts";
import { buildSite, CHROMIUM, closeServer, launchChromium, serveSite } from "./site.ts";

const root = join(import.meta.dirname, "..", "..");
const available = existsSync(CHROMIUM);
if (!available) {
  console.warn(`\n*** SKIPPING the playground end-to-end test: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`);
}

describe.skipIf(!available)("playground in Chromium", () => {
  let work: string;
  let server: Server | undefined;
  let plainServer: Server | undefined;
  let plainUrl: string;
  let context: BrowserContext | undefined;
  let page: Page;
  let url: string;
  const problems: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "bptt-e2e-"));
    const out = join(work, "site");
    await buildSite(out);
    ({ server, url } = await serveSite(out));
    ({ server: plainServer, url: plainUrl } = await serveSite(out, false));
    context = await launchChromium(join(work, "profile"));
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()} (${m.location().url})`);
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await closeServer(server);
    await closeServer(plainServer);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const points = async (id: string): Promise<number> => Number(await page.getAttribute(`#${id}`, "data-points"));
  const setField = async (key: string, value: string): Promise<void> => page.fill(`#set-${key}`, value);

  it("trains, plots, samples, and round-trips a checkpoint", async () => {
    await page.goto(url);
    await expect.poll(() => page.textContent("#kernels"), { timeout: 15_000 }).toBe("kernels: wasm");
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

    // invalid settings get inline messages, and nothing starts
    await setField("hiddenSize", "12.5");
    await setField("batchSize", "0");
    await page.click("#btn-train");
    await expect.poll(() => page.textContent("#err-hiddenSize")).toMatch(/expected a whole number from 1 to 1024; received "12.5"/);
    expect(await page.textContent("#err-batchSize")).toMatch(/expected a whole number from 1 to 512/);
    expect(await page.getAttribute("body", "data-state")).toBe("idle");

    // a small model, so that the loss falls within seconds
    await setField("hiddenSize", "64");
    await setField("batchSize", "16");
    await setField("seqLength", "32");
    await setField("layers", "2");
    await setField("evalEvery", "60");
    await setField("sampleEvery", "40");
    await page.click("#btn-train");
    expect(await page.textContent("#err-hiddenSize")).toBe("");
    await expect.poll(() => page.getAttribute("body", "data-state")).toBe("running");
    await expect.poll(async () => {
      const chart = await page.$("#chart-loss");
      const first = Number(await chart?.getAttribute("data-first"));
      const last = Number(await chart?.getAttribute("data-last"));
      const vals = Number(await chart?.getAttribute("data-val"));
      return vals >= 2 && last < first - 0.8;
    }, { timeout: 30_000, interval: 250 }).toBe(true);

    // every plot has data, and its canvas shows it
    for (const id of ["chart-loss", "chart-speed", "chart-latest", "heat-dh", "heat-contrib", "chart-saturation", "samples", "hidden-text"]) {
      await expect.poll(() => points(id), { message: id, timeout: 10_000 }).toBeGreaterThan(0);
    }
    expect(await points("heat-dh")).toBeGreaterThan(2);
    // every canvas shows data (charts redraw at most 4 times a second: poll, not one look)
    const colours = (): Promise<number[]> =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLCanvasElement>(".chart canvas")).map((c) => {
          const ctx = c.getContext("2d");
          if (ctx === null || c.width === 0) return 0;
          const d = ctx.getImageData(0, 0, c.width, c.height).data;
          const seen = new Set<number>();
          for (let i = 0; i < d.length; i += 4 * 7) if (d[i + 3] > 0) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
          return seen.size;
        }));
    await expect.poll(async () => {
      const n = await colours();
      // six charts, each with more than a few colours; the heatmaps (index 3) with many
      return n.length === 6 && n.every((c) => c > 3) && n[3] > 20;
    }, { timeout: 10_000, interval: 250 }).toBe(true);
    expect(await page.textContent("#throughput")).toMatch(/tokens\/s on average/);
    expect(await page.$$eval("#hidden-text span", (s) => s.length)).toBeGreaterThan(100);

    // a sample on request, at the slider's temperature
    await page.fill("#prime", "KING");
    await page.$eval("#temperature", (e) => {
      (e as HTMLInputElement).value = "0.5";
      e.dispatchEvent(new Event("input"));
    });
    await page.click("#btn-sample");
    // training goes on, so periodic samples may land above the requested one: look it up by caption
    const requested = (): Promise<[string, number] | undefined> =>
      page.$$eval("#samples figure", (figures) => {
        for (const f of figures) {
          const caption = f.querySelector("figcaption")?.textContent ?? "";
          if (caption.includes("on request")) return [caption, f.querySelector("pre")?.textContent?.length ?? 0] as [string, number];
        }
        return undefined;
      });
    await expect.poll(async () => (await requested())?.[0]).toMatch(/on request, step \d+, τ = 0.5/);
    expect((await requested())?.[1]).toBe(300);

    mkdirSync(join(root, "runs", "e2e"), { recursive: true });
    await page.screenshot({ path: join(root, "runs", "e2e", "playground.png"), fullPage: true });

    // pause, download the checkpoint; the library reads it as the CLI would
    await page.click("#btn-train");
    await expect.poll(() => page.getAttribute("body", "data-state")).toBe("paused");
    const pausedAt = Number(await page.getAttribute("#model-info", "data-step"));
    expect(pausedAt).toBeGreaterThan(50);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#btn-save")]);
    const file = join(work, "model.safetensors");
    await download.saveAs(file);
    const ckpt = checkpointFromBytes(new Uint8Array(readFileSync(file)), file);
    expect(ckpt.config).toMatchObject({ hiddenSize: 64, layers: 2, nonlinearity: "tanh", bias: true });
    expect(JSON.parse(ckpt.metadata["train"] ?? "{}")).toMatchObject({ step: pausedAt });
    expect(sample({ config: ckpt.config, vocab: ckpt.vocab, params: ckpt.params }, { length: 50 }).length).toBe(50);

    // load it back (after a reset), sample from it, and continue training it
    await page.click("#btn-reset");
    await expect.poll(() => page.getAttribute("body", "data-state")).toBe("idle");
    await page.setInputFiles("#load-file", file);
    await expect.poll(() => page.textContent("#model-info")).toMatch(new RegExp(`model.safetensors: 2 × tanh RNN, H = 64.*step ${pausedAt}$`));
    await page.click("#btn-sample");
    await expect.poll(() => page.textContent("#samples figure:first-child figcaption")).toMatch(new RegExp(`on request, step ${pausedAt}`));
    await page.click("#btn-train");
    await expect.poll(() => page.getAttribute("body", "data-state")).toBe("running");
    await expect.poll(async () => Number(await page.getAttribute("#chart-loss", "data-points")), { timeout: 15_000 }).toBeGreaterThan(20);
    await page.click("#btn-train");
    await expect.poll(() => page.getAttribute("body", "data-state")).toBe("paused");
    expect(Number(await page.getAttribute("#model-info", "data-step"))).toBeGreaterThan(pausedAt);
    await page.click("#btn-step");
    await expect.poll(() => page.textContent("#status")).toMatch(/paused at step \d+/);

    expect(await page.textContent("#err-worker")).toBe("");
    expect(problems).toEqual([]);
    await page.screenshot({ path: join(root, "runs", "e2e", "playground-loaded.png"), fullPage: true });
  }, 120_000);

  it("falls back to the portable kernels on a host without the isolation headers, and trains on pasted text", async () => {
    const p = await context!.newPage();
    const errors: string[] = [];
    p.on("pageerror", (e) => errors.push(e.message));
    await p.goto(plainUrl);
    await expect.poll(() => p.textContent("#kernels"), { timeout: 15_000 }).toMatch(/^kernels: portable/);
    expect(await p.getAttribute("#kernels", "title")).toMatch(/not cross-origin isolated/);
    await p.check("input[value=custom]");
    await p.fill("#custom-text", "to be or not to be, that is the question. ".repeat(60));
    await p.fill("#set-hiddenSize", "16");
    await p.fill("#set-batchSize", "8");
    await p.fill("#set-seqLength", "20");
    await p.click("#btn-train");
    await expect.poll(async () => Number(await p.getAttribute("#chart-loss", "data-points")), { timeout: 15_000 }).toBeGreaterThan(30);
    await p.click("#btn-train");
    await expect.poll(() => p.getAttribute("body", "data-state")).toBe("paused");
    expect(await p.textContent("#err-worker")).toBe("");
    expect(errors).toEqual([]);
    await p.close();
  }, 60_000);
});
