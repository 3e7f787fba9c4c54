/**
 * Parameter initialisation, PyTorch-style by default: nn.RNN, nn.LSTM and nn.GRU draw every
 * weight and bias from U(−1/√H, 1/√H), and nn.Linear(H, V) draws its weight (kaiming_uniform
 * with a = √5) and bias from the same U(−1/√H, 1/√H). So a bptt init and a PyTorch init are the
 * same distribution; the LSTM's common +1 forget-gate bias is an option, not the default.
 * Every tensor of the model's three parts (the input's, the stack's, the head's: paramSpecs) is
 * drawn in state_dict order, so that a seed gives the same parameters whatever reads them.
 */
import { CELL_NAMES, cellOf } from "../cells/index.ts";
import { ConfigError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { ModelConfig } from "./config.ts";
import { paramSpecs, type FloatArray } from "./params.ts";

/** Options of `initParams`. */
export interface InitOptions {
  /** Half-width of the uniform distribution. Default 1/√H (PyTorch). */
  readonly scale?: number;
  /**
   * For a cell with a forget gate (its `forgetGate`: the LSTM's f): set that gate's bias to this
   * value after the uniform draw, as b_ih's f block = value and b_hh's = 0 (their sum is what the
   * gate sees), so that the cell starts out remembering (Gers et al. 2000; 1 is common). Default:
   * none (PyTorch's init).
   */
  readonly forgetBias?: number;
}

/**
 * Fill a flat parameter array with uniform random values, tensor by tensor in state_dict order.
 * @param out flat parameter array of length paramCount(config)
 * @param config model shape
 * @param rng random source (its state advances)
 * @param options distribution, forget-gate bias
 * @throws ConfigError for a bad scale, or a forget bias for a model without a forget gate or without biases
 */
export function initParams(out: FloatArray, config: ModelConfig, rng: Rng, options: InitOptions = {}): void {
  const scale = options.scale ?? 1 / Math.sqrt(config.hiddenSize);
  if (!(Number.isFinite(scale) && scale >= 0)) {
    throw new ConfigError(`init scale must be a finite number ≥ 0; received ${scale}`);
  }
  const { forgetGate, gateNames } = cellOf(config.cell);
  const forget = forgetGate === undefined ? -1 : gateNames.indexOf(forgetGate);
  if (options.forgetBias !== undefined) {
    if (!Number.isFinite(options.forgetBias)) throw new ConfigError(`forget bias must be a finite number; received ${options.forgetBias}`);
    if (forget < 0) {
      const withGate = CELL_NAMES.filter((name) => cellOf(name).forgetGate !== undefined);
      throw new ConfigError(`a forget-gate bias needs a cell with a forget gate (${withGate.join(", ")}); this model is ${config.cell}`);
    }
    if (!config.bias) throw new ConfigError("a forget-gate bias needs bias tensors; the model has bias: false");
  }
  const H = config.hiddenSize;
  for (const s of paramSpecs(config)) {
    for (let i = s.offset; i < s.offset + s.size; i++) out[i] = rng.uniform(-scale, scale);
    if (options.forgetBias !== undefined && /^rnn\.bias_(ih|hh)_l\d+$/.test(s.name)) {
      // the f block: rows f·H .. (f+1)·H − 1 of the bias
      out.fill(s.name.startsWith("rnn.bias_ih") ? options.forgetBias : 0, s.offset + forget * H, s.offset + (forget + 1) * H);
    }
  }
}
