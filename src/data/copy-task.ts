/**
 * The long-lag (copy) task as a text: a symbol to predict that repeats the one seen `lag` steps
 * earlier, among noise. It shows with a learner's own runs what the vanishing gradient predicts:
 * a cell whose error of one step fades over k steps back cannot learn a lag much longer than k.
 *
 * The text is a run of blocks of lag + 1 characters each,
 *
 *     s  n_1 … n_{lag−2}  =  s
 *
 * s one of K signal symbols (a, b, …), n_i noise symbols (0, 1, …), "=" the cue. The character
 * after the cue repeats the block's first, lag steps back: a model can predict it only by carrying
 * s through lag − 1 steps, and a model that does not predicts it at chance, 1/K: the accuracy at
 * the recalls (`copyRecalls`) against the lag is the experiment's measure.
 */
import { ConfigError } from "../errors.ts";
import { Rng } from "../rng.ts";

/** The cue before each recall. */
export const COPY_CUE = "=";
/** Signal symbols, in order (K ≤ 26). */
const SIGNALS = "abcdefghijklmnopqrstuvwxyz";
/** Noise symbols, in order (M ≤ 10). */
const NOISE = "0123456789";

/** Options of `copyTaskText`. */
export interface CopyTaskOptions {
  /** Steps between a signal and its recall, in [2, 10000]. */
  readonly lag: number;
  /** Characters of text, at least one block (lag + 1); cut at a whole block. */
  readonly length: number;
  /** Signal symbols K in [2, 26]. Default 8. */
  readonly signals?: number;
  /** Noise symbols M in [1, 10]. Default 8. */
  readonly noise?: number;
  /** Seed of the symbols drawn. Default 1. */
  readonly seed?: number;
}

/**
 * Make the text of the copy task.
 * @param options lag, length, alphabet sizes, seed
 * @returns the text: whole blocks, the same for the same options
 * @throws ConfigError for an option out of range
 */
export function copyTaskText(options: CopyTaskOptions): string {
  const { lag, length } = options;
  const K = options.signals ?? 8;
  const M = options.noise ?? 8;
  checkInt("lag", lag, 2, 10_000);
  checkInt("signals", K, 2, SIGNALS.length);
  checkInt("noise", M, 1, NOISE.length);
  checkInt("length", length, lag + 1, 2 ** 28);
  const rng = new Rng(options.seed ?? 1);
  const blocks = Math.floor(length / (lag + 1));
  const parts: string[] = [];
  for (let b = 0; b < blocks; b++) {
    const s = SIGNALS[rng.int(K)];
    let noise = "";
    for (let i = 0; i < lag - 2; i++) noise += NOISE[rng.int(M)];
    parts.push(s, noise, COPY_CUE, s);
  }
  return parts.join("");
}

/**
 * Where the recalls of a copy-task text are: the positions of the characters after each cue.
 * @param text a text of `copyTaskText`
 * @returns the positions t (0-based) of the recalled characters: predicting text[t] from text[..t−1] is the task
 */
export function copyRecalls(text: string): Int32Array {
  const out: number[] = [];
  for (let t = 1; t < text.length; t++) if (text[t - 1] === COPY_CUE) out.push(t);
  return Int32Array.from(out);
}

/** The characters of a copy-task text named by `synthetic:copy:LAG` (a few minutes of training). */
export const COPY_TASK_LENGTH = 200_000;

/**
 * Read a synthetic data source's name: `synthetic:copy:LAG` or `synthetic:copy:LAG:SEED` (SEED
 * default 1; another seed gives fresh text of the same task, e.g. to evaluate on).
 * @param name what --data was given
 * @returns the copy task's options, or undefined when the name does not start with "synthetic:"
 * @throws ConfigError for a synthetic name that is not one of these, or a lag or seed out of range
 */
export function syntheticSource(name: string): CopyTaskOptions | undefined {
  if (!name.startsWith("synthetic:")) return undefined;
  const m = /^synthetic:copy:(\d+)(?::(\d+))?$/.exec(name);
  if (m === null) throw new ConfigError(`synthetic data: expected synthetic:copy:LAG or synthetic:copy:LAG:SEED (the copy task); received ${JSON.stringify(name)}`);
  const options: CopyTaskOptions = { lag: Number(m[1]), length: COPY_TASK_LENGTH, seed: m[2] === undefined ? 1 : Number(m[2]) };
  checkInt("lag", options.lag, 2, 10_000);
  checkInt("seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  return options;
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`copy task: ${name} must be an integer in [${min}, ${max}]; received ${v}`);
}
