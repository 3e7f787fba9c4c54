import { afterEach, describe, expect, it, vi } from "vitest";
import { formatBytes, readProgress, StatusLine } from "./progress.ts";

describe("formatBytes", () => {
  it("shows decimal units", () => {
    expect([0, 999, 1500, 45_300_000, 450_000_000, 1_234_567_890].map(formatBytes)).toEqual(["0 B", "999 B", "1.5 kB", "45.3 MB", "450 MB", "1.2 GB"]);
  });
});

describe("readProgress", () => {
  afterEach(() => vi.useRealTimers());

  it("shows nothing for a quick read, then bar, percentage and speed, and the end of a long one", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const lines: string[] = [];
    const status = new StatusLine({ stdout: () => {}, stderr: (t) => lines.push(t), stderrIsTTY: false }, 10);
    const quick = readProgress(status, "small.txt");
    quick(50, 100);
    quick(100, 100);
    expect(lines).toEqual([]);
    const slow = readProgress(status, "big.txt");
    vi.advanceTimersByTime(1000);
    slow(1.2e9, 4e9);
    vi.advanceTimersByTime(1000);
    slow(2e9, 4e9); // within 10 s of the last plain line: not shown
    vi.advanceTimersByTime(1000);
    slow(4e9, 4e9); // the end is always shown
    expect(lines).toEqual([
      "reading big.txt [######--------------] 30%  1.2 GB/s\n",
      "reading big.txt [####################] 100%  1.3 GB/s\n",
    ]);
  });
});
