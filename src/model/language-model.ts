/**
 * A trained or initialised character-level language model as plain data: shape, vocabulary and
 * parameters. A checkpoint is one of these plus training state; sampling and evaluation need only this.
 */
import { DataError } from "../errors.ts";
import { vocabFromSymbols, type Vocab } from "../data/vocab.ts";
import type { ModelConfig } from "./config.ts";

/** Shape, vocabulary and parameters of a model. */
export interface LanguageModel {
  /** Shape of the model. */
  readonly config: ModelConfig;
  /** The V symbols (one Unicode code point each), or undefined for a token-id model. */
  readonly vocab: readonly string[] | undefined;
  /** All parameters in one flat array, in the paramSpecs(config) layout. */
  readonly params: Float32Array;
}

/**
 * The vocabulary of a model that works on text.
 * @param model the model
 * @returns its vocabulary
 * @throws DataError for a token-id model (made with --vocab-size), which has no symbols
 */
export function modelVocab(model: LanguageModel): Vocab {
  if (model.vocab === undefined) {
    throw new DataError(
      "this model has no vocabulary (it was made with --vocab-size and works on token ids); " +
        "make a text model with `bptt init --data FILE` or `bptt train`",
    );
  }
  return vocabFromSymbols(model.vocab);
}
