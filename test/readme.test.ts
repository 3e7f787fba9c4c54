/**
 * The README and the pages under docs/ stay true: the README's library example runs against the
 * real API (with a shorter budget), its table lists exactly the CLI's commands, the ONNX Runtime
 * example of docs/interop.md runs on an exported model, and every relative link in the README and
 * docs/ points at a file (and a heading) that exists.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/main.ts";
import { runCli, testTempDir } from "./helpers.ts";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const interop = readFileSync(join(root, "docs", "interop.md"), "utf8");

/** The Markdown files whose links are checked: the README, every page under docs/, bench/README.md. */
const pages = ["README.md", "bench/README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lower case, punctuation but "-" and "_" dropped, spaces as "-". */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (m !== null) out.add(anchor(m[1]!));
  }
  return out;
}

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

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(root, page), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        const [file, hash] = target!.split("#") as [string, string | undefined];
        const path = file === "" ? join(root, page) : join(root, dirname(page), file);
        if (!existsSync(path)) broken.push(`${page}: ${target} (no such file)`);
        else if (hash !== undefined && path.endsWith(".md") && !anchors(readFileSync(path, "utf8")).has(hash)) {
          broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("docs/interop.md", () => {
  it("has an ONNX Runtime sampling example that runs on an exported model", async () => {
    const section = interop.slice(interop.indexOf("## Running a model elsewhere: ONNX"));
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
