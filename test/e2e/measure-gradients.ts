/**
 * What the playground's gradient-flow and saturation views show, in numbers: trains each cell in
 * the page (Chromium, WebAssembly kernels) with the same settings on the bundled text and reads,
 * every `--every` steps, the latest chunk's per-step series (the values the "latest chunk" chart
 * plots, from its data-values attribute) and each gate's saturation. For each series it prints
 * ‖·‖ at t = 1, T/4, T/2, 3T/4 relative to t = T, and max/min over t. The facts docs/playground.md
 * states come from this script.
 *
 *   npx vite-node test/e2e/measure-gradients.ts -- [--cells rnn,lstm,gru] [--hidden 128]
 *     [--seq-length 50] [--batch-size 32] [--steps 600] [--every 200]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { buildSite, closeServer, launchChromium, serveSite } from "./site.ts";

const { values } = parseArgs({
  options: {
    cells: { type: "string", default: "rnn,lstm,gru" },
    hidden: { type: "string", default: "128" },
    "seq-length": { type: "string", default: "50" },
    "batch-size": { type: "string", default: "32" },
    steps: { type: "string", default: "600" },
    every: { type: "string", default: "200" },
  },
  allowPositionals: true,
});
const steps = Number(values.steps);
const every = Number(values.every);
const work = mkdtempSync(join(tmpdir(), "bptt-gradients-"));

/** One line per series: the value at a few t relative to t = T, and the spread over t. */
function describeSeries(series: Record<string, (number | null)[]>): string[] {
  return Object.entries(series).map(([key, v]) => {
    const T = v.length;
    const last = v[T - 1] ?? NaN;
    const at = [1, Math.round(T / 4), Math.round(T / 2), Math.round((3 * T) / 4)];
    const finite = v.filter((x): x is number => x !== null);
    const spread = Math.max(...finite) / Math.min(...finite);
    const rel = at.map((t) => `t=${t}: ${((v[t - 1] ?? NaN) / last).toPrecision(3)}`).join(", ");
    return `  ${key.padEnd(7)} ‖·‖_T = ${last.toPrecision(3)}; relative to t=T: ${rel}; max/min over t ${spread.toPrecision(3)}`;
  });
}

async function measure(p: Page, url: string, cell: string): Promise<void> {
  await p.goto(url);
  await p.waitForFunction(() => document.getElementById("kernels")?.textContent !== "kernels: …");
  await p.selectOption("#set-cell", cell);
  const fields: [string, string][] = [
    ["hiddenSize", values.hidden], ["seqLength", values["seq-length"]], ["batchSize", values["batch-size"]],
    ["evalEvery", String(10 * steps)], ["sampleEvery", "0"],
  ];
  for (const [key, value] of fields) await p.fill(`#set-${key}`, value);
  console.log(`${cell}: H ${values.hidden}, T ${values["seq-length"]}, B ${values["batch-size"]} (${await p.textContent("#kernels")})`);
  await p.click("#btn-train");
  for (let at = every; at <= steps; at += every) {
    await p.waitForFunction((n) => Number(document.getElementById("chart-loss")?.dataset["points"]) >= n, at, { timeout: 600_000, polling: 200 });
    const [series, saturation, status] = await Promise.all([
      p.getAttribute("#chart-latest", "data-values"),
      p.$$eval("#saturation .term", (lines) => lines.map((l) => l.textContent ?? "")),
      p.textContent("#status"),
    ]);
    console.log(` ${status}`);
    for (const line of describeSeries(JSON.parse(series ?? "{}") as Record<string, (number | null)[]>)) console.log(line);
    for (const line of saturation) console.log(`  saturation: ${line.replace(/\s+/g, " ")}`);
  }
  await p.click("#btn-train");
}

const site = join(work, "site");
await buildSite(site);
const { server, url } = await serveSite(site);
const context = await launchChromium(join(work, "profile"));
try {
  const p = context.pages()[0] ?? (await context.newPage());
  for (const cell of values.cells.split(",")) await measure(p, url, cell);
} finally {
  await context.close();
  await closeServer(server);
  rmSync(work, { recursive: true, force: true });
}
