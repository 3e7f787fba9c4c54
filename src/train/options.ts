/**
 * What a training run takes: its inputs (the text, a checkpoint to resume, the kernels) and its
 * options, whose types, docs, ranges and defaults are the option table's (src/train/schema.ts).
 */
import type { Corpus } from "../data/corpus.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { Kernels } from "../kernels/types.ts";
import { tableDefaults } from "../option-table.ts";
import { HOST_SCHEMA, TRAIN_SCHEMA, type TrainValues } from "./schema.ts";

/**
 * Defaults of a new run, the option tables' (src/train/schema.ts; options whose default depends
 * on others, e.g. lr on the optimizer, are left out); chosen for a 2-core laptop on the bundled
 * Shakespeare (docs/quality.md).
 */
export const TRAIN_DEFAULTS = tableDefaults({ ...TRAIN_SCHEMA, ...HOST_SCHEMA });

/**
 * Options of `train`: its inputs, and the option table's options (each field's doc is its
 * entry's). Fields left out take TRAIN_DEFAULTS, or, when resuming, the checkpoint's values.
 */
export interface TrainOptions extends TrainValues {
  /**
   * The whole text; the first (1 − valFraction) trains, the rest validates. A string, or the text
   * already encoded as `{ ids, symbols }` (a Corpus: `readCorpusFile(path)` in Node reads a file of
   * any size that way, without the string length limit of about 2^29 characters; or `encode`'s
   * ids with their vocabulary's symbols). A string's vocabulary is its distinct code points,
   * sorted; a Corpus brings its own. When resuming, the checkpoint's vocabulary is used (a
   * Corpus's ids are mapped onto it), and the text must be the one the run was trained on.
   */
  readonly text: string | Corpus;
  /** Continue this checkpoint's run (same text). */
  readonly resume?: Checkpoint;
  /** Arithmetic. Default the fastest available. */
  readonly kernels?: Kernels;
}
