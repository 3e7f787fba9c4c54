/**
 * Each command's flags, --help and checks come from its option table: the defaults --help shows
 * are the tables' (the library's, where the command shares an entry), and a shared entry with a
 * narrower range (gradcheck's) is checked by that range.
 */
import { describe, expect, it } from "vitest";
import { SAMPLE_SCHEMA } from "../model/sample.ts";
import { helpLine } from "../option-table.ts";
import { TRAIN_SCHEMA } from "../train/schema.ts";
import type { CliIO } from "./args.ts";
import { COMMANDS, main } from "./main.ts";

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stderrIsTTY: false };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** The help line of one flag in a command's --help. */
function helpOf(help: string, flag: string): string | undefined {
  return help.split("\n").find((line) => new RegExp(`^ {2}--${flag}( |$)`).test(line))?.replace(/^ {2}--\S+( [A-Z|@]+)? +/, "");
}

describe("the commands' option tables", () => {
  it("give `bptt sample` the flags, help and defaults of `generate`'s table", async () => {
    const { stdout } = await run("sample", "--help");
    for (const def of Object.values(SAMPLE_SCHEMA)) expect(helpOf(stdout, def.flag), def.flag).toBe(helpLine(def));
    expect(helpOf(stdout, "temperature")).toBe("softmax temperature >= 0 (default 1; 0 = argmax)");
    expect(helpOf(stdout, "model")).toBe("model checkpoint (required)");
  });

  it("give `bptt gradcheck` the training table's entries with its own defaults and ranges", async () => {
    const { stdout } = await run("gradcheck", "--help");
    expect(helpOf(stdout, "hidden")).toBe("hidden units per layer (default 5)");
    expect(helpOf(stdout, "layers")).toBe(helpLine(TRAIN_SCHEMA.layers));
    expect(helpOf(stdout, "seq-length")).toBe("time steps (default 5)");
    expect(helpOf(stdout, "batch-size")).toBe("sequences (default 2)");
    expect(helpOf(stdout, "seed")).toBe("random seed (default 1)");
    const long = await run("gradcheck", "--seq-length", "1001");
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--seq-length must be an integer in \[1, 1000\]; received "1001"/);
    expect((await run("gradcheck", "--batch-size", "101")).stderr).toMatch(/--batch-size must be an integer in \[1, 100\]; received "101"/);
    expect((await run("gradcheck", "--hidden", "0")).stderr).toMatch(/--hidden must be an integer in \[1, 16384\]; received "0"/);
  });

  it("give `bptt train` every option of the training table, with its help line", async () => {
    const { stdout } = await run("train", "--help");
    for (const def of Object.values(TRAIN_SCHEMA)) expect(helpOf(stdout, def.flag), def.flag).toBe(helpLine(def));
    expect(helpOf(stdout, "out")).toBe("checkpoint file (default model.safetensors, or the --resume file)");
  });

  it("give every command a help line for each of its flags, and refuse a required one left out", async () => {
    for (const command of COMMANDS) {
      const { stdout } = await run(command.name, "--help");
      for (const [flag, spec] of Object.entries(command.options)) expect(helpOf(stdout, flag), `${command.name} --${flag}`).toBe(spec.help);
    }
    expect((await run("grad", "--model", "m.safetensors")).stderr).toMatch(/--tokens is required \(e\.g\. --tokens 3,1,4,1,5\)/);
    expect((await run("grad", "--model", "m.safetensors", "--tokens", "1,2", "--dtype", "f16")).stderr).toMatch(/--dtype must be one of f64, f32; received "f16"/);
    expect((await run("export", "--out", "x.onnx")).stderr).toMatch(/--model is required/);
  });
});
