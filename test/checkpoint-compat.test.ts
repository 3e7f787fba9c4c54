/**
 * Checkpoints written before the model's input and head were units (test/fixtures/README.md says
 * how and by which commit) load as one-hot/softmax models, keep their config's bytes, sample the
 * same text and resume to byte-identical files.
 */
import { createHash } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkpointFromBytes, checkpointToBytes } from "../src/io/checkpoint.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { modelConfigJson } from "../src/model/config.ts";
import { runCli, testTempDir } from "./helpers.ts";

const FIXTURES = join(import.meta.dirname, "fixtures", "compat");
const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as Record<string, { sample: string; resumedSha256: string }>;

describe("checkpoints of the models before inputs and heads", () => {
  it.each(Object.keys(expected))("%s: loads as one-hot/softmax, and writes back the same bytes", (name) => {
    const bytes = readFileSync(join(FIXTURES, `${name}.safetensors`));
    const stored = parseSafetensors(bytes, name).metadata["config"];
    const ckpt = checkpointFromBytes(bytes, name);
    expect(ckpt.config).not.toHaveProperty("input");
    expect(ckpt.config).not.toHaveProperty("head");
    expect(modelConfigJson(ckpt.config)).toBe(stored);
    expect(Buffer.from(checkpointToBytes(ckpt)).equals(bytes)).toBe(true);
  });

  it.each(Object.keys(expected))("%s: samples the same text", async (name) => {
    const r = await runCli("sample", "--model", join(FIXTURES, `${name}.safetensors`), "--length", "80", "--seed", "5");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(expected[name]?.sample);
  });

  it.each(Object.keys(expected))("%s: resumes to a byte-identical file", async (name) => {
    const file = join(testTempDir("bptt-compat-"), `${name}.safetensors`);
    copyFileSync(join(FIXTURES, `${name}.safetensors`), file);
    const r = await runCli("train", "--resume", file, "--data", join(FIXTURES, "text.txt"), "--steps", "7");
    expect(r.code, r.stderr).toBe(0);
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(expected[name]?.resumedSha256);
  });
});
