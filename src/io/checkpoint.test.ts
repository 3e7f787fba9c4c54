import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf } from "../cells/index.ts";
import { CheckpointError, ConfigError, ShapeError } from "../errors.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramCount, paramSpecs } from "../model/params.ts";
import { Rng } from "../rng.ts";
import { checkpointFromBytes, checkpointToBytes, checkpointToParts, modelTensors, type Checkpoint } from "./checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint-file.ts";
import { parseSafetensors, serializeSafetensors, type Tensor } from "./safetensors.ts";

const base: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: 4, vocabSize: 5, bias: true };
const VOCAB = ["a", "b", "c", "\n", "😀"];

function makeCkpt(over: Partial<ModelConfig> = {}, seed = 1, rest: Partial<Checkpoint> = {}): Checkpoint {
  const config = { ...base, ...over };
  const params = new Float32Array(paramCount(config));
  initParams(params, config, new Rng(seed));
  return {
    config,
    vocab: config.vocabSize === 5 ? VOCAB : undefined,
    params,
    extra: new Map(),
    metadata: {},
    ...rest,
  };
}

/** A checkpoint file with its model tensors replaced or edited, for rejection tests. */
function forge(
  edit: (tensors: [string, Tensor][]) => [string, Tensor][],
  metadata: Record<string, string> = { format: "bptt", config: JSON.stringify(base), vocab: JSON.stringify(VOCAB) },
  config: ModelConfig = base,
): Uint8Array {
  const ckpt = makeCkpt(config);
  return serializeSafetensors(edit(modelTensors(config, ckpt.params, "F32")), metadata);
}

function loadError(bytes: Uint8Array): CheckpointError {
  try {
    checkpointFromBytes(bytes, "m.safetensors");
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toMatch(/^m\.safetensors: /);
    return e as CheckpointError;
  }
  throw new Error("expected a CheckpointError, but the checkpoint loaded");
}

describe("checkpoint round trip", () => {
  const variants: [string, Partial<ModelConfig>][] = [
    ["1 layer, bias", {}],
    ["1 layer, no bias (the article's model)", { bias: false }],
    ["2 layers, bias, relu", { layers: 2, nonlinearity: "relu" }],
    ["2 layers, no bias, sigmoid, no vocab", { layers: 2, bias: false, nonlinearity: "sigmoid", vocabSize: 7, hiddenSize: 3 }],
    ["LSTM, 2 layers", { cell: "lstm", layers: 2 }],
    ["GRU, no bias", { cell: "gru", bias: false }],
    // and every registered cell
    ...CELL_NAMES.map((cell): [string, Partial<ModelConfig>] => [`${cell}, 2 layers`, { cell, layers: 2, nonlinearity: cellOf(cell).nonlinearities[0] }]),
  ];
  for (const [name, over] of variants) {
    it(name, () => {
      // a run's carried state, (L, B = 2, H) per state tensor under the cell's checkpoint name
      const { cell, layers: L, hiddenSize: H } = { ...base, ...over };
      const carried = cellOf(cell).stateKeys.map((key, s): [string, Tensor] => [
        key, { dtype: "F32", shape: [L, 2, H], data: Float32Array.from({ length: L * 2 * H }, (_, i) => s + i / 8) },
      ]);
      const ckpt = makeCkpt(over, 42, {
        extra: new Map<string, Tensor>([
          ["optim.m.fc.weight", { dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
          ["optim.step", { dtype: "F64", shape: [], data: Float64Array.of(17) }],
          ...carried,
        ]),
        metadata: { train: JSON.stringify({ lr: 0.01, step: 17 }), note: "hi" },
      });
      const back = checkpointFromBytes(checkpointToBytes(ckpt), "m.safetensors");
      expect(back.config).toEqual(ckpt.config);
      expect(back.vocab).toEqual(ckpt.vocab);
      expect([...new Uint32Array(back.params.buffer)]).toEqual([...new Uint32Array(ckpt.params.buffer)]); // bit-exact
      expect(back.extra).toEqual(ckpt.extra);
      expect(back.metadata).toEqual(ckpt.metadata);
      // and once more: a loaded checkpoint saves to the same bytes
      expect(checkpointToBytes(back)).toEqual(checkpointToBytes(ckpt));
    });
  }

  it("writes the layout of docs/architecture.md, Checkpoints: F32 model tensors in paramSpecs order, then extras; format, config, vocab metadata", () => {
    const config: ModelConfig = { ...base, layers: 2 };
    const ckpt = makeCkpt(config, 3, {
      extra: new Map([["optim.v", { dtype: "F32", shape: [1], data: Float32Array.of(0) } as Tensor]]),
      metadata: { train: "{}" },
    });
    const file = parseSafetensors(checkpointToBytes(ckpt), "x");
    const specs = paramSpecs(config);
    expect([...file.tensors.keys()]).toEqual([...specs.map((s) => s.name), "optim.v"]);
    expect([...file.tensors.keys()].slice(0, 4)).toEqual(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"]);
    for (const s of specs) {
      const t = file.tensors.get(s.name)!;
      expect(t.dtype).toBe("F32");
      expect(t.shape).toEqual(s.shape);
      expect([...t.data]).toEqual([...ckpt.params.subarray(s.offset, s.offset + s.size)]);
    }
    expect(file.tensors.get("rnn.weight_ih_l0")!.shape).toEqual([4, 5]);
    expect(file.tensors.get("rnn.weight_ih_l1")!.shape).toEqual([4, 4]);
    expect(file.tensors.get("fc.weight")!.shape).toEqual([5, 4]);
    expect(file.metadata).toEqual({
      format: "bptt",
      config: '{"cell":"rnn","nonlinearity":"tanh","layers":2,"hiddenSize":4,"vocabSize":5,"bias":true}',
      vocab: '["a","b","c","\\n","😀"]',
      train: "{}",
    });
  });

  it("accepts F64, F16 and BF16 model tensors (e.g. a half-precision PyTorch save) and converts them to float32", () => {
    const bytes = forge((ts) =>
      ts.map(([name, t]): [string, Tensor] => {
        if (name === "fc.weight") return [name, { dtype: "F64", shape: t.shape, data: Float64Array.from(t.data, (x) => x + 1e-12) }];
        return [name, t];
      }),
    );
    const ckpt = checkpointFromBytes(bytes, "m.safetensors");
    const s = paramSpecs(base).find((p) => p.name === "fc.weight")!;
    expect([...ckpt.params.subarray(s.offset, s.offset + s.size)]).toEqual([...makeCkpt().params.subarray(s.offset, s.offset + s.size)]);

    // fc.bias [5] as F16 = 1, -2, 0.5, 0, 65504; rnn.bias_ih_l0 [4] as BF16 = 1, 3.140625, -1, 0
    const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x00, 0xff, 0x7b]);
    const bf16 = new Uint8Array([0x80, 0x3f, 0x49, 0x40, 0x80, 0xbf, 0x00, 0x00]);
    const half = patchDtypes(forge((ts) => ts), { "fc.bias": ["F16", f16], "rnn.bias_ih_l0": ["BF16", bf16] });
    const c2 = checkpointFromBytes(half, "m.safetensors");
    const fcb = paramSpecs(base).find((p) => p.name === "fc.bias")!;
    const bih = paramSpecs(base).find((p) => p.name === "rnn.bias_ih_l0")!;
    expect([...c2.params.subarray(fcb.offset, fcb.offset + fcb.size)]).toEqual([1, -2, 0.5, 0, 65504]);
    expect([...c2.params.subarray(bih.offset, bih.offset + bih.size)]).toEqual([1, 3.140625, -1, 0]);
  });

  it("reads a file whose tensors are in another order (e.g. sorted by name, as the Python writer does)", () => {
    const bytes = forge((ts) => [...ts].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    const ckpt = checkpointFromBytes(bytes, "m.safetensors");
    expect(ckpt.params).toEqual(makeCkpt().params);
  });

  it("a file without vocab loads with vocab undefined", () => {
    const bytes = forge((ts) => ts, { format: "bptt", config: JSON.stringify(base) });
    expect(checkpointFromBytes(bytes, "m.safetensors").vocab).toBeUndefined();
  });
});

/**
 * Rewrite some tensors of a serialized file with another dtype and raw little-endian bytes
 * (our writer only emits F32/F64, but PyTorch users save F16/BF16).
 */
function patchDtypes(bytes: Uint8Array, patch: Record<string, [string, Uint8Array]>): Uint8Array {
  const file = parseSafetensors(bytes, "x");
  const header: Record<string, unknown> = { __metadata__: file.metadata };
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of file.tensors) {
    const p = patch[name];
    const raw = p ? p[1] : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: p ? p[0] : t.dtype, shape: t.shape, data_offsets: [at, at + raw.length] };
    chunks.push(raw);
    at += raw.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let o = 8 + h.length;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

describe("gated cells' configs", () => {
  it.each(CELL_NAMES.filter((name) => cellOf(name).nonlinearities.length === 1))("%s: loads without a nonlinearity key (the cell has no choice)", (cell) => {
    const config: ModelConfig = { ...base, cell, nonlinearity: cellOf(cell).nonlinearities[0] };
    const { nonlinearity: _, ...withoutKey } = config;
    const ckpt = checkpointFromBytes(forge((ts) => ts, { format: "bptt", config: JSON.stringify(withoutKey), vocab: JSON.stringify(VOCAB) }, config), "m.safetensors");
    expect(ckpt.config).toEqual(config);
  });
});

describe("checkpointFromBytes rejects inconsistent checkpoints", () => {
  const meta = (over: Record<string, string | undefined>): Record<string, string> => {
    const m: Record<string, string | undefined> = { format: "bptt", config: JSON.stringify(base), vocab: JSON.stringify(VOCAB), ...over };
    return Object.fromEntries(Object.entries(m).filter((e): e is [string, string] => e[1] !== undefined));
  };
  const same = (ts: [string, Tensor][]): [string, Tensor][] => ts;
  const replace = (name: string, t: Tensor) => (ts: [string, Tensor][]): [string, Tensor][] =>
    ts.map(([n, old]): [string, Tensor] => [n, n === name ? t : old]);
  const poison = (name: string, index: number, value: number, dtype: "F32" | "F64" = "F32") => (ts: [string, Tensor][]): [string, Tensor][] =>
    ts.map(([n, t]): [string, Tensor] => {
      if (n !== name) return [n, t];
      const data = dtype === "F32" ? Float32Array.from(t.data) : Float64Array.from(t.data);
      data[index] = value;
      return [n, dtype === "F32" ? { dtype, shape: t.shape, data: data as Float32Array } : { dtype, shape: t.shape, data: data as Float64Array }];
    });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ["format missing (a plain PyTorch save)", () => forge(same, {}), /metadata has no "format"; expected "bptt"\. A PyTorch state dict needs metadata format\/config\/vocab: save_file\(/],
    ["format wrong", () => forge(same, meta({ format: "gguf" })), /metadata format is "gguf"; expected "bptt"/],
    ["config missing", () => forge(same, meta({ config: undefined })), /metadata has no "config"/],
    ["config not JSON", () => forge(same, meta({ config: "{hiddenSize: 4}" })), /metadata config is not JSON/],
    ["config a JSON array", () => forge(same, meta({ config: "[4, 5]" })), /config must be a JSON object; received \[4,5\]/],
    ["config missing a field", () => forge(same, meta({ config: JSON.stringify({ ...base, hiddenSize: undefined }) })), /config\.hiddenSize must be an integer; received nothing/],
    ["absurd hiddenSize 1e9", () => forge(same, meta({ config: JSON.stringify({ ...base, hiddenSize: 1e9 }) })), /hiddenSize must be an integer in \[1, 16384\]; received 1000000000/],
    ["absurd model size", () => forge(same, meta({ config: JSON.stringify({ ...base, layers: 64, hiddenSize: 16384 }) })), /need \d+ parameters; at most \d+ are supported/],
    ["unknown cell", () => forge(same, meta({ config: JSON.stringify({ ...base, cell: "transformer" }) })), new RegExp(`config\\.cell must be one of ${CELL_NAMES.map((c) => `"${c}"`).join(", ")}; received "transformer"`)],
    [
      "an RNN's weights under an LSTM config",
      () => forge(same, meta({ config: JSON.stringify({ ...base, cell: "lstm" }) })),
      /rnn\.weight_ih_l0 has shape \[4, 5\]; expected \[16, 5\] for cell lstm \(4 gate blocks: i, f, g, o\), hiddenSize 4, vocabSize 5/,
    ],
    [
      "relu for a GRU",
      () => forge(same, meta({ config: JSON.stringify({ ...base, cell: "gru", nonlinearity: "relu" }) })),
      /config\.nonlinearity must be tanh for cell gru \(its gates use σ and tanh\); received "relu"/,
    ],
    ["vocab not JSON", () => forge(same, meta({ vocab: "[a, b]" })), /metadata vocab is not JSON/],
    ["vocab not an array", () => forge(same, meta({ vocab: '"abcde"' })), /vocab is "abcde"; expected a JSON array of 5 strings/],
    ["vocab too short", () => forge(same, meta({ vocab: JSON.stringify(["a", "b"]) })), /vocab has 2 symbols; expected vocabSize = 5/],
    ["vocab too long", () => forge(same, meta({ vocab: JSON.stringify([...VOCAB, "z"]) })), /vocab has 6 symbols; expected vocabSize = 5/],
    ["vocab duplicates", () => forge(same, meta({ vocab: JSON.stringify(["a", "b", "a", "c", "d"]) })), /vocab\[2\] = "a" appears twice/],
    ["vocab empty symbol", () => forge(same, meta({ vocab: JSON.stringify(["a", "", "b", "c", "d"]) })), /vocab\[1\] is ""; expected a non-empty string/],
    ["vocab non-string symbol", () => forge(same, meta({ vocab: JSON.stringify(["a", 1, "b", "c", "d"]) })), /vocab\[1\] is 1/],
    ["missing tensor", () => forge((ts) => ts.filter(([n]) => n !== "rnn.weight_hh_l0")), /has no tensor rnn\.weight_hh_l0 \[4, 4\]; expected it for cell rnn, layers 1, hiddenSize 4/],
    ["missing bias", () => forge((ts) => ts.filter(([n]) => n !== "fc.bias")), /has no tensor fc\.bias \[5\]/],
    [
      "fc.weight from a smaller model",
      () => forge(replace("fc.weight", { dtype: "F32", shape: [5, 3], data: new Float32Array(15) })),
      /fc\.weight has shape \[5, 3\]; expected \[5, 4\] for vocabSize 5, hiddenSize 4/,
    ],
    [
      "transposed weight",
      () => forge(replace("rnn.weight_ih_l0", { dtype: "F32", shape: [5, 4], data: new Float32Array(20) })),
      /rnn\.weight_ih_l0 has shape \[5, 4\]; expected \[4, 5\] for hiddenSize 4, vocabSize 5/,
    ],
    ["flattened weight", () => forge(replace("rnn.weight_hh_l0", { dtype: "F32", shape: [16], data: new Float32Array(16) })), /rnn\.weight_hh_l0 has shape \[16\]; expected \[4, 4\] for hiddenSize 4/],
    ["NaN weight", () => forge(poison("rnn.weight_hh_l0", 5, NaN)), /rnn\.weight_hh_l0\[5\] is NaN; expected finite weights/],
    ["Inf weight", () => forge(poison("fc.weight", 19, Infinity)), /fc\.weight\[19\] is Infinity; expected finite weights/],
    ["-Inf bias", () => forge(poison("fc.bias", 0, -Infinity)), /fc\.bias\[0\] is -Infinity/],
    ["F64 NaN", () => forge(poison("rnn.bias_hh_l0", 2, NaN, "F64")), /rnn\.bias_hh_l0\[2\] is NaN/],
    ["F64 beyond float32 range", () => forge(poison("rnn.weight_ih_l0", 3, 1e39, "F64")), /rnn\.weight_ih_l0\[3\] is 1e\+39, beyond float32 range; expected finite weights/],
    [
      "bias tensors in a bias:false file",
      () => forge(same, meta({ config: JSON.stringify({ ...base, bias: false }) })),
      /has tensor rnn\.bias_ih_l0 but config says bias: false/,
    ],
    [
      "a second layer in a 1-layer file",
      () => forge((ts) => [...ts, ["rnn.weight_hh_l1", { dtype: "F32", shape: [4, 4], data: new Float32Array(16) }]]),
      /has tensor rnn\.weight_hh_l1 but config says layers 1/,
    ],
    ["unsupported dtype (I32) for a model tensor", () => patchDtypes(forge(same), { "fc.bias": ["I32", new Uint8Array(20)] }), /unsupported dtype I32 for tensor "fc\.bias"/],
  ];
  for (const [name, make, message] of cases) {
    it(name, () => {
      expect(loadError(make()).message).toMatch(message);
    });
  }

  it("unknown tensors are kept in extra, not refused", () => {
    const bytes = forge((ts) => [...ts, ["adam.m", { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) }]]);
    expect([...checkpointFromBytes(bytes, "m.safetensors").extra.keys()]).toEqual(["adam.m"]);
  });

  it("a tiny file claiming a huge (but allowed) config is refused before allocating its parameters", () => {
    const big = { ...base, hiddenSize: 16384, vocabSize: 8000, layers: 1 }; // 530.6M parameters, just under MAX_PARAMS
    const bytes = forge(same, meta({ config: JSON.stringify(big), vocab: undefined }));
    expect(loadError(bytes).message).toMatch(/has no tensor rnn\.weight_ih_l0 \[16384, 8000\]|has shape \[4, 5\]; expected \[16384, 8000\]/);
  });
});

/**
 * Checkpoints for the parts ↔ bytes tests, from exact values only (no initParams, so their bytes never change),
 * each with the SHA-256 of the file `checkpointToBytes` wrote before it was split into parts (commit 1382275).
 */
function partsCases(): [string, Checkpoint, string][] {
  const exact = (config: ModelConfig): Float32Array => Float32Array.from({ length: paramCount(config) }, (_, i) => (((i * 7) % 13) - 6) / 8);
  const two: ModelConfig = { ...base, layers: 2, bias: false, nonlinearity: "relu", vocabSize: 7, hiddenSize: 3 };
  const adam = Float32Array.from({ length: 64 }, (_, i) => i / 16 - 2);
  return [
    ["model only, with vocabulary", { config: base, vocab: VOCAB, params: exact(base), extra: new Map(), metadata: {} }, "ee6375bb0f2b2abd8f1f391c966ac1a077531a84c05c5efd94af7817bce3315b"],
    [
      "2 layers, no vocabulary, F32 and F64 extras (views at non-zero offsets, an empty one) and train metadata",
      {
        config: two,
        vocab: undefined,
        params: exact(two),
        extra: new Map<string, Tensor>([
          ["optim.m", { dtype: "F32", shape: [3, 4], data: adam.subarray(5, 17) }],
          ["optim.v", { dtype: "F32", shape: [0], data: adam.subarray(64) }],
          ["optim.step", { dtype: "F64", shape: [], data: Float64Array.of(17) }],
          ["state.h", { dtype: "F64", shape: [2, 2], data: Float64Array.of(1, 0.5, -0.25, 0.125, 9).subarray(1) }],
        ]),
        metadata: { train: JSON.stringify({ lr: 0.01, step: 17 }), note: "héllo" },
      },
      "7dc6e6668a4c6a7a269449d628f33645481dd0fcab72e8e15d2345de7ee1bd2c",
    ],
  ];
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

describe("checkpointToBytes output is pinned", () => {
  for (const [name, ckpt, hash] of partsCases()) {
    it(name, () => {
      expect(sha256(checkpointToBytes(ckpt))).toBe(hash);
    });
  }
});

describe("checkpointToParts: the same file as a header and views of the checkpoint's arrays", () => {
  const hostLittleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

  for (const [name, ckpt, hash] of partsCases()) {
    it(`${name}: the parts, in order, are the pinned file`, () => {
      const parts = checkpointToParts(ckpt);
      const h = createHash("sha256");
      for (const p of parts) h.update(p);
      expect(h.digest("hex")).toBe(hash);
      expect(Buffer.concat(parts)).toEqual(Buffer.from(checkpointToBytes(ckpt)));
      const back = checkpointFromBytes(Buffer.concat(parts), "m.safetensors");
      expect(back.params).toEqual(ckpt.params);
      expect(back.extra).toEqual(ckpt.extra);
    });
  }

  it.runIf(hostLittleEndian)("the tensor parts share memory with params and the extras (no copy on this little-endian host)", () => {
    for (const [, ckpt] of partsCases()) {
      const parts = checkpointToParts(ckpt);
      const specs = paramSpecs(ckpt.config);
      expect(parts.length).toBe(1 + specs.length + ckpt.extra.size);
      specs.forEach((s, i) => {
        const part = parts[1 + i]!;
        expect(part.buffer).toBe(ckpt.params.buffer);
        expect([part.byteOffset, part.byteLength]).toEqual([ckpt.params.byteOffset + 4 * s.offset, 4 * s.size]);
      });
      [...ckpt.extra.values()].forEach((t, i) => {
        const part = parts[1 + specs.length + i]!;
        expect(part.buffer).toBe(t.data.buffer);
        expect([part.byteOffset, part.byteLength]).toEqual([t.data.byteOffset, t.data.byteLength]);
      });
    }
  });
});

describe("checkpointToBytes and checkpointToParts refuse checkpoints they could not read back", () => {
  for (const [fn, save] of [["checkpointToBytes", checkpointToBytes], ["checkpointToParts", checkpointToParts]] as const) {
    it(`${fn}: params length, NaN, vocab, config, reserved metadata, clashing extras`, () => {
      expect(() => save(makeCkpt({}, 1, { params: new Float32Array(3) }))).toThrowError(ShapeError);
      expect(() => save(makeCkpt({}, 1, { params: new Float32Array(3) }))).toThrowError(/params has 3 values; expected 69/);
      const nan = makeCkpt();
      nan.params[7] = NaN;
      expect(() => save(nan)).toThrowError(/cannot save checkpoint: rnn\.weight_ih_l0\[7\] is NaN; expected finite parameters/);
      expect(() => save(makeCkpt({}, 1, { vocab: ["a", "b"] }))).toThrowError(CheckpointError);
      expect(() => save(makeCkpt({}, 1, { vocab: ["a", "b", "c", "d", "a"] }))).toThrowError(/appears twice/);
      expect(() => save(makeCkpt({}, 1, { config: { ...base, hiddenSize: 0 } }))).toThrowError(ConfigError);
      expect(() => save(makeCkpt({}, 1, { metadata: { config: "{}" } }))).toThrowError(/metadata key "config" is written from the checkpoint itself/);
      expect(() => save(makeCkpt({}, 1, { metadata: { format: "x" } }))).toThrowError(CheckpointError);
      expect(() => save(makeCkpt({}, 1, { metadata: { vocab: "[]" } }))).toThrowError(CheckpointError);
      const clash = (name: string): Checkpoint =>
        makeCkpt({}, 1, { extra: new Map([[name, { dtype: "F32", shape: [1], data: Float32Array.of(0) } as Tensor]]) });
      expect(() => save(clash("fc.weight"))).toThrowError(/extra tensor "fc\.weight" uses a model parameter name/);
      expect(() => save(clash("rnn.weight_ih_l3"))).toThrowError(CheckpointError);
    });
  }
});

describe("modelTensors", () => {
  const config: ModelConfig = { ...base, layers: 2 };
  it("gives views in paramSpecs order when the dtype matches, copies otherwise", () => {
    const p32 = makeCkpt(config).params;
    const t32 = modelTensors(config, p32, "F32");
    expect(t32.map(([n]) => n)).toEqual(paramSpecs(config).map((s) => s.name));
    expect(t32.map(([, t]) => t.shape)).toEqual(paramSpecs(config).map((s) => s.shape));
    expect(t32[1]![1].data.buffer).toBe(p32.buffer);
    const t64 = modelTensors(config, p32, "F64");
    expect(t64[1]![1].dtype).toBe("F64");
    expect(t64[1]![1].data).toBeInstanceOf(Float64Array);
    expect([...t64[1]![1].data]).toEqual([...t32[1]![1].data]);

    const g = Float64Array.from(p32, (x) => x * 1e-3);
    const g64 = modelTensors(config, g, "F64");
    expect(g64[0]![1].data.buffer).toBe(g.buffer);
    // gradients written under exactly the parameter names and shapes
    const file = parseSafetensors(serializeSafetensors(g64, { format: "bptt-grad" }), "g");
    expect([...file.tensors.get("fc.bias")!.data]).toEqual([...g.subarray(g.length - 5)]);
  });
  it("refuses a wrong length", () => {
    expect(() => modelTensors(config, new Float64Array(4), "F64")).toThrowError(/params has 4 values; expected \d+ for cell rnn, layers 2/);
  });
});

describe("untrusted bytes: only CheckpointError, never another exception or a hang", () => {
  const bytes = checkpointToBytes(
    makeCkpt({ layers: 2 }, 5, {
      extra: new Map([["optim.step", { dtype: "F64", shape: [], data: Float64Array.of(3) } as Tensor]]),
      metadata: { train: '{"step":3}' },
    }),
  );

  function tryLoad(b: Uint8Array): "ok" | "error" {
    try {
      checkpointFromBytes(b, "fuzz.safetensors");
      return "ok";
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw new Error(`not a CheckpointError: ${String(e)}`);
      return "error";
    }
  }

  it("every prefix of a valid checkpoint", () => {
    expect(tryLoad(bytes)).toBe("ok");
    for (let n = 0; n < bytes.length; n++) expect(tryLoad(bytes.subarray(0, n))).toBe("error");
  });

  it("random single-byte corruptions load or give CheckpointError", () => {
    const rng = new Rng(2024);
    const counts = { ok: 0, error: 0 };
    for (let k = 0; k < 3000; k++) {
      const b = bytes.slice();
      // Half in the header, half anywhere.
      const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const at = k % 2 === 0 ? rng.int(headerEnd) : rng.int(b.length);
      b[at] = rng.int(256);
      counts[tryLoad(b)]++;
    }
    expect(counts.error).toBeGreaterThan(0);
    expect(counts.ok).toBeGreaterThan(0); // e.g. a flipped mantissa bit inside float data
  });

  it("1000 random byte strings", () => {
    const rng = new Rng(77);
    for (let k = 0; k < 1000; k++) {
      const b = new Uint8Array(rng.int(200));
      for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
      if (k % 2 === 1 && b.length >= 8) new DataView(b.buffer).setBigUint64(0, BigInt(rng.int(b.length - 7)), true);
      expect(tryLoad(b)).toBe("error");
    }
  });
});

describe("saveCheckpoint / loadCheckpoint on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "bptt-ckpt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const leftovers = (): string[] => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

  it("saves, replaces and loads", () => {
    const path = join(dir, "m.safetensors");
    const a = makeCkpt({}, 1);
    saveCheckpoint(path, a);
    expect(loadCheckpoint(path).params).toEqual(a.params);
    const b = makeCkpt({ bias: false }, 2);
    saveCheckpoint(path, b);
    const back = loadCheckpoint(path);
    expect(back.config.bias).toBe(false);
    expect(back.params).toEqual(b.params);
    expect(leftovers()).toEqual([]);
  });

  it("writes exactly checkpointToBytes's file, which loads back equal", () => {
    for (const [name, ckpt] of partsCases()) {
      const path = join(dir, "parts.safetensors");
      saveCheckpoint(path, ckpt);
      expect(readFileSync(path), name).toEqual(Buffer.from(checkpointToBytes(ckpt)));
      const back = loadCheckpoint(path);
      expect(back.config).toEqual(ckpt.config);
      expect(back.vocab).toEqual(ckpt.vocab);
      expect(back.params).toEqual(ckpt.params);
      expect(back.extra).toEqual(ckpt.extra);
      expect(back.metadata).toEqual(ckpt.metadata);
    }
    expect(leftovers()).toEqual([]);
  });

  it("a save that fails before writing leaves the previous file intact", () => {
    const path = join(dir, "keep.safetensors");
    const good = makeCkpt({}, 3);
    saveCheckpoint(path, good);
    const before = readFileSync(path);
    const diverged = makeCkpt({}, 4);
    diverged.params[0] = Infinity;
    expect(() => saveCheckpoint(path, diverged)).toThrowError(/expected finite parameters/);
    expect(readFileSync(path)).toEqual(before);
    expect(loadCheckpoint(path).params).toEqual(good.params);
    expect(leftovers()).toEqual([]);
  });

  it("a failed rename (the target is a directory) removes the temporary file", () => {
    const path = join(dir, "taken");
    mkdirSync(path);
    writeFileSync(join(path, "inside"), "x");
    expect(() => saveCheckpoint(path, makeCkpt())).toThrowError(CheckpointError);
    expect(() => saveCheckpoint(path, makeCkpt())).toThrowError(/taken: is a directory/);
    expect(readFileSync(join(path, "inside"), "utf8")).toBe("x");
    expect(leftovers()).toEqual([]);
  });

  it("missing directory, missing file, directory, garbage file", () => {
    expect(() => saveCheckpoint(join(dir, "nope", "m.safetensors"), makeCkpt())).toThrowError(/the directory does not exist/);
    expect(existsSync(join(dir, "nope"))).toBe(false);
    expect(() => loadCheckpoint(join(dir, "absent.safetensors"))).toThrowError(CheckpointError);
    expect(() => loadCheckpoint(join(dir, "absent.safetensors"))).toThrowError(/absent\.safetensors: no such file/);
    expect(() => loadCheckpoint(dir)).toThrowError(/: is a directory; expected a checkpoint file/);
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "hello");
    expect(() => loadCheckpoint(junk)).toThrowError(/junk\.safetensors: file is 5 bytes/);
  });
});
