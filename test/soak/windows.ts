/**
 * The soak's figures from its samples, as pure functions (windows.test.ts checks them on made-up
 * samples): per time window, the median and peak resident set, the CPU seconds per training step,
 * the wall-clock tokens per second, and how busy the rest of the machine was.
 *
 * CPU seconds per step is counted only over the sampling intervals in which the run did nothing
 * but training steps: a validation pass or a checkpoint (a "busy span", found from the JSON
 * events) costs about 25 steps' worth of CPU, so whether a window holds three of them or four
 * would move its figure by 1–2 % and blur a drift of the step itself. `cpuPerStepAll` counts
 * everything, for reference.
 */

/** One reading of the child process and the machine. */
export interface Sample {
  /** Seconds since the child was spawned. */
  readonly t: number;
  /** Resident set, VmRSS, bytes. */
  readonly rss: number;
  /** Peak resident set so far, VmHWM, bytes. */
  readonly hwm: number;
  /** CPU seconds the child has used so far, all its threads (utime + stime). */
  readonly cpu: number;
  /** Busy CPU seconds of the whole machine so far, all cores (/proc/stat). */
  readonly machineCpu: number;
  /** Training steps done so far: the step of the last step event read. */
  readonly steps: number;
}

/** An event of the run as it arrived. */
export interface Arrival {
  /** Seconds since the child was spawned. */
  readonly t: number;
  /** The event's type: "step", "eval", "checkpoint", "sample" or "done". */
  readonly type: string;
}

/** A time span in seconds since the spawn, [from, to]. */
export interface Span {
  readonly from: number;
  readonly to: number;
}

/**
 * The spans in which the run did something besides training steps: from the step event before
 * each run of other events to the step event after it (or `end`, for those after the last step).
 * The trainer validates and writes checkpoints between two steps, and the CLI writes each event
 * as it happens (libuv writes to a pipe at once unless the pipe is full, and the soak reads it
 * continuously), so such a span covers the whole pass.
 * @param arrivals the events in the order read
 * @param end seconds since the spawn when the child exited
 * @returns the spans, in time order
 */
export function busySpans(arrivals: readonly Arrival[], end: number): Span[] {
  const spans: Span[] = [];
  let lastStep = 0;
  let openSince: number | undefined;
  for (const a of arrivals) {
    if (a.type === "step") {
      if (openSince !== undefined) spans.push({ from: openSince, to: a.t });
      openSince = undefined;
      lastStep = a.t;
    } else if (openSince === undefined) {
      openSince = lastStep;
    }
  }
  if (openSince !== undefined) spans.push({ from: openSince, to: end });
  return spans;
}

/** What one window of the run measured. */
export interface WindowFigures {
  /** Seconds since the spawn: the window is [from, to). */
  readonly from: number;
  readonly to: number;
  /** Median and largest VmRSS of the samples in the window, bytes. */
  readonly rssMedian: number;
  readonly rssMax: number;
  /** VmHWM at the window's last sample, bytes. */
  readonly hwm: number;
  /** Steps done in the window. */
  readonly steps: number;
  /** CPU seconds per step over the intervals with training steps only (NaN if there are none). */
  readonly cpuPerStep: number;
  /** CPU seconds per step over the whole window, validation and checkpoints included. */
  readonly cpuPerStepAll: number;
  /** Steps over all intervals of the window, per wall-clock second (validation included), times tokensPerStep. */
  readonly tokensPerSec: number;
  /** Cores the other processes of the machine kept busy, on average over the window. */
  readonly otherCores: number;
  /** Busy spans (validation passes, checkpoints) that start in the window. */
  readonly busy: number;
}

/**
 * The figures of the window [from, to): the samples taken in it, and the sampling intervals whose
 * midpoint falls in it (each interval counts once, in one window).
 * @param samples in time order
 * @param busy from busySpans
 * @param tokensPerStep B · T
 * @returns the window's figures (NaN where it holds no samples or no intervals)
 */
export function windowFigures(samples: readonly Sample[], busy: readonly Span[], from: number, to: number, tokensPerStep: number): WindowFigures {
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  let steps = 0, seconds = 0, cpu = 0, machine = 0, pureSteps = 0, pureCpu = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as Sample, b = samples[i] as Sample;
    const mid = (a.t + b.t) / 2;
    if (mid < from || mid >= to) continue;
    const dSteps = b.steps - a.steps, dCpu = b.cpu - a.cpu;
    steps += dSteps;
    seconds += b.t - a.t;
    cpu += dCpu;
    machine += b.machineCpu - a.machineCpu;
    if (!busy.some((s) => s.from <= b.t && s.to >= a.t)) {
      pureSteps += dSteps;
      pureCpu += dCpu;
    }
  }
  const rss = inside.map((s) => s.rss);
  return {
    from, to,
    rssMedian: median(rss),
    rssMax: rss.length === 0 ? NaN : Math.max(...rss),
    hwm: inside.at(-1)?.hwm ?? NaN,
    steps,
    cpuPerStep: pureSteps > 0 ? pureCpu / pureSteps : NaN,
    cpuPerStepAll: steps > 0 ? cpu / steps : NaN,
    tokensPerSec: seconds > 0 ? (steps * tokensPerStep) / seconds : NaN,
    otherCores: seconds > 0 ? (machine - cpu) / seconds : NaN,
    busy: busy.filter((s) => s.from >= from && s.from < to).length,
  };
}

/**
 * The median (the mean of the middle two for an even count).
 * @returns NaN for no values
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length % 2 === 1 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}
