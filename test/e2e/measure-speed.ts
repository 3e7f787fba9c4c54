/**
 * Training throughput in the playground's worker (Chromium) against the CLI, on the same model
 * (the cell and no dropout given to both: their defaults differ), the same settings and the same
 * bundled text, one after the other (never at once: they would share the cores). Both numbers are
 * the trainer's own average over the run (tokens = time steps of one stream), validation passes
 * included, the final one excluded. Each side's threads are its default (the cores, then
 * chooseThreads) unless --threads is given to both; each run prints the threads it ran on.
 *
 *   npx vite-node test/e2e/measure-speed.ts -- [--cell rnn] [--hidden 256] [--layers 1] [--seq-length 50]
 *     [--batch-size 32] [--steps 600] [--eval-every 500] [--threads N] [--repeat 3]
 *
 * The machines here are shared and noisy: the two run alternately `repeat` times, and the
 * medians are compared, with each side's spread (max/min), and the ratio within each pair.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildSite, closeServer, launchChromium, serveSite } from "./site.ts";

const root = join(import.meta.dirname, "..", "..");
const { values } = parseArgs({
  options: {
    cell: { type: "string", default: "rnn" },
    hidden: { type: "string", default: "256" },
    layers: { type: "string", default: "1" },
    "seq-length": { type: "string", default: "50" },
    "batch-size": { type: "string", default: "32" },
    steps: { type: "string", default: "600" },
    "eval-every": { type: "string", default: "500" },
    threads: { type: "string" },
    repeat: { type: "string", default: "3" },
  },
  allowPositionals: true,
});
const steps = Number(values.steps);
const work = mkdtempSync(join(tmpdir(), "bptt-speed-"));

/** One run of each side: its average tokens/s and the threads it trained on. */
interface Run {
  readonly rate: number;
  readonly threads: string;
}

function cli(): Run {
  const out = execFileSync(process.execPath, [
    join(root, "bin", "bptt.js"), "train", "--cell", values.cell, "--output-dropout", "0", "--hidden", values.hidden, "--layers", values.layers,
    "--seq-length", values["seq-length"], "--batch-size", values["batch-size"], "--steps", values.steps, "--eval-every", values["eval-every"],
    ...(values.threads === undefined ? [] : ["--threads", values.threads]),
    "--out", join(work, "cli.safetensors"), "--force", "--json",
  ], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 });
  const done = out.trim().split("\n").map((l) => JSON.parse(l) as { type: string; tokensPerSec?: number; threads?: number }).find((e) => e.type === "done");
  if (done?.tokensPerSec === undefined) throw new Error("the CLI printed no done event");
  return { rate: done.tokensPerSec, threads: String(done.threads) };
}

async function page(url: string, run: number): Promise<Run & { kernels: string }> {
  const context = await launchChromium(join(work, `profile-${run}`));
  try {
    const p = context.pages()[0] ?? (await context.newPage());
    await p.goto(url);
    await p.waitForFunction(() => document.getElementById("kernels")?.textContent !== "kernels: …");
    const fields: [string, string][] = [
      ["hiddenSize", values.hidden], ["layers", values.layers], ["seqLength", values["seq-length"]], ["outputDropout", "0"],
      ["batchSize", values["batch-size"]], ["evalEvery", values["eval-every"]], ["sampleEvery", "0"],
      ...(values.threads === undefined ? [] : [["threads", values.threads] as [string, string]]),
    ];
    await p.selectOption("#set-cell", values.cell);
    for (const [key, value] of fields) await p.fill(`#set-${key}`, value);
    await p.click("#btn-train");
    await p.waitForFunction(
      (n) => Number(document.getElementById("chart-loss")?.dataset["points"]) >= n, steps, { timeout: 600_000, polling: 500 },
    );
    const rate = Number(await p.getAttribute("#throughput", "data-average"));
    const kernels = (await p.textContent("#kernels")) ?? "";
    const threads = (await p.getAttribute("#threads", "data-threads")) ?? "?";
    await p.click("#btn-train");
    return { rate, kernels, threads };
  } finally {
    await context.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const site = join(work, "site");
await buildSite(site);
const { server, url } = await serveSite(site);
try {
  const settings = `${values.cell} H ${values.hidden}, L ${values.layers}, T ${values["seq-length"]}, B ${values["batch-size"]}, ` +
    `${steps} steps, eval every ${values["eval-every"]}`;
  const cliRates: number[] = [];
  const pageRates: number[] = [];
  let kernels = "";
  for (let run = 0; run < Number(values.repeat); run++) {
    const c = cli();
    cliRates.push(c.rate);
    const w = await page(url, run);
    pageRates.push(w.rate);
    kernels = w.kernels;
    console.log(`run ${run + 1}: CLI ${c.rate.toFixed(0)} (${c.threads} threads), playground ${w.rate.toFixed(0)} tokens/s (${w.threads} threads)`);
  }
  const c = median(cliRates);
  const w = median(pageRates);
  const spread = (xs: number[]): string => `spread ${(Math.max(...xs) / Math.min(...xs)).toFixed(2)}×`;
  // the machine's speed drifts between runs: the ratio within each CLI–page pair, run back to back, is the steadier number
  const ratios = cliRates.map((r, i) => r / pageRates[i]);
  console.log(
    `${settings}\nCLI:        ${c.toFixed(0)} tokens/s (median, ${spread(cliRates)})\n` +
      `playground: ${w.toFixed(0)} tokens/s (median, ${spread(pageRates)}, ${kernels})\n` +
      `CLI / page: ${(c / w).toFixed(2)}× (of the medians); per pair ${ratios.map((r) => r.toFixed(2)).join(", ")}, median ${median(ratios).toFixed(2)}×`,
  );
} finally {
  await closeServer(server);
  rmSync(work, { recursive: true, force: true });
}
