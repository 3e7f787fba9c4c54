import { describe, expect, it } from "vitest";
import type { EvalChunk } from "./batcher.ts";
import { ConfigError, DataError, ShapeError } from "../errors.ts";
import {
  START,
  checkBatching,
  chunksPerEpoch,
  evalChunks,
  fillChunk,
  fillEvalChunk,
  minTrainLength,
  nextPosition,
  parsePosition,
} from "./batcher.ts";

const iota = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe("fillChunk", () => {
  it("lays out B contiguous streams time-major (hand-checked, n=21 B=2 T=3)", () => {
    // L = 10: stream 0 = ids 0..9, stream 1 = ids 10..19, id 20 unused; floor((10−1)/3) = 3 chunks
    const ids = iota(21);
    expect(chunksPerEpoch(21, 2, 3)).toBe(3);
    const inputs = new Int32Array(6);
    const targets = new Int32Array(6);
    const expected: [number[], number[]][] = [
      [
        [0, 10, 1, 11, 2, 12],
        [1, 11, 2, 12, 3, 13],
      ],
      [
        [3, 13, 4, 14, 5, 15],
        [4, 14, 5, 15, 6, 16],
      ],
      [
        [6, 16, 7, 17, 8, 18],
        [7, 17, 8, 18, 9, 19],
      ],
    ];
    for (let j = 0; j < 3; j++) {
      fillChunk(ids, 2, 3, j, inputs, targets);
      expect([Array.from(inputs), Array.from(targets)]).toEqual(expected[j]);
    }
  });

  it("continues every stream where the previous chunk stopped", () => {
    const n = 1000;
    const B = 7;
    const T = 9;
    const ids = iota(n);
    const L = Math.floor(n / B);
    const chunks = chunksPerEpoch(n, B, T);
    const inputs = new Int32Array(T * B);
    const targets = new Int32Array(T * B);
    for (let j = 0; j < chunks; j++) {
      fillChunk(ids, B, T, j, inputs, targets);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          expect(inputs[t * B + b]).toBe(b * L + j * T + t);
          expect(targets[t * B + b]).toBe((inputs[t * B + b] as number) + 1);
        }
      }
    }
  });

  it("checks buffer sizes and the chunk index", () => {
    const ids = iota(21);
    expect(() => fillChunk(ids, 2, 3, 0, new Int32Array(5), new Int32Array(6))).toThrowError(ShapeError);
    expect(() => fillChunk(ids, 2, 3, 3, new Int32Array(6), new Int32Array(6))).toThrowError(/chunk 3: expected an integer in \[0, 3\)/);
    expect(() => fillChunk(ids, 2, 3, -1, new Int32Array(6), new Int32Array(6))).toThrowError(DataError);
  });
});

describe("chunksPerEpoch / checkBatching", () => {
  it("counts floor((floor(n/B) − 1)/T) chunks", () => {
    expect(chunksPerEpoch(1_115_394, 1, 25)).toBe(Math.floor(1_115_393 / 25));
    expect(chunksPerEpoch(1_003_854, 50, 50)).toBe(Math.floor((20_077 - 1) / 50));
    expect(chunksPerEpoch(8, 2, 3)).toBe(1); // exactly B·(T+1)
    expect(chunksPerEpoch(7, 2, 3)).toBe(0);
    expect(chunksPerEpoch(0, 2, 3)).toBe(0);
    expect(minTrainLength(2, 3)).toBe(8);
  });

  it("explains a text too short for one chunk", () => {
    expect(checkBatching(8, 2, 3)).toBe(1);
    expect(() => checkBatching(7, 2, 3)).toThrowError(DataError);
    expect(() => checkBatching(1000, 50, 50)).toThrowError(
      "the training text has 1000 characters; batch size 50 and sequence length 50 need at least B·(T+1) = 2550; " +
        "use a smaller --batch-size or --seq-length, or a longer text",
    );
  });

  it("rejects batch sizes and sequence lengths that are not positive integers", () => {
    expect(() => chunksPerEpoch(100, 0, 3)).toThrowError(ConfigError);
    expect(() => chunksPerEpoch(100, 2, 1.5)).toThrowError(/sequence length: expected an integer ≥ 1; received 1.5/);
    expect(() => chunksPerEpoch(100, Number.NaN, 3)).toThrowError(/batch size/);
  });
});

describe("positions", () => {
  it("advance chunk by chunk and wrap into the next epoch", () => {
    let p = START;
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      seen.push(`${p.epoch}:${p.chunk}`);
      p = nextPosition(p, 3);
    }
    expect(seen).toEqual(["0:0", "0:1", "0:2", "1:0", "1:1", "1:2", "2:0"]);
  });

  it("round-trip through JSON and are checked on resume", () => {
    const p = { epoch: 4, chunk: 2 };
    expect(parsePosition(JSON.parse(JSON.stringify(p)), 3)).toEqual(p);
    expect(() => parsePosition({ epoch: 4, chunk: 3 }, 3)).toThrowError(/stopped at chunk 3 of an epoch, but this text gives 3 chunks/);
    expect(() => parsePosition({ epoch: -1, chunk: 0 }, 3)).toThrowError(DataError);
    expect(() => parsePosition({ epoch: 1 }, 3)).toThrowError(/expected a data position/);
    expect(() => parsePosition(null, 3)).toThrowError(DataError);
  });
});

describe("evalChunks", () => {
  it("plans a hand-checked pass (n=11, T=3, B=3)", () => {
    // 10 targets: 3 streams of S = 3 (targets 1–3, 4–6, 7–9), then a B=1 tail for target 10
    expect(evalChunks(11, 3, 3)).toEqual([
      { batch: 3, steps: 3, reset: true, offset: 0, stride: 3 },
      { batch: 1, steps: 1, reset: true, offset: 9, stride: 0 },
    ]);
    const ids = iota(11);
    const inputs = new Int32Array(9);
    const targets = new Int32Array(9);
    const [main, tail] = evalChunks(11, 3, 3) as [EvalChunk, EvalChunk];
    fillEvalChunk(ids, main, inputs, targets);
    expect(Array.from(inputs)).toEqual([0, 3, 6, 1, 4, 7, 2, 5, 8]);
    expect(Array.from(targets)).toEqual([1, 4, 7, 2, 5, 8, 3, 6, 9]);
    fillEvalChunk(ids, tail, inputs, targets);
    expect([inputs[0], targets[0]]).toEqual([9, 10]);
  });

  it("with B = 1 walks the text in order, the last chunk shorter", () => {
    expect(evalChunks(8, 3)).toEqual([
      { batch: 1, steps: 3, reset: true, offset: 0, stride: 7 },
      { batch: 1, steps: 3, reset: false, offset: 3, stride: 7 },
      { batch: 1, steps: 1, reset: false, offset: 6, stride: 7 },
    ]);
  });

  it("predicts every id but the first exactly once, continuing each stream", () => {
    for (const [n, T, B] of [
      [2, 1, 1],
      [2, 5, 4],
      [50, 7, 1],
      [50, 7, 3],
      [101, 10, 10],
      [1000, 13, 6],
      [37, 50, 2],
    ] as const) {
      const ids = iota(n);
      const hits = new Int32Array(n);
      const inputs = new Int32Array(T * B);
      const targets = new Int32Array(T * B);
      const nextInput = new Map<number, number>(); // stream → input expected next
      for (const c of evalChunks(n, T, B)) {
        fillEvalChunk(ids, c, inputs, targets);
        if (c.reset) nextInput.clear();
        for (let b = 0; b < c.batch; b++) {
          const first = inputs[b] as number;
          if (!c.reset) expect(first).toBe(nextInput.get(b));
          for (let t = 0; t < c.steps; t++) {
            const x = inputs[t * c.batch + b] as number;
            const y = targets[t * c.batch + b] as number;
            expect(y).toBe(x + 1);
            hits[y] = (hits[y] as number) + 1;
          }
          nextInput.set(b, (inputs[(c.steps - 1) * c.batch + b] as number) + 1);
        }
      }
      expect(hits[0]).toBe(0);
      expect(Array.from(hits.subarray(1)).every((h) => h === 1)).toBe(true);
    }
  });

  it("needs at least 2 ids", () => {
    expect(() => evalChunks(1, 3)).toThrowError(/at least 2 characters/);
    expect(() => evalChunks(10, 0)).toThrowError(ConfigError);
  });
});
