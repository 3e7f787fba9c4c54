/**
 * Parameter initialisation, PyTorch-style by default: nn.RNN draws every weight and bias
 * from U(−1/√H, 1/√H), and nn.Linear(H, V) draws its weight (kaiming_uniform with a = √5)
 * and bias from the same U(−1/√H, 1/√H).
 */
import { ConfigError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { ModelConfig } from "./config.ts";
import { paramSpecs, type FloatArray } from "./params.ts";

/** Options of `initParams`. */
export interface InitOptions {
  /** Half-width of the uniform distribution. Default 1/√H (PyTorch). */
  readonly scale?: number;
}

/**
 * Fill a flat parameter array with uniform random values, tensor by tensor in state_dict order.
 * @param out flat parameter array of length paramCount(config)
 * @param config model shape
 * @param rng random source (its state advances)
 * @param options distribution
 */
export function initParams(out: FloatArray, config: ModelConfig, rng: Rng, options: InitOptions = {}): void {
  const scale = options.scale ?? 1 / Math.sqrt(config.hiddenSize);
  if (!(Number.isFinite(scale) && scale >= 0)) {
    throw new ConfigError(`init scale must be a finite number ≥ 0; received ${scale}`);
  }
  for (const s of paramSpecs(config)) {
    for (let i = s.offset; i < s.offset + s.size; i++) out[i] = rng.uniform(-scale, scale);
  }
}
