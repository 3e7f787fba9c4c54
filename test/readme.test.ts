/**
 * The README stays true: its library example runs against the real API (with a shorter budget),
 * and every command it lists exists with --help.
 */
import { readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/main.ts";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

describe("README", () => {
  it("lists exactly the commands the CLI has", () => {
    const listed = [...readme.matchAll(/^\| `bptt (\w+)/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it("has a library example that runs", async () => {
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "bptt-readme-"));
    const code = block!
      .replace(/from "bptt"/, `from ${JSON.stringify(pathToFileURL(join(root, "src", "index.ts")).href)}`)
      .replace(/"data\/tinyshakespeare\.txt"/, JSON.stringify(join(root, "data", "tinyshakespeare.txt")))
      .replace(/"model\.safetensors"/g, JSON.stringify(join(dir, "model.safetensors")))
      .replace(/timeSeconds: \d+/, "timeSeconds: 1")
      .replace(/hiddenSize: \d+/, "hiddenSize: 16");
    const file = join(dir, "example.ts");
    writeFileSync(file, code);
    const logs: unknown[][] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => void logs.push(args);
    try {
      await import(pathToFileURL(file).href);
    } finally {
      console.log = original;
    }
    const last = logs.at(-1)?.[0] as { loss: number; bpc: number };
    expect(Number.isFinite(last.loss)).toBe(true);
    expect(logs.some((l) => l[0] === "validation")).toBe(true);
  });
});
