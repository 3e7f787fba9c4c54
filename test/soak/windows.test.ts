/**
 * The soak's arithmetic (windows.ts) on made-up samples: busy spans from the event order, the
 * intervals a validation pass touches left out of CPU seconds per step, medians not moved by one spike.
 */
import { describe, expect, it } from "vitest";
import { busySpans, median, windowFigures, type Arrival, type Sample } from "./windows.ts";

/** Samples every second for 20 s: 10 steps and 1 CPU second a second, RSS 100 (a spike of 900 at t = 4). */
function samples(): Sample[] {
  const out: Sample[] = [];
  let steps = 0, cpu = 0;
  for (let t = 0; t <= 20; t++) {
    out.push({ t, rss: t === 4 ? 900 : 100, hwm: 900, cpu, machineCpu: 1.5 * cpu, steps });
    // a validation pass over [9.5, 11.5]: 4 CPU seconds and no steps in the intervals it touches
    const busy = t >= 9 && t < 12;
    steps += busy ? 0 : 10;
    cpu += busy ? 4 / 3 : 1;
  }
  return out;
}

describe("busySpans", () => {
  it("spans each run of other events from the step before to the step after, the last to the end", () => {
    const arrivals: Arrival[] = [
      { t: 1, type: "step" }, { t: 2, type: "step" }, { t: 3, type: "eval" }, { t: 3.5, type: "checkpoint" },
      { t: 4, type: "step" }, { t: 5, type: "step" }, { t: 6, type: "eval" }, { t: 7, type: "done" },
    ];
    expect(busySpans(arrivals, 8)).toEqual([{ from: 2, to: 4 }, { from: 5, to: 8 }]);
    expect(busySpans([{ t: 1, type: "step" }], 2)).toEqual([]);
  });
});

describe("windowFigures", () => {
  it("leaves the intervals a busy span touches out of CPU per step, and counts them in the rest", () => {
    const w = windowFigures(samples(), [{ from: 9.5, to: 11.5 }], 0, 20, 1600);
    expect(w.cpuPerStep).toBeCloseTo(0.1, 12); // 1 CPU second / 10 steps, the pass left out
    expect(w.steps).toBe(170);
    expect(w.cpuPerStepAll).toBeCloseTo((17 + 4) / 170, 12);
    expect(w.tokensPerSec).toBeCloseTo((170 * 1600) / 20, 9);
    expect(w.otherCores).toBeCloseTo(0.5 * (21 / 20), 12);
    expect(w.busy).toBe(1);
    // without the span, the pass counts: CPU per step over everything
    expect(windowFigures(samples(), [], 0, 20, 1600).cpuPerStep).toBeCloseTo(w.cpuPerStepAll, 12);
  });

  it("takes the median RSS over the window's samples, so one spike moves nothing", () => {
    const w = windowFigures(samples(), [], 0, 10, 1600);
    expect(w.rssMedian).toBe(100);
    expect(w.rssMax).toBe(900);
    // each interval belongs to the window of its midpoint: [9, 10] (no steps) to the first, [10, 11] to the second
    expect(w.steps).toBe(90);
    expect(w.steps + windowFigures(samples(), [], 10, 21, 1600).steps).toBe(170);
  });

  it("gives NaN for a window with no samples", () => {
    const w = windowFigures(samples(), [], 30, 40, 1600);
    expect(w.rssMedian).toBeNaN();
    expect(w.cpuPerStep).toBeNaN();
  });
});

describe("median", () => {
  it("is the middle value, or the mean of the middle two", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
