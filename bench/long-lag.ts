/**
 * `npm run bench:lag`: the long-lag (copy) task of src/data/copy-task.ts, trained with the same
 * small budget for each cell at each lag, and scored by the share of recalls predicted right on
 * fresh text of the same task (another seed) — what the vanishing gradient predicts, seen in the
 * learner's own runs (docs/playground.md, "The error of one step").
 *
 * Every run: a 1-layer model of H units, T = --seq-length steps per chunk (above the largest lag,
 * so that one chunk's BPTT spans every recall), B = 32, the other settings bptt train's defaults,
 * --seconds of training, one run after the other in this process.
 *
 * Usage: npm run bench:lag -- [--seconds S] [--lags 5,20,50] [--cells rnn,lstm,gru] [--hidden H] [--seq-length T]
 */
import { parseArgs } from "node:util";
import { CELL_NAMES, type CellName } from "../src/cells/index.ts";
import { copyRecalls, copyTaskText, COPY_TASK_LENGTH } from "../src/data/copy-task.ts";
import { encode } from "../src/data/vocab.ts";
import { evaluateIds } from "../src/model/evaluate.ts";
import { modelVocab } from "../src/model/language-model.ts";
import { train } from "../src/train/trainer.ts";
import { machineInfo } from "./lib.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    lags: { type: "string", default: "5,20,50" },
    cells: { type: "string", default: CELL_NAMES.join(",") },
    hidden: { type: "string", default: "64" },
    "seq-length": { type: "string", default: "60" },
  },
});
const seconds = Number(values.seconds);
const lags = values.lags.split(",").map(Number);
const cells = values.cells.split(",") as CellName[];
const hidden = Number(values.hidden);
const seqLength = Number(values["seq-length"]);
for (const c of cells) if (!CELL_NAMES.includes(c)) throw new Error(`--cells: ${c} is not a cell (${CELL_NAMES.join(", ")})`);
if (lags.some((l) => !(Number.isInteger(l) && l >= 2 && l < seqLength))) throw new Error(`--lags: integers in [2, ${seqLength}) (below --seq-length)`);

const m = machineInfo();
console.log(`copy task, ${COPY_TASK_LENGTH} characters per lag; 1 × ${hidden}, T ${seqLength}, B 32, ${seconds} s each; ${m.cores} cores, ${m.cpu}, Node ${process.version}`);
const rows: string[] = [];
for (const cell of cells) {
  const shares: string[] = [];
  for (const lag of lags) {
    const text = copyTaskText({ lag, length: COPY_TASK_LENGTH, seed: 1 });
    const result = await train({ text, cell, layers: 1, hiddenSize: hidden, seqLength, batchSize: 32, timeSeconds: seconds, sampleEvery: 0, evalEvery: 0 });
    // fresh text of the same task (another seed), scored in the trained model's own vocabulary
    const fresh = copyTaskText({ lag, length: COPY_TASK_LENGTH, seed: 2 });
    const model = { config: result.checkpoint.config, vocab: result.checkpoint.vocab, params: result.checkpoint.params };
    const e = evaluateIds(model, encode(modelVocab(model), fresh), { accuracyAt: copyRecalls(fresh) });
    const share = e.accuracy?.share ?? 0;
    console.log(`${cell} lag ${lag}: ${result.step} steps, validation ${result.valLoss?.toFixed(4) ?? "–"} nats/char, recalls ${(100 * share).toFixed(1)} % of ${e.accuracy?.count ?? 0}`);
    shares.push(`${(100 * share).toFixed(1)} %`);
  }
  rows.push(`| ${cell} | ${shares.join(" | ")} |`);
}
console.log(`\n| cell | ${lags.map((l) => `lag ${l}`).join(" | ")} |\n|---|${lags.map(() => "---").join("|")}|\n${rows.join("\n")}\n(recalls predicted right on fresh text; chance 12.5 %)`);
