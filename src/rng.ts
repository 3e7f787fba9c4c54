/**
 * A small seeded random number generator (xoshiro128**, seeded through splitmix32).
 * Written by hand, not taken from a library, because training must resume bit for bit:
 * the whole state is four uint32 words that go into a checkpoint and come back, and
 * the same seed gives the same stream in Node and in the browser.
 */

/** Serializable generator state: four uint32 words, not all zero. */
export type RngState = readonly [number, number, number, number];

/** A seeded generator of uniform numbers. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed any integer (taken modulo 2^32), or a state from `state()`
   */
  constructor(seed: number | RngState) {
    if (typeof seed === "number") {
      let x = seed >>> 0;
      const next = (): number => {
        // splitmix32
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        return (z ^ (z >>> 16)) >>> 0;
      };
      this.s0 = next();
      this.s1 = next();
      this.s2 = next();
      this.s3 = next();
    } else {
      [this.s0, this.s1, this.s2, this.s3] = seed.map((w) => w >>> 0) as [number, number, number, number];
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** @returns the next uint32 */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** @returns a uniform float64 in [0, 1) with 32 random bits */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * @param lo lower bound
   * @param hi upper bound
   * @returns a uniform number in [lo, hi)
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * @param n number of choices, ≥ 1
   * @returns a uniform integer in [0, n)
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** @returns a standard normal sample (Box–Muller) */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** @returns the current state, to be restored with `new Rng(state)` */
  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
