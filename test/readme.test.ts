/**
 * The README stays true: its library example runs against the real API (with a shorter budget),
 * and every command it lists exists with --help.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/main.ts";
import { runCli, testTempDir } from "./helpers.ts";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** Write a README example to `file`, run it, and return what it logged. */
async function runExample(file: string, code: string): Promise<unknown[][]> {
  writeFileSync(file, code);
  const logs: unknown[][] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void logs.push(args);
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = original;
  }
  return logs;
}

describe("README", () => {
  it("lists exactly the commands the CLI has", () => {
    const listed = [...readme.matchAll(/^\| `bptt (\w+)/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it("has a library example that runs", async () => {
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const dir = testTempDir("bptt-readme-");
    const code = block!
      .replace(/from "bptt"/, `from ${JSON.stringify(pathToFileURL(join(root, "src", "index.ts")).href)}`)
      .replace(/"data\/tinyshakespeare\.txt"/, JSON.stringify(join(root, "data", "tinyshakespeare.txt")))
      .replace(/"model\.safetensors"/g, JSON.stringify(join(dir, "model.safetensors")))
      .replace(/timeSeconds: \d+/, "timeSeconds: 1")
      .replace(/hiddenSize: \d+/, "hiddenSize: 16");
    const logs = await runExample(join(dir, "example.ts"), code);
    const last = logs.at(-1)?.[0] as { loss: number; bpc: number };
    expect(Number.isFinite(last.loss)).toBe(true);
    expect(logs.some((l) => l[0] === "validation")).toBe(true);
  });

  it("has an ONNX Runtime sampling example that runs on an exported model", async () => {
    const section = readme.slice(readme.indexOf("## Running a model elsewhere: ONNX"));
    const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const dir = testTempDir("bptt-readme-onnx-");
    const model = join(dir, "model.safetensors");
    const onnx = join(dir, "model.onnx");
    expect((await runCli("init", "--data", join(root, "data", "tinyshakespeare.txt"), "--cell", "lstm", "--hidden", "16", "--out", model)).code).toBe(0);
    expect((await runCli("export", "--model", model, "--out", onnx)).code).toBe(0);
    const require = createRequire(import.meta.url);
    const code = block!
      .replace(/from "onnxruntime-node"/, `from ${JSON.stringify(pathToFileURL(require.resolve("onnxruntime-node")).href)}`)
      .replace(/from "protobufjs\/minimal\.js"/, `from ${JSON.stringify(pathToFileURL(require.resolve("protobufjs/minimal.js")).href)}`)
      .replace(/"model\.onnx"/, JSON.stringify(onnx));
    const logs = await runExample(join(dir, "example.mjs"), code);
    const text = logs.at(-1)?.[0];
    expect(typeof text).toBe("string");
    expect((text as string).startsWith("ROMEO:")).toBe(true);
    expect([...(text as string)].length).toBe(206);
  });
});
