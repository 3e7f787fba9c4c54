/** The copy task's text: whole blocks of the stated form, each recall the symbol lag steps back. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { COPY_TASK_LENGTH, copyRecalls, copyTaskText, COPY_CUE, syntheticSource } from "./copy-task.ts";

describe("copyTaskText", () => {
  it("is whole blocks 's noise… = s': every recall repeats the symbol lag steps back, the rest is signal or noise", () => {
    for (const lag of [2, 5, 20, 50]) {
      const text = copyTaskText({ lag, length: 2000, signals: 4, noise: 3, seed: 9 });
      expect(text.length % (lag + 1)).toBe(0);
      expect(text.length).toBe(Math.floor(2000 / (lag + 1)) * (lag + 1));
      const recalls = copyRecalls(text);
      expect(recalls.length).toBe(text.length / (lag + 1));
      for (const t of recalls) {
        expect(text[t], `lag ${lag}, position ${t}`).toBe(text[t - lag]);
        expect("abcd").toContain(text[t]);
      }
      for (let b = 0; b < text.length; b += lag + 1) {
        const block = text.slice(b, b + lag + 1);
        expect(block).toMatch(new RegExp(`^[abcd][012]{${lag - 2}}${COPY_CUE}[abcd]$`));
      }
      // the signals are drawn, not fixed: all K appear
      expect(new Set([...recalls].map((t) => text[t])).size).toBe(4);
    }
  });

  it("is the same for the same options and differs with the seed", () => {
    const a = copyTaskText({ lag: 7, length: 500, seed: 1 });
    expect(copyTaskText({ lag: 7, length: 500, seed: 1 })).toBe(a);
    expect(copyTaskText({ lag: 7, length: 500, seed: 2 })).not.toBe(a);
  });

  it("refuses options out of range with a ConfigError naming the option", () => {
    expect(() => copyTaskText({ lag: 1, length: 100 })).toThrow(/lag must be an integer in \[2, 10000\]; received 1/);
    expect(() => copyTaskText({ lag: 5, length: 5 })).toThrow(/length must be an integer in \[6,/);
    expect(() => copyTaskText({ lag: 5, length: 100, signals: 27 })).toThrow(ConfigError);
    expect(() => copyTaskText({ lag: 5, length: 100, noise: 0 })).toThrow(/noise/);
  });
});

describe("syntheticSource", () => {
  it("reads synthetic:copy:LAG and synthetic:copy:LAG:SEED, and leaves other names to the files", () => {
    expect(syntheticSource("data/x.txt")).toBeUndefined();
    expect(syntheticSource("synthetic:copy:20")).toEqual({ lag: 20, length: COPY_TASK_LENGTH, seed: 1 });
    expect(syntheticSource("synthetic:copy:20:7")).toEqual({ lag: 20, length: COPY_TASK_LENGTH, seed: 7 });
  });

  it("refuses other synthetic names and values out of range", () => {
    for (const name of ["synthetic:", "synthetic:copy", "synthetic:copy:x", "synthetic:copy:5:", "synthetic:markov:3"]) {
      expect(() => syntheticSource(name), name).toThrow(/expected synthetic:copy:LAG or synthetic:copy:LAG:SEED/);
    }
    expect(() => syntheticSource("synthetic:copy:10001")).toThrow(/lag must be an integer in \[2, 10000\]/);
    expect(() => syntheticSource("synthetic:copy:5:4294967296")).toThrow(ConfigError);
  });
});
