/**
 * The machinery of the option tables: what a table derives (its keys by attribute, its defaults,
 * its help lines, its checks), on a small table made for the test.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { ConfigError } from "./errors.ts";
import {
  checkOptions, helpLine, keysWhere, parseOptionText, pick, SEED, tableDefaults, withDefaults, type FlaggedTable, type OptionValues,
} from "./option-table.ts";

const TABLE = {
  size: { kind: "int", flag: "size", scope: "model", value: "N", min: 1, max: 10, default: 3, help: "how big" },
  mode: { kind: "choice", flag: "mode", scope: "run", choices: ["fast", "exact"], default: "exact", help: "how to run" },
  rate: { kind: "number", flag: "rate", scope: "resumable", group: "cadence", min: 0, minOpen: true, max: 1, help: "how often (default {default}; 1 = always)", defaultText: "per mode" },
  quiet: { kind: "flag", flag: "quiet", scope: "session", group: "cadence", default: false, help: "say less" },
  name: { kind: "text", flag: "name", scope: "session", help: "what to call it" },
  seed: { ...SEED, scope: "run", help: "random seed" },
} as const satisfies FlaggedTable;

describe("an option table", () => {
  it("types its values from its entries", () => {
    expectTypeOf<OptionValues<typeof TABLE>>().toEqualTypeOf<{
      readonly size?: number; readonly mode?: "fast" | "exact"; readonly rate?: number; readonly quiet?: boolean; readonly name?: string; readonly seed?: number;
    }>();
    expectTypeOf(tableDefaults(TABLE)).toEqualTypeOf<{ readonly size: number; readonly mode: "fast" | "exact"; readonly quiet: boolean; readonly seed: number }>();
  });

  it("gives its defaults, and the options given over them (undefined is not given)", () => {
    expect(tableDefaults(TABLE)).toEqual({ size: 3, mode: "exact", quiet: false, seed: 1 });
    expect(withDefaults(tableDefaults(TABLE), { size: 5, mode: undefined })).toEqual({ size: 5, mode: "exact", quiet: false, seed: 1 });
  });

  it("answers which options have an attribute, in its order", () => {
    expect(keysWhere(TABLE, { group: "cadence" })).toEqual(["rate", "quiet"]);
    expect(keysWhere(TABLE, { scope: "run" })).toEqual(["mode", "seed"]);
    expect(keysWhere(TABLE, { scope: "run", kind: "int" })).toEqual(["seed"]);
    expect(pick(TABLE, ["seed", "size"])).toEqual({ seed: TABLE.seed, size: TABLE.size });
    // an entry the object lacks stays absent
    expect(Object.keys(pick({ size: 3 } as OptionValues<typeof TABLE>, ["size", "mode"]))).toEqual(["size"]);
  });

  it("makes help lines: choices first, the default after or where the line puts it", () => {
    expect(helpLine(TABLE.size)).toBe("how big (default 3)");
    expect(helpLine(TABLE.mode)).toBe("fast | exact: how to run (default exact)");
    expect(helpLine(TABLE.rate)).toBe("how often (default per mode; 1 = always)");
    expect(helpLine({ ...TABLE.mode, help: "run {choices}, by default {default}" })).toBe("run fast | exact, by default exact");
    expect(helpLine(TABLE.name)).toBe("what to call it");
  });

  it("checks values and text by kind and range, and shares an entry with a narrower range", () => {
    expect(() => checkOptions(TABLE, { size: 11 })).toThrowError(ConfigError);
    expect(() => checkOptions(TABLE, { size: 11 })).toThrowError(/^size: expected an integer in \[1, 10\]; received 11$/);
    expect(() => checkOptions(TABLE, { rate: 0, size: undefined })).toThrowError(/^rate: expected a number in \(0, 1\]; received 0$/);
    expect(() => checkOptions(TABLE, { name: 3 })).toThrowError(/^name: expected a string; received 3$/);
    expect(() => checkOptions(TABLE, { size: 2, mode: "fast", name: "x", quiet: true })).not.toThrow();
    expect(parseOptionText(TABLE.name, " a b ")).toEqual({ value: " a b " });
    expect(parseOptionText({ ...TABLE.seed, max: 9 }, "10")).toEqual({ problem: 'expected an integer in [0, 9]; received "10"' });
  });
});
