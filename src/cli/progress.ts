/**
 * Human progress for long work on stderr: a live one-line bar on a terminal (redrawn at most
 * 10 times a second), plain lines at a steady pace otherwise (logs, CI, pipes).
 */
import type { CliIO } from "./args.ts";

/** Seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** 12345 → "12.3k". */
export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** 1234567 → "1.2 MB" (decimal units, as file managers and `ls -h --si` show sizes). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n.toFixed(0)} B`;
}

/** Seconds of reading after which `readProgress` starts to show it (a small file shows nothing). */
const READ_PROGRESS_AFTER = 0.5;

/**
 * Progress of reading a file, for readCorpusFile's `onProgress`: "reading big.txt [####----] 45%  1.2 GB/s"
 * on the status line, once reading has taken half a second (and at its end, if it was shown).
 * @param status the status line
 * @param name what is read, as the user named it
 * @returns the callback: bytes processed so far and in all
 */
export function readProgress(status: StatusLine, name: string): (done: number, total: number) => void {
  const t0 = performance.now();
  return (done, total) => {
    const seconds = (performance.now() - t0) / 1000;
    if (seconds < READ_PROGRESS_AFTER) return;
    const f = total > 0 ? Math.min(1, done / total) : 1;
    status.update(`reading ${name} ${bar(f)} ${(f * 100).toFixed(0)}%  ${formatBytes(done / seconds)}/s`, done >= total);
  };
}

/** A status line that is redrawn in place on a TTY and printed every few seconds elsewhere. */
export class StatusLine {
  private lastDraw = -Infinity;
  private drawn = false;
  private readonly io: CliIO;
  private readonly plainEverySeconds: number;

  /**
   * @param io where to write (stderr)
   * @param plainEverySeconds pace of plain lines when stderr is not a terminal
   */
  constructor(io: CliIO, plainEverySeconds = 10) {
    this.io = io;
    this.plainEverySeconds = plainEverySeconds;
  }

  /**
   * Offer a new status; it is shown if enough time has passed (or when forced).
   * @param text the line, without newline
   * @param force show it now
   */
  update(text: string, force = false): void {
    const t = performance.now() / 1000;
    if (this.io.stderrIsTTY) {
      if (!force && t - this.lastDraw < 0.1) return;
      const width = process.stderr.columns ?? 100;
      this.io.stderr(`\r\x1b[2K${text.length > width - 1 ? text.slice(0, width - 1) : text}`);
      this.drawn = true;
    } else {
      if (!force && t - this.lastDraw < this.plainEverySeconds) return;
      this.io.stderr(`${text}\n`);
    }
    this.lastDraw = t;
  }

  /**
   * Print a whole line (or block) above the status line, which is redrawn next time.
   * @param text text without trailing newline
   */
  print(text: string): void {
    if (this.io.stderrIsTTY && this.drawn) this.io.stderr("\r\x1b[2K");
    this.drawn = false;
    this.io.stderr(`${text}\n`);
    this.lastDraw = -Infinity;
  }

  /** End the live line so that later output starts on a fresh line. */
  finish(): void {
    if (this.io.stderrIsTTY && this.drawn) this.io.stderr("\n");
    this.drawn = false;
  }
}

/**
 * A text progress bar.
 * @param fraction in [0, 1]
 * @param width characters inside the brackets
 */
export function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}
