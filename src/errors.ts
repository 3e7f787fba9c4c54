/**
 * Error classes of bptt. Every message says what was expected, what was received and,
 * where there is one, the next step (tfjs-layers' errors.ts, valibot's "expected X but received Y").
 */

/** Base class of every error bptt throws on purpose; anything else is a bug. */
export class BpttError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An array has the wrong length or a tensor the wrong shape. */
export class ShapeError extends BpttError {}

/** A model, training or command option is out of range or inconsistent. */
export class ConfigError extends BpttError {}

/** A checkpoint (safetensors) file is unreadable, malformed or inconsistent. */
export class CheckpointError extends BpttError {}

/** Input data (tokens, text) cannot be used as given. */
export class DataError extends BpttError {}

/** Training produced a non-finite loss or gradient. */
export class DivergenceError extends BpttError {}

/**
 * A worker thread of data-parallel training ended or stopped answering in the middle of a job (it
 * ran out of memory, crashed, called process.exit, or hangs). Its pool is stopped with it; the
 * step that was running is lost, nothing is written from it.
 */
export class ThreadError extends BpttError {
  /** The worker thread's number, as in the message: 1 for the first worker (the engine's own thread is not one). */
  readonly thread: number;

  constructor(message: string, thread: number) {
    super(message);
    this.thread = thread;
  }
}
