/**
 * A run's budget: steps, epochs and wall-clock time, and the clock that keeps the time budget for
 * the whole run — validation passes and the final checkpoint included — by measuring how long a
 * step, a validation pass and a checkpoint take and stopping while they still fit.
 */
import type { BatchPosition } from "../data/batcher.ts";
import { ConfigError } from "../errors.ts";
import { count } from "./run-state.ts";

/** Steps measured before a step's time is trusted to estimate a validation pass. */
const WARM_STEPS = 5;

/** When a run stops (whichever comes first). */
export interface Budget {
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeSeconds?: number;
}

/**
 * How long the parts of a run take, measured as it goes, to answer: is there still time for
 * another step (or a validation pass) and for what the end of the run must do?
 */
export class RunClock {
  private readonly start = performance.now();
  /** A recent step's duration, leaning to the slow side (what the next step may take). */
  private stepSeconds = 0;
  /** The fastest step so far (a typical one: the first steps include compiling), and how many were measured. */
  private fastestStep = Infinity;
  private steps = 0;
  private evalSeconds: number | undefined;
  private saveSeconds = 0;

  /**
   * @param limit seconds the whole run may take, or undefined for no limit
   * @param evalTokens characters a validation pass predicts (for an estimate before the first pass)
   * @param tokensPerStep characters a training step processes (T·B)
   */
  constructor(private readonly limit: number | undefined, private readonly evalTokens: number, private readonly tokensPerStep: number) {}

  /** @returns seconds since the run started */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Record one training step's duration (the largest recent one counts: a step's time varies). */
  recordStep(seconds: number): void {
    this.stepSeconds = Math.max(seconds, 0.9 * this.stepSeconds);
    this.fastestStep = Math.min(this.fastestStep, seconds);
    this.steps++;
  }

  /** Record a validation pass's duration. */
  recordEval(seconds: number): void {
    this.evalSeconds = seconds;
  }

  /** Record a checkpoint write's duration (the largest so far). */
  recordSave(seconds: number): void {
    this.saveSeconds = Math.max(this.saveSeconds, seconds);
  }

  /**
   * Seconds a validation pass will take: the last one's, or before any, an estimate from a typical
   * training step (a forward pass costs about a third of a training step per character; counted as
   * half, to be safe). 0 before the first few steps, whose times say little (compiling, warming up).
   */
  evalEstimate(): number {
    if (this.evalTokens <= 0 || (this.evalSeconds === undefined && this.steps < WARM_STEPS)) return 0;
    return this.evalSeconds ?? (0.5 * this.fastestStep * this.evalTokens) / this.tokensPerStep;
  }

  /**
   * Whether `work` more seconds fit before the limit, leaving room for the end of the run.
   * @param work seconds of what would come next (a step, or a validation pass)
   * @param endEval whether the run ends with a validation pass
   * @returns true without a limit
   */
  fits(work: number, endEval: boolean): boolean {
    if (this.limit === undefined) return true;
    return this.elapsed() + work + (endEval ? this.evalEstimate() : 0) + this.saveSeconds <= this.limit;
  }

  /** @returns whether another training step fits (see `fits`) */
  fitsStep(endEval: boolean): boolean {
    return this.fits(this.stepSeconds, endEval);
  }
}

/**
 * Check a budget.
 * @param budget steps and epochs (the run's, resume-aware: RunSettings.budget) and this session's time
 * @returns the budget
 * @throws ConfigError for a negative or non-integer step count, a non-positive epoch count or time
 */
export function checkBudget(budget: Budget): Budget {
  const { steps, epochs, timeSeconds } = budget;
  if (steps !== undefined) count(steps, 0, "steps");
  if (epochs !== undefined && !(Number.isFinite(epochs) && epochs > 0)) throw new ConfigError(`epochs must be a number > 0; received ${epochs}`);
  if (timeSeconds !== undefined && !(Number.isFinite(timeSeconds) && timeSeconds > 0)) {
    throw new ConfigError(`time must be a number of seconds > 0; received ${timeSeconds}`);
  }
  return {
    ...(steps === undefined ? {} : { steps }),
    ...(epochs === undefined ? {} : { epochs }),
    ...(timeSeconds === undefined ? {} : { timeSeconds }),
  };
}

/**
 * The fraction of the tightest budget done.
 * @returns a fraction in [0, 1], or undefined without a budget
 */
export function budgetProgress(
  budget: Budget,
  step: number, position: BatchPosition, chunks: number, elapsed: number,
): number | undefined {
  const fractions: number[] = [];
  if (budget.steps !== undefined) fractions.push(step / Math.max(budget.steps, 1));
  if (budget.epochs !== undefined) fractions.push((position.epoch + position.chunk / chunks) / budget.epochs);
  if (budget.timeSeconds !== undefined) fractions.push(elapsed / budget.timeSeconds);
  return fractions.length === 0 ? undefined : Math.min(1, Math.max(...fractions));
}
