/**
 * The next step of a run rebuilt from its checkpoint (src/train/next-chunk.ts): what a host runs
 * for the gradient views of a run on several threads, which has no `inspect`. Checked against the
 * trainer's own `inspect`: from the checkpoint after step s, the same diagnostics as at step s + 1.
 */
import { describe, expect, it } from "vitest";
import type { CellDiagnostics } from "../src/cells/types.ts";
import { randomMarkovSource, sampleMarkov } from "../src/data/markov.ts";
import { cloneCheckpoint, type Checkpoint } from "../src/io/checkpoint.ts";
import { portableKernels } from "../src/kernels/portable.ts";
import { LmEngine } from "../src/model/lm.ts";
import { paramCount } from "../src/model/params.ts";
import { Rng } from "../src/rng.ts";
import { DataError } from "../src/errors.ts";
import { nextChunk, trainingIds } from "../src/train/next-chunk.ts";
import { train, type TrainOptions } from "../src/train/trainer.ts";

/** A float64 copy of one step's diagnostics (the engine's arrays change with its next call). */
const copy = (d: readonly CellDiagnostics[] | undefined): unknown =>
  d?.map((l) => ({ series: l.series.map((x) => ({ key: x.key, values: Array.from(x.values) })), saturation: l.saturation.map((g) => ({ ...g })) }));

// 3 chunks per epoch (B·(3T + 1) ≤ training characters < B·(4T + 1)), so 7 steps cross two epoch boundaries
const text = sampleMarkov(randomMarkovSource(8, 2), 112, new Rng(5));
const options: TrainOptions = {
  text, cell: "lstm", layers: 2, hiddenSize: 12, seqLength: 8, batchSize: 4, dropout: 0.2, outputDropout: 0.1,
  steps: 7, evalEvery: 0, kernels: portableKernels, threads: 1,
};

describe("nextChunk", () => {
  it("gives, from the checkpoint after step s, what `inspect` gives at step s + 1: same chunk, carried state, epoch resets and dropout", async () => {
    const inspected = new Map<number, unknown>();
    await train(options, { inspect: (engine, _grads, step) => inspected.set(step, copy(engine.diagnostics())) });

    const passed = new Map<number, unknown>();
    const positions: unknown[] = [];
    let side: { engine: LmEngine; grads: Float32Array } | undefined;
    await train({ ...options, checkpointEvery: 1 }, {
      save(ckpt: Checkpoint) {
        const kept = cloneCheckpoint(ckpt); // as the playground's worker keeps it
        side ??= { engine: new LmEngine(kept.config, portableKernels, { diagnostics: true }), grads: new Float32Array(paramCount(kept.config)) };
        const chunk = nextChunk(kept, trainingIds(kept, text));
        side.engine.lossAndGrads(kept.params, side.grads, chunk.batch, chunk.state0, chunk.scale, chunk.dropout);
        passed.set(chunk.step, copy(side.engine.diagnostics()));
        positions.push((JSON.parse(kept.metadata["train"] ?? "{}") as { position: unknown }).position);
      },
    });
    expect(positions.slice(0, 7)).toEqual([1, 2, 0, 1, 2, 0, 1].map((chunk, i) => ({ epoch: Math.floor((i + 1) / 3), chunk })));
    for (let step = 2; step <= 7; step++) {
      expect(passed.get(step), `step ${step}`).toBeDefined();
      expect(passed.get(step), `step ${step}`).toEqual(inspected.get(step));
    }
  });

  it("takes the run's text as a Corpus too, and refuses another text", async () => {
    const { checkpoint } = await train({ ...options, steps: 2 });
    const ids = trainingIds(checkpoint, text);
    const symbols = checkpoint.vocab ?? [];
    const corpus = { ids: Uint8Array.from(text, (ch) => symbols.indexOf(ch)), symbols };
    expect(trainingIds(checkpoint, corpus)).toEqual(ids);
    expect(() => trainingIds(checkpoint, text.slice(1) + text[0])).toThrowError(/trained on another text \(112 characters, hash [0-9a-f]{8}\)/);
  });

  it("refuses a checkpoint without training state, with a DataError", () => {
    const ckpt: Checkpoint = {
      config: { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: 4, vocabSize: 3, bias: true },
      vocab: ["a", "b", "c"], params: new Float32Array(0), extra: new Map(), metadata: {},
    };
    expect(() => nextChunk(ckpt, new Uint8Array(100))).toThrowError(DataError);
    expect(() => nextChunk(ckpt, new Uint8Array(100))).toThrowError(/has no training state/);
    expect(() => trainingIds(ckpt, "abc")).toThrowError(/has no training state/);
  });
});
