/**
 * The `bptt` command end to end through `main` (output captured), plus one real process run of bin/bptt.js.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import { runCli, suiteTempDir } from "./helpers.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { paramSpecs } from "../src/model/params.ts";
import { batchFromSequences } from "../src/model/batch.ts";
import { referenceForward, referenceLossAndGrads, referenceStepGradients, stepSliceNorms } from "../src/reference/lm.ts";

const bptt = runCli;

const dir = suiteTempDir("bptt-cli-");

describe("bptt (no command, help, unknown)", () => {
  it("lists the commands on --help and exits 0", async () => {
    const r = await bptt("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/init[\s\S]*grad[\s\S]*gradcheck/);
  });
  it("exits 2 with usage on stderr without a command", async () => {
    const r = await bptt();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: bptt COMMAND/);
  });
  it("exits 2 on an unknown command", async () => {
    const r = await bptt("trian");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "trian"/);
  });
  it("every command has --help", async () => {
    for (const name of ["init", "grad", "gradcheck"]) {
      const r = await bptt(name, "--help");
      expect(r.code, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: bptt ${name}`));
      expect(r.stdout).toMatch(/--help/);
    }
  });
});

describe("bptt init", () => {
  it("writes a deterministic model for a seed", async () => {
    const a = join(dir, "a.safetensors");
    const b = join(dir, "b.safetensors");
    expect((await bptt("init", "--vocab-size", "6", "--hidden", "5", "--layers", "2", "--seed", "7", "--out", a)).code).toBe(0);
    expect((await bptt("init", "--vocab-size", "6", "--hidden", "5", "--layers", "2", "--seed", "7", "--out", b)).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const ckpt = loadCheckpoint(a);
    expect(ckpt.config).toEqual({ cell: "lstm", nonlinearity: "tanh", layers: 2, hiddenSize: 5, vocabSize: 6, bias: true }); // the option table's cell
    const bound = 1 / Math.sqrt(5);
    expect(ckpt.params.every((x) => Math.abs(x) <= bound)).toBe(true);
  });
  it("takes the vocabulary from --data and honours --no-bias", async () => {
    const text = join(dir, "text.txt");
    writeFileSync(text, "hello 世界 😀\n");
    const out = join(dir, "v.safetensors");
    const r = await bptt("init", "--data", text, "--hidden", "3", "--no-bias", "--cell", "rnn", "--nonlinearity", "relu", "--out", out);
    expect(r.code).toBe(0);
    const ckpt = loadCheckpoint(out);
    expect(ckpt.vocab).toEqual(["\n", " ", "e", "h", "l", "o", "世", "界", "😀"]);
    expect(ckpt.config.bias).toBe(false);
    expect(ckpt.config.nonlinearity).toBe("relu");
  });
  it("refuses to overwrite without --force, and bad flags with exit 2", async () => {
    const out = join(dir, "c.safetensors");
    expect((await bptt("init", "--vocab-size", "3", "--hidden", "2", "--out", out)).code).toBe(0);
    const again = await bptt("init", "--vocab-size", "3", "--hidden", "2", "--out", out);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; pass --force/);
    expect((await bptt("init", "--vocab-size", "3", "--hidden", "2", "--out", out, "--force")).code).toBe(0);
    const both = await bptt("init", "--out", join(dir, "d.safetensors"));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --vocab-size V or --data FILE/);
    const badHidden = await bptt("init", "--vocab-size", "3", "--hidden", "0", "--out", join(dir, "e.safetensors"));
    expect(badHidden.code).toBe(2);
    expect(badHidden.stderr).toMatch(/--hidden must be an integer in \[1, 16384\]; received "0"/);
    const badNl = await bptt("init", "--vocab-size", "3", "--nonlinearity", "gelu", "--out", join(dir, "e.safetensors"));
    expect(badNl.stderr).toMatch(/--nonlinearity must be one of tanh, relu, sigmoid; received "gelu"/);
  });
  it("fails with exit 1 and a message for a missing data file", async () => {
    const r = await bptt("init", "--data", join(dir, "missing.txt"), "--out", join(dir, "f.safetensors"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\.txt/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });
});

describe("bptt grad", () => {
  let model: string;
  let lstm: string;
  beforeAll(async () => {
    model = join(dir, "g.safetensors");
    await bptt("init", "--vocab-size", "7", "--hidden", "4", "--layers", "2", "--cell", "rnn", "--nonlinearity", "sigmoid", "--seed", "3", "--out", model);
    lstm = join(dir, "g-lstm.safetensors");
    await bptt("init", "--vocab-size", "7", "--hidden", "4", "--layers", "2", "--cell", "lstm", "--seed", "3", "--out", lstm);
  });

  it("prints the loss and writes gradients under the parameter names, equal to the reference", async () => {
    const out = join(dir, "grads.safetensors");
    const r = await bptt("grad", "--model", model, "--tokens", "3,1,4,1,5,6", "--out", out);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { loss: number; T: number; B: number };
    const ckpt = loadCheckpoint(model);
    const ref = referenceLossAndGrads(ckpt.config, Float64Array.from(ckpt.params), batchFromSequences([[3, 1, 4, 1, 5, 6]]));
    expect(report.loss).toBe(ref.loss);
    expect(report.T).toBe(5);
    const file = parseSafetensors(new Uint8Array(readFileSync(out)), out);
    const specs = paramSpecs(ckpt.config);
    expect([...file.tensors.keys()]).toEqual(specs.map((s) => s.name));
    for (const s of specs) {
      const t = file.tensors.get(s.name)!;
      expect(t.dtype).toBe("F64");
      expect(t.shape).toEqual(s.shape);
      expect(Array.from(t.data)).toEqual(Array.from(ref.grads.subarray(s.offset, s.offset + s.size)));
    }
  });

  it("takes a batch from @file.json and sums the loss over it", async () => {
    const file = join(dir, "batch.json");
    writeFileSync(file, "[[3,1,4],[1,5,9]]".replace("9", "6"));
    const r = await bptt("grad", "--model", model, "--tokens", `@${file}`);
    expect(r.code).toBe(0);
    const one = JSON.parse((await bptt("grad", "--model", model, "--tokens", "3,1,4")).stdout) as { loss: number };
    const two = JSON.parse((await bptt("grad", "--model", model, "--tokens", "1,5,6")).stdout) as { loss: number };
    const both = JSON.parse(r.stdout) as { loss: number; B: number };
    expect(both.B).toBe(2);
    expect(both.loss).toBeCloseTo(one.loss + two.loss, 12);
  });

  it("--from-step t prints E_t and ‖∂E_t/∂h_k‖ (and the LSTM's c_k) per layer for k = 0..t, as the reference's series", async () => {
    const tokens = [3, 1, 4, 1, 5, 6];
    for (const [m, states] of [[model, ["h"]], [lstm, ["h", "c"]]] as const) {
      const r = await bptt("grad", "--model", m, "--tokens", tokens.join(","), "--from-step", "4", "--json");
      expect(r.code, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as { loss: number; step: number; layers: Record<string, number[]>[] };
      const ckpt = loadCheckpoint(m);
      const batch = batchFromSequences([tokens]);
      const want = referenceStepGradients(referenceForward(ckpt.config, Float64Array.from(ckpt.params), batch), 4);
      expect(got.step).toBe(4);
      expect(got.loss).toBe(want.loss);
      expect(got.layers).toHaveLength(2);
      got.layers.forEach((layer, l) => {
        expect(Object.keys(layer)).toEqual(states);
        for (const name of states) expect(layer[name]).toEqual([...stepSliceNorms(want.layers[l]?.[name] ?? new Float64Array(0), 1, 4)]);
        expect(layer["h"]).toHaveLength(5); // k = 0..4
      });
    }
  });

  it("--from-step outside 1..T, or with --out or --engine fast, is a usage error (exit 2, one line)", async () => {
    for (const args of [["--from-step", "6"], ["--from-step", "0"], ["--from-step", "2", "--out", join(dir, "x.safetensors")], ["--from-step", "2", "--engine", "fast"]]) {
      const r = await bptt("grad", "--model", model, "--tokens", "3,1,4,1,5,6", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  it("--engine fast agrees with the reference to float32 precision", async () => {
    const ref = JSON.parse((await bptt("grad", "--model", model, "--tokens", "3,1,4,1,5")).stdout) as { loss: number };
    const fast = JSON.parse((await bptt("grad", "--model", model, "--tokens", "3,1,4,1,5", "--engine", "fast")).stdout) as { loss: number };
    expect(Math.abs(fast.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
  });

  it("gives clear errors for bad tokens", async () => {
    const cases: [string, RegExp][] = [
      ["3,1,99", /target token 99 at t=1, b=0 is out of range for vocabSize 7/],
      ["3", /sequence 0 has 1 token\(s\); expected at least 2/],
      ["3,,4", /position 1 .*expected a non-negative integer token id/],
      ["3,-1", /expected a non-negative integer token id; received -1/],
      ["3,1.5", /received 1.5/],
      [`@${join(dir, "nope.json")}`, /cannot read token file/],
    ];
    for (const [tokens, pattern] of cases) {
      const r = await bptt("grad", "--model", model, "--tokens", tokens);
      expect(r.code, tokens).toBe(1);
      expect(r.stderr, tokens).toMatch(pattern);
    }
    const ragged = join(dir, "ragged.json");
    writeFileSync(ragged, "[[1,2,3],[1,2]]");
    expect((await bptt("grad", "--model", model, "--tokens", `@${ragged}`)).stderr).toMatch(/sequence 1 has 2 tokens; expected 3/);
    const notJson = join(dir, "bad.json");
    writeFileSync(notJson, "[[1,2");
    expect((await bptt("grad", "--model", model, "--tokens", `@${notJson}`)).stderr).toMatch(/is not valid JSON/);
  });

  it("fails cleanly on a file that is not a checkpoint", async () => {
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "this is not a checkpoint at all");
    const r = await bptt("grad", "--model", junk, "--tokens", "1,2");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/junk\.safetensors/);
  });
});

describe("bptt gradcheck", () => {
  it("passes on a random model and prints every tensor", async () => {
    const r = await bptt("gradcheck", "--layers", "2", "--seq-length", "4");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PASS/);
    for (const name of ["rnn.weight_ih_l0", "rnn.weight_hh_l1", "fc.weight", "fc.bias", "h0"]) expect(r.stdout).toContain(name);
  });
  it("prints JSON with --json", async () => {
    const r = await bptt("gradcheck", "--cell", "rnn", "--layers", "1", "--no-bias", "--json");
    const report = JSON.parse(r.stdout) as { ok: boolean; tensors: { tensor: string; fd: number }[] };
    expect(report.ok).toBe(true);
    expect(report.tensors.map((t) => t.tensor)).toEqual(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight", "h0"]);
    expect(Math.max(...report.tensors.map((t) => t.fd))).toBeLessThan(1e-7);
  });
});

describe("--cell lstm | gru", () => {
  it("bptt init writes PyTorch's gated layout, and says which cell it made", async () => {
    for (const [cell, G, title] of [["lstm", 4, "LSTM"], ["gru", 3, "GRU"]] as const) {
      const out = join(dir, `${cell}.safetensors`);
      const r = await bptt("init", "--vocab-size", "6", "--hidden", "5", "--layers", "2", "--cell", cell, "--out", out);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`2×${title}, H=5`));
      const ckpt = loadCheckpoint(out);
      expect(ckpt.config).toEqual({ cell, nonlinearity: "tanh", layers: 2, hiddenSize: 5, vocabSize: 6, bias: true });
      const shapes = Object.fromEntries(paramSpecs(ckpt.config).map((s) => [s.name, s.shape]));
      expect(shapes["rnn.weight_ih_l0"]).toEqual([G * 5, 6]);
      expect(shapes["rnn.weight_hh_l1"]).toEqual([G * 5, 5]);
      expect(shapes["rnn.bias_hh_l1"]).toEqual([G * 5]);
    }
  });
  it("refuses --nonlinearity other than tanh with a gated cell, saying why, and an unknown cell", async () => {
    const r = await bptt("init", "--vocab-size", "6", "--cell", "lstm", "--nonlinearity", "relu", "--out", join(dir, "x.safetensors"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--nonlinearity relu does not apply to --cell lstm: its gates use σ and its candidate and output tanh/);
    const g = await bptt("gradcheck", "--cell", "gru", "--nonlinearity", "sigmoid");
    expect(g.code).toBe(2);
    const unknown = await bptt("init", "--vocab-size", "6", "--cell", "transformer", "--out", join(dir, "y.safetensors"));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--cell must be one of rnn, lstm, gru; received "transformer"/);
  });
  it("--forget-bias sets the LSTM's f block of b_ih (b_hh's to 0), and is refused without a forget gate", async () => {
    const out = join(dir, "fb.safetensors");
    expect((await bptt("init", "--vocab-size", "6", "--hidden", "5", "--layers", "2", "--cell", "lstm", "--forget-bias", "1", "--out", out)).code).toBe(0);
    const ckpt = loadCheckpoint(out);
    for (const s of paramSpecs(ckpt.config).filter((p) => p.name.startsWith("rnn.bias_"))) {
      const bias = Array.from(ckpt.params.subarray(s.offset, s.offset + s.size));
      expect(bias.slice(5, 10), s.name).toEqual(Array.from({ length: 5 }, () => (s.name.startsWith("rnn.bias_ih") ? 1 : 0)));
      expect(bias.slice(0, 5).every((v) => v !== 0 && Math.abs(v) <= 1 / Math.sqrt(5)), s.name).toBe(true); // i: PyTorch's draw
    }
    const gru = await bptt("init", "--vocab-size", "6", "--cell", "gru", "--forget-bias", "1", "--out", join(dir, "fb-gru.safetensors"));
    expect(gru.code).toBe(1);
    expect(gru.stderr).toMatch(/a forget-gate bias needs a cell with a forget gate \(lstm\); this model is gru/);
  });
  it("bptt gradcheck checks c0 too", async () => {
    const r = await bptt("gradcheck", "--cell", "lstm", "--layers", "2", "--seq-length", "3", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; tensors: { tensor: string; fd: number; fast: number }[] };
    expect(report.ok).toBe(true);
    expect(report.tensors.map((t) => t.tensor).slice(-2)).toEqual(["h0", "c0"]);
    expect(Math.max(...report.tensors.map((t) => t.fd))).toBeLessThan(1e-7);
    expect(Math.max(...report.tensors.map((t) => t.fast))).toBeLessThan(1e-4);
  });
  it("bptt grad reads the cell from the checkpoint and equals the reference", async () => {
    const model = join(dir, "gru.safetensors");
    const r = await bptt("grad", "--model", model, "--tokens", "1,2,3,4,5,0,1");
    expect(r.code).toBe(0);
    const ckpt = loadCheckpoint(model);
    const want = referenceLossAndGrads(ckpt.config, Float64Array.from(ckpt.params), batchFromSequences([[1, 2, 3, 4, 5, 0, 1]]));
    expect((JSON.parse(r.stdout) as { loss: number }).loss).toBeCloseTo(want.loss, 12);
  });
});

describe("bin/bptt.js", () => {
  const bin = join(import.meta.dirname, "..", "bin", "bptt.js");

  it("runs as a real process with exit codes", () => {
    expect(execFileSync(process.execPath, [bin, "--version"]).toString()).toMatch(/^\d+\.\d+\.\d+/);
    const bad = spawnSync(process.execPath, [bin, "grad", "--model"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--model/);
  });

  it("loads the FMA build of the kernels, unless BPTT_WASM_FMA=0 (enableWasmFma, which it calls first)", () => {
    // a plain Node process, as the command runs: no flags from vitest's own workers
    const dist = join(import.meta.dirname, "..", "dist", "kernels");
    const script =
      `const { enableWasmFma } = await import(${JSON.stringify(join(dist, "fma-flag.js"))});` +
      `const set = enableWasmFma();` +
      `const { defaultWasmBuild } = await import(${JSON.stringify(join(dist, "wasm.js"))});` +
      `console.log(JSON.stringify({ set, build: defaultWasmBuild() }));`;
    const run = (fma: string | undefined): unknown => {
      const env = { ...process.env };
      delete env["BPTT_WASM_FMA"];
      if (fma !== undefined) env["BPTT_WASM_FMA"] = fma;
      return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { env }).toString());
    };
    const flagNeeded = Number(process.versions.node.split(".")[0]) < 22;
    expect(run(undefined)).toEqual({ set: flagNeeded, build: "fma" });
    expect(run("0")).toEqual({ set: false, build: "simd" });
  });

  it("says so on stderr when the WebAssembly kernels cannot run and the portable ones stand in", () => {
    const model = join(dir, "portable.safetensors");
    const text = join(dir, "portable.txt");
    writeFileSync(text, "abcd\n");
    execFileSync(process.execPath, [bin, "init", "--data", text, "--hidden", "4", "--out", model], { stdio: "pipe" });
    const sampleWith = (nodeFlags: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [...nodeFlags, bin, "sample", "--model", model, "--length", "12"], { encoding: "utf8", env: { ...process.env, ...env } });
    // --jitless: a Node without WebAssembly (Node warns that it disables --expose_wasm)
    const slow = sampleWith(["--jitless"]);
    expect(slow.status, slow.stderr).toBe(0);
    expect(slow.stderr).toMatch(/^warning: the WebAssembly kernels cannot run here \(this runtime lacks WebAssembly SIMD or shared memory\); running on the portable TypeScript kernels/m);
    expect(slow.stdout).toHaveLength(13);
    const fast = sampleWith([]);
    expect(fast.status).toBe(0);
    expect(fast.stderr).toBe("");
    expect(fast.stdout).toHaveLength(13);
    expect(sampleWith([], { BPTT_KERNELS: "portable" }).stderr).toBe(""); // asked for: no warning
  });
});
