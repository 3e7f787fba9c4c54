/**
 * The public API of bptt that runs in any JavaScript runtime (Node, browsers, workers), spelled
 * out name by name. The package's entries add the file functions: index.ts (Node) the real ones,
 * browser.ts stand-ins that say what to use instead.
 */
export { BpttError, CheckpointError, ConfigError, DataError, DivergenceError, ShapeError, ThreadError } from "./errors.ts";
export { Rng, type RngState } from "./rng.ts";

// model
export {
  MAX_HIDDEN, MAX_LAYERS, MAX_PARAMS, MAX_VOCAB, modelConfigJson, NONLINEARITIES, parseModelConfig, validateModelConfig,
  type CellName, type HeadName, type InputName, type ModelConfig, type Nonlinearity,
} from "./model/config.ts";
export {
  gateCount, paramCount, paramSpecs, paramViews, stateCount, stateLength, trainingFlopsPerToken,
  type FloatArray, type LayerParams, type ParamSpec, type ParamViews, type TensorShape,
} from "./model/params.ts";

// inputs and heads
export { DEFAULT_INPUT, INPUT_NAMES, INPUTS, inputOf } from "./inputs/index.ts";
export type { InputLayer, InputUnit, OnnxInput, ReferenceInput } from "./inputs/types.ts";
export { DEFAULT_HEAD, HEAD_NAMES, HEADS, headOf } from "./heads/index.ts";
export type { HeadLayer, HeadUnit, HeadView, OnnxHead, ReferenceHead, ReferenceHeadPass } from "./heads/types.ts";
export type { OnnxAttribute, OnnxGraph, OnnxValue } from "./io/onnx/graph.ts";

// cells
export { CELL_NAMES, CELLS, cellOf } from "./cells/index.ts";
export type {
  Cell, CellBufferOptions, CellBuffers, CellDiagnostics, CellLayer, CellView, DiagnosticSeries, GateSaturation, GateTerm,
  ReferenceCell, ReferenceStep, SaturationView, SeriesTerm, StateTerm,
} from "./cells/types.ts";
export {
  GATE_SATURATION_THRESHOLD, gateSaturation, isSaturated, recurrentGradTermNorms, SATURATION_THRESHOLD, saturationShares, sequenceOverTime,
  stepNorms,
} from "./cells/diagnostics.ts";
export { largestSingularValue, type SingularEstimate, type SingularOptions } from "./cells/spectral.ts";
export { initParams, type InitOptions } from "./model/init.ts";
export {
  batchFromSequences, dataLength, validateBatch, validateModelBatch, type Batch, type BatchData, type DataLayout, type ModelBatch,
} from "./model/batch.ts";
export { createLmBuffers, lmBackward, lmForward, LmEngine, type LmBuffers, type LmEngineOptions, type TrainingEngine } from "./model/lm.ts";
export {
  chooseThreads, createTrainingEngine, defaultThreads, MIN_FLOPS_PER_THREAD, ThreadedLmEngine, ThreadPool, threadsSupported,
  type ThreadedOptions, type TrainingEngineOptions,
} from "./model/threaded.ts";
// threads: worker_threads in Node; in a browser's Worker, nested Workers running "bptt/thread-worker.js" once registered
export { browserThreadHost, useThreadHost, type BrowserThreadHostOptions, type BrowserWorker, type HostedWorker, type ThreadHost } from "./model/thread-host.ts";
export { modelVocab, type LanguageModel } from "./model/language-model.ts";
export { generate, sample, SAMPLE_DEFAULTS, SAMPLE_SCHEMA, type SampleOptions } from "./model/sample.ts";
export { evaluate, evaluateIds, type EvaluateOptions, type Evaluation } from "./model/evaluate.ts";

// the float64 reference and the gradient check
export {
  finalState, referenceBackward, referenceForward, referenceLoss, referenceLossAndGrads,
  type ReferenceCache, type ReferenceResult,
} from "./reference/lm.ts";
export {
  gradcheck, GRADCHECK_EPSILON, randomProblem,
  type GradcheckOptions, type GradcheckProblem, type GradcheckReport, type TensorCheck,
} from "./reference/gradcheck.ts";

// kernels
export type { Kernels } from "./kernels/types.ts";
export { portableKernels } from "./kernels/portable.ts";
export { defaultKernels } from "./kernels/index.ts";
export {
  createWasmKernels, defaultWasmBuild, wasmRelaxedSimdSupported, wasmSimdSupported, type WasmBuild, type WasmKernels, type WasmKernelsOptions,
} from "./kernels/wasm.ts";

// data
export { buildVocab, decode, encode, unknownChars, vocabFromSymbols, type EncodeOptions, type TokenIds, type Vocab } from "./data/vocab.ts";
export { decodeText, MAX_STRING_LENGTH, splitText } from "./data/text.ts";
export { chunksPerEpoch, minTrainLength } from "./data/batcher.ts";
export { COPY_CUE, copyRecalls, copyTaskText, type CopyTaskOptions } from "./data/copy-task.ts";
export { encodeCorpus, MAX_CORPUS_CHARS, type ByteSource, type Corpus, type EncodeCorpusOptions } from "./data/corpus.ts";

// training
export {
  train, TRAIN_DEFAULTS,
  type CheckpointEvent, type EvalEvent, type SampleEvent, type StartEvent, type StepEvent, type TrainCallbacks, type TrainEvent,
  type TrainOptions, type TrainResult,
} from "./train/trainer.ts";
export {
  defaultLearningRate, learningRateAt, Optimizer, OPTIMIZERS, SCHEDULES,
  type IndexRange, type OptimizerName, type OptimizerOptions, type ScheduleKind, type ScheduleOptions,
} from "./train/optimizers.ts";
export {
  checkTrainOptions, helpLine, keptOnResume, optionProblem, parseOptionText, TRAIN_SCHEMA,
  type ChoiceOption, type FlagOption, type IntOption, type NumberOption, type OptionDef, type OptionScope, type SchemaKey, type TrainValues,
} from "./train/schema.ts";
// asking an option table (e.g. TRAIN_SCHEMA's options of scope "model") and taking those entries of a config or of values
export { keysWhere, pick, type EntryPattern, type KeysWhere } from "./option-table.ts";
export { checkpointOptions, checkpointStep, type BestValidation, type RunCadence, type SettingChange } from "./train/run-state.ts";
// the next step of a run, rebuilt from its checkpoint: the gradient views of a run on several threads (no `inspect`)
export { nextChunk, trainingIds, type NextChunk } from "./train/next-chunk.ts";
export { applyDropout, dropoutLayersProblem, dropoutMasks, dropoutSeed, type Dropout } from "./nn/dropout.ts";
export { allFinite, clipElementwise, clipGlobalNorm, globalNorm } from "./train/clip.ts";

// checkpoints
export { parseSafetensors, safetensorsParts, serializeSafetensors, type DType, type SafetensorsFile, type Tensor } from "./io/safetensors.ts";
export { checkpointFromBytes, checkpointToBytes, cloneCheckpoint, modelTensors, type Checkpoint } from "./io/checkpoint.ts";
export { modelToOnnx, ONNX_OPSET } from "./io/onnx/export.ts";
