import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CheckpointError, ShapeError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { parseSafetensors, safetensorsParts, serializeSafetensors, type Tensor } from "./safetensors.ts";

const enc = new TextEncoder();

/** A file from a header (object or raw text), a data buffer and optionally a forged length field. */
function fileOf(header: unknown, data: Uint8Array = new Uint8Array(0), n?: bigint): Uint8Array {
  const h = enc.encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32(shape: number[], values: number[]): Tensor {
  return { dtype: "F32", shape, data: Float32Array.from(values) };
}

function parseError(bytes: Uint8Array): CheckpointError {
  try {
    parseSafetensors(bytes, "t.safetensors");
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toMatch(/^t\.safetensors: /);
    return e as CheckpointError;
  }
  throw new Error("expected a CheckpointError, but the file was accepted");
}

describe("serializeSafetensors: pinned bytes (the reference implementation's own test vectors)", () => {
  it("one F32 tensor whose header needs no padding", () => {
    const out = serializeSafetensors([["attn.0", f32([1, 2, 3], [0, 1, 2, 3, 4, 5])]], {});
    // prettier-ignore
    expect([...out]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it("pads the header with spaces so the data starts 8-byte aligned", () => {
    const out = serializeSafetensors([["attn0", f32([1, 1, 2, 3], [0, 1, 2, 3, 4, 5])]], {});
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n).toBe(72);
    const header = new TextDecoder().decode(out.subarray(8, 8 + n));
    expect(header).toBe(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `);
    expect([...out.subarray(8 + n)]).toEqual([0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]);
  });

  it("empty file, with and without metadata", () => {
    expect([...serializeSafetensors([], {})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const out = serializeSafetensors([], { framework: "pt" });
    expect(new TextDecoder().decode(out.subarray(8))).toBe(`{"__metadata__":{"framework":"pt"}}     `);
    expect(out[0]).toBe(40);
  });

  it("keeps the given order, even for names that look like array indices", () => {
    const out = serializeSafetensors(
      [["b", f32([1], [1])], ["10", f32([], [2])], ["a", { dtype: "F64", shape: [2], data: Float64Array.from([3, 4]) }]],
      { z: "1", "2": "x" },
    );
    const header = new TextDecoder().decode(out.subarray(8, 8 + out[0]!)).trimEnd();
    expect(header).toBe(
      // metadata follows the object's own key order (where JS puts index-like keys first)
      `{"__metadata__":{"2":"x","z":"1"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
        `"10":{"dtype":"F32","shape":[],"data_offsets":[4,8]},"a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}`,
    );
  });
});

describe("parseSafetensors: a hand-built file", () => {
  it("reads little-endian F32, F64, F16 and BF16 data and the metadata", () => {
    const data = new Uint8Array([
      // a: F32 [2] = 1, -2
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
      // b: F64 [] = 0.1
      0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,
      // c: F16 [2, 3] = 1, -2, 65504, 2^-24, Inf, -0
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c, 0x00, 0x80,
      // d: BF16 [2] = 1, 3.140625
      0x80, 0x3f, 0x49, 0x40,
    ]);
    const header = {
      __metadata__: { format: "test", PROTO: "kept as data" },
      d: { dtype: "BF16", shape: [2], data_offsets: [28, 32] },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { shape: [], dtype: "F64", data_offsets: [8, 16] },
      c: { dtype: "F16", shape: [2, 3], data_offsets: [16, 28] },
    };
    // A "__proto__" key (which an object literal cannot hold) must stay plain data.
    const file = parseSafetensors(fileOf(JSON.stringify(header).replace("PROTO", "__proto__"), data), "x");
    expect([...file.tensors.keys()]).toEqual(["a", "b", "c", "d"]); // data order
    expect(file.tensors.get("a")).toEqual({ dtype: "F32", shape: [2], data: Float32Array.from([1, -2]) });
    expect(file.tensors.get("b")).toEqual({ dtype: "F64", shape: [], data: Float64Array.from([0.1]) });
    const c = file.tensors.get("c")!;
    expect(c.dtype).toBe("F32");
    expect(c.shape).toEqual([2, 3]);
    expect([...c.data]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0]);
    expect(Object.is(c.data[5], -0)).toBe(true);
    expect(file.tensors.get("d")).toEqual({ dtype: "F32", shape: [2], data: Float32Array.from([1, 3.140625]) });
    expect(file.metadata["format"]).toBe("test");
    expect(Object.getOwnPropertyDescriptor(file.metadata, "__proto__")?.value).toBe("kept as data");
    expect(Object.getPrototypeOf(file.metadata)).toBe(Object.prototype);
  });

  it("decodes F16 NaN and subnormals", () => {
    const data = new Uint8Array([0x01, 0x7e, 0xff, 0x03, 0x00, 0x04]);
    const file = parseSafetensors(fileOf({ h: { dtype: "F16", shape: [3], data_offsets: [0, 6] } }, data), "x");
    const v = file.tensors.get("h")!.data;
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v[1]).toBe(1023 * 2 ** -24); // largest subnormal
    expect(v[2]).toBe(2 ** -14); // smallest normal
  });

  it("accepts an empty header object and zero-size tensors", () => {
    expect(parseSafetensors(fileOf("{}"), "x").tensors.size).toBe(0);
    const file = parseSafetensors(fileOf({ z: { dtype: "F32", shape: [0, 5], data_offsets: [0, 0] } }), "x");
    expect(file.tensors.get("z")!.data.length).toBe(0);
  });

  it("copies data into fresh aligned arrays, never aliasing the input (even a Buffer at an odd offset)", () => {
    const bytes = serializeSafetensors([["w", f32([3], [1, 2, 3])], ["v", { dtype: "F64", shape: [1], data: Float64Array.of(7) }]], {});
    const big = Buffer.alloc(bytes.length + 3);
    big.set(bytes, 1);
    const input = big.subarray(1, 1 + bytes.length);
    const file = parseSafetensors(input, "x");
    input.fill(0);
    const w = file.tensors.get("w")!.data;
    expect([...w]).toEqual([1, 2, 3]);
    expect(w.byteOffset % 4).toBe(0);
    expect(w.buffer).not.toBe(big.buffer);
    expect([...file.tensors.get("v")!.data]).toEqual([7]);
  });
});

describe("serialize → parse round trip", () => {
  it("is bit-exact for F32 and F64, including NaN payloads, -0 and extremes", () => {
    const rng = new Rng(7);
    const a = new Float32Array(37).map(() => rng.normal());
    a[0] = -0;
    a[1] = 3.4028234663852886e38;
    a[2] = 1.401298464324817e-45;
    const aBits = new Uint32Array(a.buffer);
    aBits[3] = 0x7fc01234; // NaN with a payload
    const b = new Float64Array(12).map(() => rng.normal() * 1e300);
    b[0] = Number.MIN_VALUE;
    const bytes = serializeSafetensors(
      [["a", { dtype: "F32", shape: [37], data: a }], ["b", { dtype: "F64", shape: [3, 2, 2], data: b }], ["s", f32([], [5])]],
      { note: "héllo ✓ 😀", empty: "" },
    );
    expect((bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 4).toBe(0);
    const file = parseSafetensors(bytes, "x");
    const a2 = file.tensors.get("a")!;
    expect(a2.dtype).toBe("F32");
    expect([...new Uint32Array(a2.data.buffer)]).toEqual([...aBits]);
    const b2 = file.tensors.get("b")!;
    expect(b2.shape).toEqual([3, 2, 2]);
    expect([...new Uint8Array(b2.data.buffer)]).toEqual([...new Uint8Array(b.buffer)]);
    expect(file.tensors.get("s")!.shape).toEqual([]);
    expect(file.metadata).toEqual({ note: "héllo ✓ 😀", empty: "" });
  });

  it("writes views of larger arrays correctly (only the view's bytes)", () => {
    const base = Float32Array.from([9, 1, 2, 9]);
    const file = parseSafetensors(serializeSafetensors([["v", { dtype: "F32", shape: [2], data: base.subarray(1, 3) }]], {}), "x");
    expect([...file.tensors.get("v")!.data]).toEqual([1, 2]);
  });
});

/**
 * Files for the parts ↔ bytes tests, from exact values only (so their bytes never change), each with the
 * SHA-256 of the file `serializeSafetensors` wrote before it was split into parts (commit 1382275).
 */
function partsCases(): [string, [string, Tensor][], Record<string, string>, string][] {
  const wide32 = Float32Array.from({ length: 20 }, (_, i) => (i % 7) - 3.5);
  const wide64 = Float64Array.from({ length: 11 }, (_, i) => i / 4 - 1);
  return [
    ["no tensors, no metadata", [], {}, "9bbcbf73561f6bc5d0a17ea6a2081feed2d1304e87602d8c502d9a5c4bd85576"],
    [
      "F32 and F64 tensors with metadata",
      [["a", f32([2, 3], [1, -2, 0.5, 0, -0, 3e38])], ["b", { dtype: "F64", shape: [3], data: Float64Array.of(0.1, -2, 1e300) }]],
      { format: "pt", note: "héllo ✓" },
      "546b54cd4aab0f5b24e3546e9e52c139e5b6d0b8b46e54af736bdecdddf714b1",
    ],
    [
      "empty tensors between others",
      [["e", f32([0], [])], ["s", f32([], [5])], ["z", { dtype: "F64", shape: [2, 0], data: new Float64Array(0) }], ["t", f32([1], [7])]],
      {},
      "67433536831e37b8d450268303bd911d3211ca3e399634fa94c7a57de20d3cca",
    ],
    [
      "views at non-zero byte offsets of larger arrays",
      [
        ["v", { dtype: "F32", shape: [2, 2], data: wide32.subarray(3, 7) }],
        ["w", { dtype: "F64", shape: [5], data: wide64.subarray(5, 10) }],
        ["x", { dtype: "F32", shape: [1], data: wide32.subarray(19) }],
        ["y", { dtype: "F32", shape: [0], data: wide32.subarray(20) }],
      ],
      { k: "v" },
      "96ea51ea1a245df00e628c23822e4b216176b9b45487e8f090aa059fcb6da718",
    ],
  ];
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

describe("serializeSafetensors output is pinned", () => {
  for (const [name, tensors, metadata, hash] of partsCases()) {
    it(name, () => {
      expect(sha256(serializeSafetensors(tensors, metadata))).toBe(hash);
    });
  }
});

describe("safetensorsParts: the same file as a header and views of the tensors", () => {
  const hostLittleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

  for (const [name, tensors, metadata, hash] of partsCases()) {
    it(`${name}: the parts, in order, are the pinned file`, () => {
      const parts = safetensorsParts(tensors, metadata);
      const h = createHash("sha256");
      for (const p of parts) h.update(p);
      expect(h.digest("hex")).toBe(hash);
      expect(Buffer.concat(parts)).toEqual(Buffer.from(serializeSafetensors(tensors, metadata)));
      // header first (length field + padded JSON, data 8-byte aligned), then one part per tensor
      expect(parts.length).toBe(1 + tensors.length);
      const head = parts[0]!;
      expect(head.length).toBe(8 + Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true)));
      expect(head.length % 8).toBe(0);
      const file = parseSafetensors(Buffer.concat(parts), "x");
      expect([...file.tensors.keys()]).toEqual(tensors.map(([n]) => n));
      expect(file.metadata).toEqual(metadata);
      for (const [n, t] of tensors) expect([...file.tensors.get(n)!.data]).toEqual([...t.data]);
    });
  }

  it.runIf(hostLittleEndian)("each tensor's part is a view of exactly its own bytes, not a copy (this host is little-endian)", () => {
    for (const [, tensors, metadata] of partsCases()) {
      const parts = safetensorsParts(tensors, metadata);
      tensors.forEach(([, t], i) => {
        const part = parts[1 + i]!;
        expect(part.buffer).toBe(t.data.buffer);
        expect([part.byteOffset, part.byteLength]).toEqual([t.data.byteOffset, t.data.byteLength]);
      });
    }
    // and so it sees later writes to the tensor (write the parts before changing the tensors)
    const data = Float32Array.of(1, 2);
    const part = safetensorsParts([["w", { dtype: "F32", shape: [2], data }]], {})[1]!;
    data[1] = 3;
    expect(new Float32Array(part.slice().buffer)[1]).toBe(3);
  });

  it("accepts a one-shot iterable (a generator): the tensors are read once", () => {
    function* once(): Generator<[string, Tensor]> {
      yield ["a", f32([1], [1])];
      yield ["b", f32([2], [2, 3])];
    }
    expect(Buffer.concat(safetensorsParts(once(), {}))).toEqual(Buffer.from(serializeSafetensors(once(), {})));
    expect(safetensorsParts(once(), {}).length).toBe(3);
  });
});

describe("serializeSafetensors and safetensorsParts refuse what they could not write correctly", () => {
  for (const [fn, write] of [["serializeSafetensors", serializeSafetensors], ["safetensorsParts", safetensorsParts]] as const) {
    it(`${fn}: data length, dtype, names, metadata`, () => {
      expect(() => write([["w", f32([2, 2], [1, 2, 3])]], {})).toThrowError(ShapeError);
      expect(() => write([["w", f32([2, 2], [1, 2, 3])]], {})).toThrowError(/shape \[2, 2\] has 4 elements but the data has 3/);
      expect(() => write([["w", { dtype: "F64", shape: [1], data: Float32Array.of(1) }]], {})).toThrowError(/expected F32 with a Float32Array/);
      expect(() => write([["w", f32([-1], [])]], {})).toThrowError(ShapeError);
      expect(() => write([["", f32([1], [1])]], {})).toThrowError(CheckpointError);
      expect(() => write([["__metadata__", f32([1], [1])]], {})).toThrowError(/reserved or empty/);
      expect(() => write([["w", f32([1], [1])], ["w", f32([1], [1])]], {})).toThrowError(/appears twice/);
      expect(() => write([], { n: 1 } as unknown as Record<string, string>)).toThrowError(/metadata "n" is 1; expected a string/);
      expect(() => write([["bad\uD800", f32([1], [1])]], {})).toThrowError(/lone UTF-16 surrogate/);
      expect(() => write([], { k: "\uDC00x" })).toThrowError(/lone UTF-16 surrogate/);
    });
  }
});

describe("parseSafetensors rejects malformed files with a CheckpointError naming the problem", () => {
  const one = { w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /file is 0 bytes; a safetensors file has at least 8/],
    ["7 bytes", new Uint8Array(7), /file is 7 bytes/],
    ["header length 2^63", fileOf(one, eight, 2n ** 63n), /header length is 9223372036854775808 bytes; expected at most 100000000/],
    ["header length 2^64-1", fileOf(one, eight, 2n ** 64n - 1n), /header length is 18446744073709551615 bytes/],
    ["header length 2^40", fileOf(one, eight, 2n ** 40n), /header length is 1099511627776 bytes; expected at most 100000000/],
    ["header length > size", fileOf(one, eight, 1000n), /header length is 1000 bytes but only \d+ follow/],
    ["header length 100000001", fileOf(one, eight, 100_000_001n), /expected at most 100000000/],
    ["header not UTF-8", fileOf("{\"\xff\":1}", eight).map((b, i) => (i === 10 ? 0xff : b)), /header is not valid UTF-8/],
    ["header with a byte-order mark", fileOf("\uFEFF{}"), /header is not JSON/],
    ["header not JSON", fileOf("{w: 1}"), /header is not JSON/],
    ["header cut short", fileOf('{"w":{"dtype":"F32"', eight), /header is not JSON/],
    ["header JSON array", fileOf("[1, 2]"), /header is \[1,2\]; expected a JSON object/],
    ["header JSON string", fileOf('"hi"'), /header is "hi"; expected a JSON object/],
    ["header null", fileOf("null"), /header is null; expected a JSON object/],
    ["metadata not an object", fileOf({ __metadata__: "x" }), /"__metadata__" is "x"; expected an object of string values/],
    ["metadata null", fileOf({ __metadata__: null }), /"__metadata__" is null/],
    ["non-string metadata", fileOf({ __metadata__: { a: "1", b: 2 } }), /"__metadata__" key "b" is 2; expected a string/],
    ["nested metadata", fileOf({ __metadata__: { a: { b: "c" } } }), /key "a" is \{"b":"c"\}/],
    ["empty tensor name", fileOf({ "": one.w }, eight), /a tensor has an empty name/],
    ["tensor entry not an object", fileOf({ w: [1, 2] }), /tensor "w" is \[1,2\]; expected an object/],
    ["unknown entry key", fileOf({ w: { ...one.w, offsets: [0, 8] } }, eight), /tensor "w" has unknown key "offsets"/],
    ["missing dtype", fileOf({ w: { shape: [2], data_offsets: [0, 8] } }, eight), /tensor "w" has no dtype/],
    ["missing data_offsets", fileOf({ w: { dtype: "F32", shape: [2] } }, eight), /tensor "w" has no data_offsets/],
    ["unknown dtype", fileOf({ w: { ...one.w, dtype: "float32" } }, eight), /tensor "w" has unknown dtype "float32"/],
    ["dtype not a string", fileOf({ w: { ...one.w, dtype: 4 } }, eight), /unknown dtype 4/],
    ["I64", fileOf({ step: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, eight), /unsupported dtype I64 for tensor "step"/],
    ["U8", fileOf({ m: { dtype: "U8", shape: [8], data_offsets: [0, 8] } }, eight), /unsupported dtype U8 for tensor "m"/],
    ["BOOL", fileOf({ m: { dtype: "BOOL", shape: [8], data_offsets: [0, 8] } }, eight), /unsupported dtype BOOL/],
    ["shape not an array", fileOf({ w: { ...one.w, shape: 2 } }, eight), /has shape 2; expected an array/],
    ["negative shape", fileOf({ w: { ...one.w, shape: [-2] } }, eight), /shape \[-2\]; expected dimensions that are integers ≥ 0/],
    ["fractional shape", fileOf({ w: { ...one.w, shape: [2.5] } }, eight), /shape \[2.5\]/],
    ["string shape", fileOf({ w: { ...one.w, shape: ["2"] } }, eight), /shape \["2"\]/],
    ["shape beyond 2^53", fileOf('{"w":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,8]}}', eight), /expected dimensions that are integers/],
    ["rank 9", fileOf({ w: { ...one.w, shape: [1, 1, 1, 1, 1, 1, 1, 1, 2] } }, eight), /rank 9; expected at most 8/],
    // 2^32 · 2^32 · 2^32 · 4 overflows 64 bits to 0 mod 2^64 (and to a multiple of 2^53): exact arithmetic refuses it.
    ["huge shape that overflows to zero", fileOf({ w: { dtype: "F32", shape: [2 ** 32, 2 ** 32, 2 ** 32], data_offsets: [0, 0] } }), /has 0 bytes; expected 316912650057057350374175801344/],
    ["huge shape vs 8 bytes", fileOf({ w: { ...one.w, shape: [2 ** 52, 2 ** 52] } }, eight), /has 8 bytes; expected \d{20,}/],
    ["offsets not a pair", fileOf({ w: { ...one.w, data_offsets: [0] } }, eight), /data_offsets \[0\]; expected \[begin, end\]/],
    ["negative offset", fileOf({ w: { ...one.w, data_offsets: [-8, 0] } }, eight), /data_offsets \[-8,0\]/],
    ["fractional offset", fileOf({ w: { ...one.w, data_offsets: [0, 8.5] } }, eight), /data_offsets \[0,8.5\]/],
    ["offsets begin > end", fileOf({ w: { ...one.w, data_offsets: [8, 0] } }, eight), /data_offsets \[8, 0\]; expected begin ≤ end ≤ 8/],
    ["offset past the buffer", fileOf({ w: { ...one.w, data_offsets: [0, 16] } }, eight), /data_offsets \[0, 16\]; expected begin ≤ end ≤ 8/],
    ["offset 2^53", fileOf({ w: { ...one.w, data_offsets: [0, 2 ** 53] } }, eight), /data_offsets \[0,9007199254740992\]/],
    ["wrong byte count for shape", fileOf({ w: { ...one.w, shape: [3] } }, eight), /tensor "w" \(F32, shape \[3\]\) has 8 bytes; expected 12/],
    ["wrong byte count for dtype", fileOf({ w: { ...one.w, dtype: "F64" } }, eight), /\(F64, shape \[2\]\) has 8 bytes; expected 16/],
    [
      "overlapping offsets",
      fileOf({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
      /tensor "b" has data_offsets \[4, 12\], overlapping the previous tensor, which ends at 8/,
    ],
    [
      "the same range twice",
      fileOf({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, eight),
      /overlapping/,
    ],
    [
      "gap between tensors",
      fileOf({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
      /tensor "b" begins at byte 8 but the previous data ends at 4/,
    ],
    ["gap at the start", fileOf({ w: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, eight), /begins at byte 4 but the previous data ends at 0/],
    ["trailing bytes", fileOf(one, new Uint8Array(12)), /tensor data ends at byte 8 of a 12-byte buffer/],
    ["data without tensors", fileOf("{}", eight), /ends at byte 0 of a 8-byte buffer/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      expect(parseError(bytes).message).toMatch(message);
    });
  }

  it("messages are one line", () => {
    for (const [, bytes] of cases) expect(parseError(bytes).message).not.toMatch(/\n/);
  });

  it("duplicate JSON keys: the last one wins (as with serde); the file is still checked as a whole", () => {
    const text = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    expect(parseSafetensors(fileOf(text, eight), "x").tensors.get("w")!.shape).toEqual([2]);
  });
});

describe("parseSafetensors never throws anything but CheckpointError", () => {
  function expectCheckpointErrorOrOk(bytes: Uint8Array): "ok" | "error" {
    try {
      parseSafetensors(bytes, "fuzz");
      return "ok";
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw new Error(`not a CheckpointError for ${[...bytes.subarray(0, 64)]}: ${String(e)}`);
      return "error";
    }
  }

  it("1000 random byte strings", () => {
    const rng = new Rng(1234);
    for (let k = 0; k < 1000; k++) {
      const bytes = new Uint8Array(rng.int(64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
      // Half of them get a plausible length field so that the header checks are reached too.
      if (k % 2 === 1 && bytes.length >= 8) new DataView(bytes.buffer).setBigUint64(0, BigInt(rng.int(bytes.length - 7)), true);
      expect(expectCheckpointErrorOrOk(bytes)).toBe("error");
    }
  });

  it("1000 random headers built from the format's own vocabulary", () => {
    const rng = new Rng(99);
    const atoms = ['"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"F32"', '"F16"', '"I64"', '"w"', "0", "4", "8", "-1", "1e300", "[", "]", "{", "}", ",", ":", "null", "true", '""'];
    let ok = 0;
    for (let k = 0; k < 1000; k++) {
      let text = "";
      const parts = 1 + rng.int(24);
      for (let i = 0; i < parts; i++) text += atoms[rng.int(atoms.length)];
      if (k % 3 === 0) text = `{"w":{"dtype":"F32","shape":[${rng.int(3)}],"data_offsets":[${rng.int(3) * 4},${rng.int(4) * 4}]}}`;
      if (expectCheckpointErrorOrOk(fileOf(text, new Uint8Array(rng.int(3) * 4))) === "ok") ok++;
    }
    expect(ok).toBeGreaterThan(0); // some random headers are valid, and load
  });
});
