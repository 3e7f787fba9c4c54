/**
 * Training on a Corpus ({ ids, symbols }, what readCorpusFile gives) is training on its text: the
 * same ids, checkpoints, text hash and exact resume as with the string; and `bptt train` / `bptt
 * eval`, which read their --data that way, say where a file is broken.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeCorpus, type Corpus } from "../src/data/corpus.ts";
import { randomMarkovSource, sampleMarkov } from "../src/data/markov.ts";
import { readCorpusFile } from "../src/data/node-files.ts";
import { buildVocab, encode, vocabFromSymbols } from "../src/data/vocab.ts";
import { DataError } from "../src/errors.ts";
import { checkpointFromBytes, checkpointToBytes, type Checkpoint } from "../src/io/checkpoint.ts";
import { Rng } from "../src/rng.ts";
import { train, type TrainOptions } from "../src/train/trainer.ts";
import { runCli, suiteTempDir } from "./helpers.ts";

const text = `${sampleMarkov(randomMarkovSource(6, 7), 6_000, new Rng(3))}日本語😀`;
/** Code points of `text`: where a character appended to it is. */
const END = [...text].length;
const small = { hiddenSize: 12, layers: 2, seqLength: 9, batchSize: 5, evalEvery: 5, checkpointEvery: 0 } as const;
const dir = suiteTempDir("bptt-corpus-");

function throughFile(ckpt: Checkpoint): Checkpoint {
  return checkpointFromBytes(checkpointToBytes(ckpt), "memory");
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The text as a Corpus, the way readCorpusFile reads a file (in small chunks here). */
function corpusOf(s: string): Corpus {
  const bytes = new TextEncoder().encode(s);
  return encodeCorpus({ name: "memory", size: bytes.length, *chunks() {
    for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
  } });
}

describe("train on a Corpus", () => {
  it("trains exactly as on its text: the same checkpoint, text hash included, and either resumes the other", async () => {
    const options: Omit<TrainOptions, "text"> = { ...small, steps: 12 };
    const fromString = await train({ ...options, text });
    const corpus = corpusOf(text);
    const fromCorpus = await train({ ...options, text: corpus });
    expect(sameBytes(fromCorpus.checkpoint.params, fromString.checkpoint.params)).toBe(true);
    expect(fromCorpus.checkpoint.metadata["train"]).toBe(fromString.checkpoint.metadata["train"]);
    expect(fromCorpus.checkpoint.vocab).toEqual(fromString.checkpoint.vocab);
    expect(fromCorpus.valLoss).toBe(fromString.valLoss);

    const half = await train({ ...options, steps: 6, text });
    const resumed = await train({ text: corpus, steps: 12, evalEvery: 5, checkpointEvery: 0, resume: throughFile(half.checkpoint) });
    expect(sameBytes(resumed.checkpoint.params, fromString.checkpoint.params)).toBe(true);
    const halfCorpus = await train({ ...options, steps: 6, text: corpus });
    const resumedString = await train({ text, steps: 12, evalEvery: 5, checkpointEvery: 0, resume: throughFile(halfCorpus.checkpoint) });
    expect(sameBytes(resumedString.checkpoint.params, fromString.checkpoint.params)).toBe(true);
  });

  it("expresses a Corpus's ids in a resumed checkpoint's vocabulary (another order, more symbols)", async () => {
    const wider = vocabFromSymbols([...buildVocab(`${text}XYZ`).symbols].reverse());
    // a model of that vocabulary without a training state, as `bptt init --data` makes
    const fresh = await train({ ...small, steps: 1, text: { ids: encode(wider, text), symbols: wider.symbols } });
    const fromInit: Checkpoint = { ...fresh.checkpoint, metadata: {}, extra: new Map() };
    const viaString = await train({ ...small, steps: 4, text, resume: fromInit });
    const viaCorpus = await train({ ...small, steps: 4, text: corpusOf(text), resume: fromInit });
    expect(sameBytes(viaCorpus.checkpoint.params, viaString.checkpoint.params)).toBe(true);
    expect(viaCorpus.checkpoint.metadata["train"]).toBe(viaString.checkpoint.metadata["train"]);
  });

  it("refuses a malformed Corpus, naming the problem", async () => {
    const bad = (c: unknown): Promise<unknown> => train({ ...small, steps: 1, text: c as Corpus });
    await expect(bad({ ids: Uint8Array.from([0, 5]), symbols: ["a", "b"] })).rejects.toThrowError(
      /^the training text\.ids\[1\] is 5; expected an id in \[0, 2\) for its 2 symbols$/,
    );
    await expect(bad({ ids: [0, 1], symbols: ["a", "b"] })).rejects.toThrowError(/expected token ids in a Uint8Array/);
    await expect(bad({ ids: new Uint8Array(0), symbols: ["a"] })).rejects.toThrowError(/ids is empty/);
    await expect(bad(null)).rejects.toThrowError(/expected a string or \{ ids, symbols \}/);
    await expect(bad("")).rejects.toThrowError(DataError);
    const trained = await train({ ...small, steps: 1, text });
    await expect(train({ ...small, steps: 2, text: corpusOf(`${text}€`), resume: trained.checkpoint })).rejects.toThrowError(
      new RegExp(`^1 character is not in the model's vocabulary: "€" ×1; the first at character index ${END}`),
    );
  });
});

describe("bptt train and eval read --data as ids", () => {
  it("train: the same run as the library's on the text, and the offset of a bad byte", async () => {
    const file = join(dir, "text.txt");
    writeFileSync(file, text);
    const out = join(dir, "m.safetensors");
    const r = await runCli("train", "--data", file, "--hidden", "12", "--layers", "2", "--seq-length", "9", "--batch-size", "5",
      "--steps", "3", "--threads", "1", "--out", out, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/reading/); // a small file is read too fast to show progress
    const bad = join(dir, "bad.txt");
    const bytes = new TextEncoder().encode(text);
    writeFileSync(bad, new Uint8Array([...bytes.subarray(0, 5000), 0xc3, 0x28, ...bytes.subarray(5000)]));
    const b = await runCli("train", "--data", bad, "--steps", "1", "--out", join(dir, "x.safetensors"));
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/is not UTF-8 text \(first bad byte at offset 5000: 0xC3 starts a 2-byte character, but byte 0x28 at offset 5001 does not continue it\)/);
    const resumed = await runCli("train", "--resume", out, "--data", join(dir, "other.txt"), "--steps", "4");
    expect(resumed.code).toBe(1); // missing file, named
    expect(resumed.stderr).toMatch(/other\.txt does not exist/);
    writeFileSync(join(dir, "other.txt"), `${text}€`);
    const unknown = await runCli("train", "--resume", out, "--data", join(dir, "other.txt"), "--steps", "4");
    expect(unknown.stderr).toMatch(`other.txt: 1 character is not in the model's vocabulary: "€" ×1; the first at character index ${END} `);
    expect(unknown.stderr).toMatch(/use --skip-unknown to drop them/);
    // … which train takes with --resume (not without: a new run's vocabulary is its text's)
    const skipping = await runCli("train", "--resume", out, "--data", join(dir, "other.txt"), "--skip-unknown", "--steps", "4", "--out", join(dir, "skipped.safetensors"));
    expect(skipping.code, skipping.stderr).toBe(0);
    expect(skipping.stderr).toMatch(/done after 4 steps/);
    const fresh = await runCli("train", "--data", join(dir, "other.txt"), "--skip-unknown", "--steps", "1", "--out", join(dir, "fresh.safetensors"));
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toMatch(/--skip-unknown needs --resume/);
    const again = await runCli("train", "--resume", out, "--data", file, "--steps", "4", "--threads", "1");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/done after 4 steps/);
  });

  it("eval: ids in the model's vocabulary, unknown characters listed or skipped", async () => {
    const file = join(dir, "text.txt");
    writeFileSync(file, text);
    const model = join(dir, "e.safetensors");
    expect((await runCli("train", "--data", file, "--hidden", "8", "--layers", "1", "--steps", "2", "--out", model)).code).toBe(0);
    const r = await runCli("eval", "--model", model, "--data", file, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { chars: number }).chars).toBe(readCorpusFile(file).ids.length - 1);
    const other = join(dir, "eval-other.txt");
    writeFileSync(other, `zz${text.slice(0, 100)}`);
    const u = await runCli("eval", "--model", model, "--data", other);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/eval-other\.txt: 2 characters are not in the model's vocabulary: "z" ×2; the first at character index 0/);
    const s = await runCli("eval", "--model", model, "--data", other, "--skip-unknown", "--json");
    expect(s.code, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { chars: number }).chars).toBe(99);
  });
});
