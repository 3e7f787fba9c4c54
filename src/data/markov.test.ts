import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type { MarkovSource } from "./markov.ts";
import { entropyRate, randomMarkovSource, sampleMarkov, stationaryPairs } from "./markov.ts";

/** An order-2 table whose rows depend only on prev1: row(j) for every prev2. */
function firstOrder(rows: number[][]): MarkovSource {
  const K = rows.length;
  const P = new Float64Array(K * K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let k = 0; k < K; k++) P[(i * K + j) * K + k] = rows[j]?.[k] ?? 0;
  return { alphabet: "abcdefgh".slice(0, K).split(""), transitions: P };
}

const h2 = (p: number): number => -p * Math.log(p) - (1 - p) * Math.log(1 - p);

describe("entropyRate", () => {
  it("is log K for uniform transitions", () => {
    const K = 5;
    const source = { alphabet: "abcde".split(""), transitions: new Float64Array(K ** 3).fill(1 / K) };
    expect(entropyRate(source)).toBeCloseTo(Math.log(K), 12);
  });

  it("is 0 for a deterministic cycle (a periodic chain)", () => {
    const source = firstOrder([
      [0, 1, 0],
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(entropyRate(source)).toBe(0);
    const pi = stationaryPairs(source);
    // mass on the pairs of the cycle: ab, bc, ca
    expect((pi[0 * 3 + 1] as number) + (pi[1 * 3 + 2] as number) + (pi[2 * 3 + 0] as number)).toBeCloseTo(1, 10);
  });

  it("matches the closed form of a two-state chain", () => {
    // P(b|a) = α, P(a|b) = β: π(a) = β/(α+β), rate = π(a)·H(α) + π(b)·H(β)
    const a = 0.1;
    const b = 0.4;
    const source = firstOrder([
      [1 - a, a],
      [b, 1 - b],
    ]);
    const piA = b / (a + b);
    expect(entropyRate(source)).toBeCloseTo(piA * h2(a) + (1 - piA) * h2(b), 12);
  });

  it("matches the empirical −log-likelihood of a long sample", () => {
    const source = randomMarkovSource(8, 42);
    const rate = entropyRate(source);
    const text = sampleMarkov(source, 200_000, new Rng(7));
    const K = source.alphabet.length;
    const id = new Map(source.alphabet.map((s, i) => [s, i]));
    const x = Array.from(text, (c) => id.get(c) as number);
    let nll = 0;
    for (let t = 2; t < x.length; t++) {
      nll -= Math.log(source.transitions[((x[t - 2] as number) * K + (x[t - 1] as number)) * K + (x[t] as number)] as number);
    }
    expect(Math.abs(nll / (x.length - 2) - rate)).toBeLessThan(0.02);
  });
});

describe("randomMarkovSource", () => {
  it("is deterministic in the seed, with rows that sum to 1", () => {
    const a = randomMarkovSource(6, 3);
    expect(randomMarkovSource(6, 3)).toEqual(a);
    expect(randomMarkovSource(6, 4).transitions).not.toEqual(a.transitions);
    expect(a.alphabet).toEqual(["a", "b", "c", "d", "e", "f"]);
    for (let row = 0; row < 36; row++) {
      let sum = 0;
      for (let k = 0; k < 6; k++) sum += a.transitions[row * 6 + k] as number;
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it("is peaked: the entropy rate is well below log K, and falls with the concentration", () => {
    for (const K of [4, 8, 16]) {
      const rate = entropyRate(randomMarkovSource(K, 1));
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThan(0.6 * Math.log(K));
    }
    const peaked = entropyRate(randomMarkovSource(8, 1, { concentration: 0.05 }));
    const flat = entropyRate(randomMarkovSource(8, 1, { concentration: 100 }));
    expect(peaked).toBeLessThan(flat);
    expect(flat).toBeGreaterThan(0.98 * Math.log(8));
  });

  it("rejects bad sizes and concentrations", () => {
    expect(() => randomMarkovSource(1, 0)).toThrowError(ConfigError);
    expect(() => randomMarkovSource(63, 0)).toThrowError(/expected an integer in \[2, 62\]/);
    expect(() => randomMarkovSource(4, 0, { concentration: 0 })).toThrowError(/concentration/);
  });
});

describe("sampleMarkov", () => {
  it("is reproducible from the generator state and uses only the alphabet", () => {
    const source = randomMarkovSource(5, 9);
    const s = sampleMarkov(source, 500, new Rng(1));
    expect(s).toHaveLength(500);
    expect(sampleMarkov(source, 500, new Rng(1))).toBe(s);
    expect(/^[a-e]+$/.test(s)).toBe(true);
    expect(sampleMarkov(source, 0, new Rng(1))).toBe("");
    expect(sampleMarkov(source, 1, new Rng(1))).toHaveLength(1);
  });
});
