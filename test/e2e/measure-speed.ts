/**
 * Training throughput in the playground's worker (Chromium) against the CLI, on the same settings
 * and the same bundled text, one after the other (never at once: they would share the cores).
 * Both numbers are the trainer's own average over the run (tokens = time steps of one stream),
 * validation passes included, the final one excluded.
 *
 *   npx vite-node test/e2e/measure-speed.ts -- [--hidden 256] [--layers 1] [--seq-length 50]
 *     [--batch-size 32] [--steps 600] [--eval-every 500] [--repeat 3]
 *
 * The machines here are shared and noisy: the two run alternately `repeat` times, and the
 * medians are compared.
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
    hidden: { type: "string", default: "256" },
    layers: { type: "string", default: "1" },
    "seq-length": { type: "string", default: "50" },
    "batch-size": { type: "string", default: "32" },
    steps: { type: "string", default: "600" },
    "eval-every": { type: "string", default: "500" },
    repeat: { type: "string", default: "3" },
  },
  allowPositionals: true,
});
const steps = Number(values.steps);
const work = mkdtempSync(join(tmpdir(), "bptt-speed-"));

function cli(): number {
  const out = execFileSync(process.execPath, [
    join(root, "bin", "bptt.js"), "train", "--hidden", values.hidden, "--layers", values.layers, "--seq-length", values["seq-length"],
    "--batch-size", values["batch-size"], "--steps", values.steps, "--eval-every", values["eval-every"],
    "--out", join(work, "cli.safetensors"), "--force", "--json",
  ], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 });
  const done = out.trim().split("\n").map((l) => JSON.parse(l) as { type: string; tokensPerSec?: number }).find((e) => e.type === "done");
  if (done?.tokensPerSec === undefined) throw new Error("the CLI printed no done event");
  return done.tokensPerSec;
}

async function page(url: string, run: number): Promise<{ rate: number; kernels: string }> {
  const context = await launchChromium(join(work, `profile-${run}`));
  try {
    const p = context.pages()[0] ?? (await context.newPage());
    await p.goto(url);
    await p.waitForFunction(() => document.getElementById("kernels")?.textContent !== "kernels: …");
    const fields: [string, string][] = [
      ["hiddenSize", values.hidden], ["layers", values.layers], ["seqLength", values["seq-length"]],
      ["batchSize", values["batch-size"]], ["evalEvery", values["eval-every"]], ["sampleEvery", "0"],
    ];
    for (const [key, value] of fields) await p.fill(`#set-${key}`, value);
    await p.click("#btn-train");
    await p.waitForFunction(
      (n) => Number(document.getElementById("chart-loss")?.dataset["points"]) >= n, steps, { timeout: 600_000, polling: 500 },
    );
    const rate = Number(await p.getAttribute("#throughput", "data-average"));
    const kernels = (await p.textContent("#kernels")) ?? "";
    await p.click("#btn-train");
    return { rate, kernels };
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
  const settings = `H ${values.hidden}, L ${values.layers}, T ${values["seq-length"]}, B ${values["batch-size"]}, ${steps} steps, eval every ${values["eval-every"]}`;
  const cliRates: number[] = [];
  const pageRates: number[] = [];
  let kernels = "";
  for (let run = 0; run < Number(values.repeat); run++) {
    cliRates.push(cli());
    const w = await page(url, run);
    pageRates.push(w.rate);
    kernels = w.kernels;
    console.log(`run ${run + 1}: CLI ${cliRates[run].toFixed(0)}, playground ${w.rate.toFixed(0)} tokens/s`);
  }
  const c = median(cliRates);
  const w = median(pageRates);
  console.log(`${settings}\nCLI:        ${c.toFixed(0)} tokens/s (median)\nplayground: ${w.toFixed(0)} tokens/s (median, ${kernels})\nCLI / page: ${(c / w).toFixed(2)}×`);
} finally {
  await closeServer(server);
  rmSync(work, { recursive: true, force: true });
}
