/** The playground's settings form rules (web/src/settings.ts): inline messages instead of exceptions. */
import { describe, expect, it } from "vitest";
import { codePoints, DEFAULT_SETTINGS, parseSettings, rawSettings } from "../web/src/settings.ts";

const raw = rawSettings(DEFAULT_SETTINGS);

describe("playground settings", () => {
  it("round-trip the defaults", () => {
    expect(parseSettings(raw, 100_000)).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
  });

  it("give one message per bad field, saying what was received", () => {
    const parsed = parseSettings({ ...raw, hiddenSize: "12.5", layers: "", lr: "-1", clip: "x", nonlinearity: "gelu", seed: "1e12" }, 100_000);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.get("hiddenSize")).toMatch(/whole number from 1 to 1024; received "12.5"/);
    expect(parsed.errors.get("layers")).toMatch(/received ""/);
    expect(parsed.errors.get("lr")).toMatch(/number > 0 and ≤ 10; received "-1"/);
    expect(parsed.errors.get("clip")).toMatch(/number ≥ 0; received "x"/);
    expect(parsed.errors.get("nonlinearity")).toMatch(/tanh, relu, sigmoid/);
    expect(parsed.errors.get("seed")).toBeDefined();
    expect([...parsed.errors.keys()].sort()).toEqual(["clip", "hiddenSize", "layers", "lr", "nonlinearity", "seed"]);
  });

  it("refuse a text too short for one chunk, with the numbers", () => {
    const parsed = parseSettings({ ...raw, batchSize: "4", seqLength: "10" }, 40);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.get("text")).toMatch(/40 characters \(36 for training\).*B·\(T\+1\) = 44/);
    expect(parsed.ok ? undefined : parsed.errors.size).toBe(1);
    expect(parseSettings({ ...raw, batchSize: "4", seqLength: "10" }, 60).ok).toBe(true);
  });

  it("count characters as code points, like the vocabulary", () => {
    expect(codePoints("abc")).toBe(3);
    expect(codePoints("a😀b")).toBe(3);
    expect(codePoints("日本語")).toBe(3);
    expect(codePoints("\ud800x")).toBe(2); // a lone surrogate counts as one
  });
});
