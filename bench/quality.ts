/**
 * `npm run bench:quality`: how low the validation loss gets in a fixed time, per configuration, on
 * the bundled tiny Shakespeare (first 90 % train, last 10 % validation) — the measurement behind the
 * defaults of `bptt train` and `npm start`, kept so the choice can be rerun on another machine.
 *
 * Each configuration is one real `bptt train --time BUDGET --json` run of the built CLI, in a
 * process of its own and one after the other (the machine's cores are the runs' own), with
 * validation every --eval-every steps. Printed per configuration: steps, characters per second,
 * the validation curve, its best and its last value, and whether it was still falling at the end.
 *
 * Usage: npm run bench:quality -- [--budget SECONDS] [--configs a,b,...] [--json FILE]
 *   --budget    seconds per run (default 120, npm start's budget; 600 for `bptt train --time 600`)
 *   --configs   names from CONFIGS below (default all)
 *   --json      also write the results to FILE
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { machineInfo } from "./lib.ts";

/** The configurations tried: flags of `bptt train` on top of its defaults. */
const CONFIGS: Readonly<Record<string, readonly string[]>> = {
  // today's defaults (2 × 192 LSTM, dropout 0.2 between the layers and before the output layer)
  defaults: [],
  "rnn-256": ["--cell", "rnn", "--hidden", "256"],
  "lstm-256": ["--cell", "lstm", "--hidden", "256"],
  "gru-256": ["--cell", "gru", "--hidden", "256"],
  "gru-256-lr3e-3": ["--cell", "gru", "--hidden", "256", "--lr", "3e-3"],
  "lstm-192": ["--cell", "lstm", "--hidden", "192"],
  "lstm-256-drop": ["--cell", "lstm", "--hidden", "256", "--output-dropout", "0.2"],
  "lstm-256-decay": ["--cell", "lstm", "--hidden", "256", "--lr", "3e-3", "--lr-decay", "0.9", "--lr-decay-every", "300"],
  "lstm-2x192-drop": ["--cell", "lstm", "--hidden", "192", "--layers", "2", "--dropout", "0.2"],
  // ten-minute candidates: output dropout against overfitting, a cosine decay sized to the steps
  // that fit in 600 s here (a step budget, so that the run stays exactly resumable)
  "lstm-256-drop-cos": ["--cell", "lstm", "--hidden", "256", "--output-dropout", "0.2", "--lr", "3e-3", "--lr-schedule", "cosine", "--cosine-steps", "6000", "--lr-min", "0.05", "--warmup", "100"],
  "gru-256-drop-cos": ["--cell", "gru", "--hidden", "256", "--output-dropout", "0.2", "--lr", "3e-3", "--lr-schedule", "cosine", "--cosine-steps", "8000", "--lr-min", "0.05", "--warmup", "100"],
  "lstm-2x192-drop-cos": ["--cell", "lstm", "--hidden", "192", "--layers", "2", "--dropout", "0.2", "--output-dropout", "0.2", "--lr", "3e-3", "--lr-schedule", "cosine", "--cosine-steps", "4800", "--lr-min", "0.05", "--warmup", "100"],
};

/** One run's outcome. */
interface QualityResult {
  readonly name: string;
  readonly flags: readonly string[];
  readonly budget: number;
  readonly steps: number;
  readonly tokensPerSec: number;
  readonly curve: readonly { step: number; valLoss: number }[];
  readonly best: { step: number; valLoss: number } | null;
  readonly last: number | null;
  /** The last validation is within 0.005 of the best: the run had not begun to overfit. */
  readonly notRising: boolean;
}

const { values } = parseArgs({
  options: { budget: { type: "string" }, configs: { type: "string" }, json: { type: "string" }, "eval-every": { type: "string" } },
});
const budget = Number(values.budget ?? 120);
const evalEvery = Number(values["eval-every"] ?? 250);
const names = values.configs?.split(",") ?? Object.keys(CONFIGS);
for (const n of names) if (CONFIGS[n] === undefined) throw new Error(`unknown configuration ${n}; known: ${Object.keys(CONFIGS).join(", ")}`);
const bin = join(import.meta.dirname, "..", "bin", "bptt.js");

mkdirSync("runs", { recursive: true });
const results: QualityResult[] = [];
console.log(`validation loss (nats/char) after ${budget} s of \`bptt train\` per configuration, bundled tiny Shakespeare 90/10`);
console.log(JSON.stringify(machineInfo()));
for (const name of names) {
  const result = await run(name, CONFIGS[name] ?? []);
  results.push(result);
  const curve = result.curve.map((p) => `${p.step}:${p.valLoss.toFixed(3)}`).join(" ");
  console.log(
    `${name.padEnd(18)} steps ${String(result.steps).padStart(6)}  ${(result.tokensPerSec / 1000).toFixed(1).padStart(5)}k char/s  ` +
      `best ${result.best?.valLoss.toFixed(4) ?? "-"} @${result.best?.step ?? "-"}  last ${result.last?.toFixed(4) ?? "-"}  ` +
      `${result.notRising ? "not rising" : "rising"}\n    ${curve}`,
  );
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ budget, machine: machineInfo(), results }, null, 2));

/** One `bptt train` run in a child process, its JSON events collected. */
function run(name: string, flags: readonly string[]): Promise<QualityResult> {
  const args = [bin, "train", ...flags, "--time", String(budget), "--eval-every", String(evalEvery), "--json", "--out", join("runs", `quality-${name}.safetensors`), "--force"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`bptt train ${flags.join(" ")} exited with ${code}`));
      const events = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      const curve = events.filter((e) => e["type"] === "eval").map((e) => ({ step: e["step"] as number, valLoss: e["valLoss"] as number }));
      const done = events.find((e) => e["type"] === "done") ?? {};
      const best = curve.reduce<{ step: number; valLoss: number } | null>((b, p) => (b === null || p.valLoss < b.valLoss ? p : b), null);
      const last = curve.at(-1)?.valLoss ?? null;
      resolve({
        name, flags, budget, steps: done["step"] as number, tokensPerSec: done["tokensPerSec"] as number, curve, best, last,
        notRising: best !== null && last !== null && last - best.valLoss < 0.005,
      });
    });
  });
}
