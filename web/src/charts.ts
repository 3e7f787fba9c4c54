/**
 * The playground's plots, all drawn by uPlot: line charts over training steps or over t, and
 * heatmaps over steps × t.
 *
 * Heatmaps: uPlot has no heatmap series type, so a heatmap is a uPlot chart whose axes, scales,
 * cursor and legend are uPlot's and whose cells are drawn by a `draw` hook (the route uPlot's own
 * heatmap demos take). Each column (one chunk's values for t = 1..T) is rendered once into a
 * 1-pixel-wide strip of an offscreen canvas; a redraw only stretches the strips into place
 * (`drawImage`, one call per column), so it stays cheap with hundreds of columns.
 */
import uPlot from "uplot";

/**
 * Charts redraw at most this often (ms): the page shares the machine's cores with the training
 * worker, and a redraw per message would take time from training on a 2-core machine.
 */
const REDRAW_MS = 250;

/**
 * Run `draw` on an animation frame at most once per REDRAW_MS, however often it is requested.
 * @returns the function that requests a draw
 */
export function throttled(draw: () => void): () => void {
  let pending = false;
  let last = 0;
  return () => {
    if (pending) return;
    pending = true;
    setTimeout(() => requestAnimationFrame(() => {
      pending = false;
      last = performance.now();
      draw();
    }), Math.max(0, last + REDRAW_MS - performance.now()));
  };
}

/** Line colours, chosen to stay apart for colour-blind readers (Okabe–Ito). */
export const COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"] as const;

/** A line chart whose data grows (or is replaced) over time. */
export class LineChart {
  readonly plot: uPlot;
  private readonly observer: ResizeObserver;
  private pending: uPlot.AlignedData | undefined;
  private readonly redraw = throttled(() => {
    if (this.pending !== undefined) this.plot.setData(this.pending);
  });

  /**
   * @param container where the chart goes (its width is followed)
   * @param opts x label, y label, series, log scale for y
   */
  constructor(
    readonly container: HTMLElement,
    opts: { readonly x: string; readonly y: string; readonly series: readonly uPlot.Series[]; readonly logY?: boolean; readonly height?: number },
  ) {
    const data: uPlot.AlignedData = [[], ...opts.series.map(() => [])];
    this.plot = new uPlot(
      {
        width: Math.max(200, container.clientWidth),
        height: opts.height ?? 220,
        scales: { x: { time: false }, y: opts.logY === true ? { distr: 3 } : {} },
        axes: [{ label: opts.x }, { label: opts.y, size: 60 }],
        series: [{ label: opts.x }, ...opts.series],
        legend: { live: true },
      },
      data,
      container,
    );
    this.observer = followWidth(container, this.plot);
  }

  /** Remove the chart from its container (a new layout replaces it). */
  dispose(): void {
    this.observer.disconnect();
    this.pending = undefined;
    this.plot.destroy();
  }

  /**
   * Replace the data (drawn soon, at most once per REDRAW_MS).
   * @param data x values, then one array per series (null = no point)
   */
  setData(data: uPlot.AlignedData): void {
    this.pending = data;
    this.redraw();
  }
}

/** One column of a heatmap: the values at t = 1..T of one training step. */
interface Column {
  readonly step: number;
  readonly values: Float32Array;
}

/** At most this many columns are kept; beyond it every other one is dropped (and later ones thinned alike). */
const MAX_COLUMNS = 600;

/** A heatmap over training steps (x) × t (y), colour = log10 of the value. */
export class Heatmap {
  readonly plot: uPlot;
  private readonly observer: ResizeObserver;
  private columns: Column[] = [];
  /** Accept one column in `stride` (grows when the heatmap is thinned). */
  private stride = 1;
  private offered = 0;
  private strips: HTMLCanvasElement | undefined;
  private T = 0;
  private logMin = 0;
  private logMax = 0;
  private disposed = false;
  private readonly schedule = throttled(() => {
    if (!this.disposed) this.render();
  });

  /**
   * @param container where the chart goes
   * @param label what the colour shows, for the legend
   */
  constructor(readonly container: HTMLElement, label: string) {
    this.plot = new uPlot(
      {
        width: Math.max(200, container.clientWidth),
        height: 240,
        scales: { x: { time: false }, y: { auto: false, range: [0.5, 1.5] } },
        axes: [{ label: "training step" }, { label: "t (step within the chunk)", size: 60 }],
        series: [{ label: "step" }, { label, paths: () => null, points: { show: false }, stroke: "transparent" }],
        legend: { show: false },
        cursor: { points: { show: false } },
        hooks: { draw: [(u) => this.drawCells(u)] },
      },
      [[], []],
      container,
    );
    this.observer = followWidth(container, this.plot);
  }

  /** Remove the heatmap from its container (a new layout replaces it). */
  dispose(): void {
    this.observer.disconnect();
    this.disposed = true; // a redraw already scheduled finds nothing to do
    this.plot.destroy();
  }

  /** Number of columns drawn. */
  get columnCount(): number {
    return this.columns.length;
  }

  /** The colour range: log10 of the values shown darkest and brightest (1st and 99th percentiles). */
  get range(): [number, number] {
    return [this.logMin, this.logMax];
  }

  /** Forget every column (a new run). */
  clear(): void {
    this.columns = [];
    this.stride = 1;
    this.offered = 0;
    this.T = 0;
    this.schedule();
  }

  /**
   * Add the column of one training step.
   * @param step the step (x)
   * @param values (T) value at t = 1..T
   */
  add(step: number, values: Float32Array): void {
    if (values.length !== this.T) {
      this.columns = []; // a different T (a loaded model): start over
      this.T = values.length;
    }
    if (this.offered++ % this.stride !== 0) return;
    this.columns.push({ step, values });
    if (this.columns.length > MAX_COLUMNS) {
      this.columns = this.columns.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
    this.schedule();
  }

  /** Rebuild the strips (one pixel column per step, one pixel per t) and hand the x range to uPlot. */
  private render(): void {
    const n = this.columns.length;
    // colour range: the 1st to 99th percentile of log10(value), so that a few extreme chunks
    // (the first steps of a run) do not wash out the rest; values beyond it are clamped
    const logs: number[] = [];
    for (const c of this.columns) for (const v of c.values) if (v > 0) logs.push(Math.log10(v));
    logs.sort((a, b) => a - b);
    let lo = logs[Math.floor(0.01 * (logs.length - 1))] ?? 0;
    let hi = logs[Math.ceil(0.99 * (logs.length - 1))] ?? 1;
    if (hi - lo < 1e-6) hi = lo + 1e-6;
    this.logMin = lo;
    this.logMax = hi;
    if (n > 0 && this.T > 0) {
      const canvas = this.strips ?? document.createElement("canvas");
      this.strips = canvas;
      canvas.width = n;
      canvas.height = this.T;
      const ctx = canvas.getContext("2d");
      if (ctx !== null) {
        const image = ctx.createImageData(n, this.T);
        this.columns.forEach((c, x) => {
          for (let t = 1; t <= this.T; t++) {
            const v = c.values[t - 1];
            const rgb = v > 0 ? viridis((Math.log10(v) - lo) / (hi - lo)) : [0, 0, 0];
            const o = ((this.T - t) * n + x) * 4; // row 0 of the image is the top: t = T
            image.data[o] = rgb[0];
            image.data[o + 1] = rgb[1];
            image.data[o + 2] = rgb[2];
            image.data[o + 3] = 255;
          }
        });
        ctx.putImageData(image, 0, 0);
      }
    }
    const xs = this.columns.map((c) => c.step);
    this.plot.batch(() => {
      this.plot.setData([xs, xs.map(() => null)]);
      this.plot.setScale("y", { min: 0.5, max: Math.max(this.T, 1) + 0.5 });
      if (n > 0) {
        const last = xs[n - 1];
        const width = n > 1 ? (last - xs[0]) / (n - 1) : 1;
        this.plot.setScale("x", { min: xs[0], max: last + width });
      }
    });
  }

  /** uPlot draw hook: stretch each column's strip over [its step, the next column's step). */
  private drawCells(u: uPlot): void {
    const strips = this.strips;
    const n = this.columns.length;
    if (strips === undefined || n === 0 || strips.width !== n) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    const yTop = u.valToPos(this.T + 0.5, "y", true);
    const yBottom = u.valToPos(0.5, "y", true);
    const xMax = u.scales.x.max ?? 0;
    for (let i = 0; i < n; i++) {
      const x0 = u.valToPos(this.columns[i].step, "x", true);
      const x1 = u.valToPos(i + 1 < n ? this.columns[i + 1].step : xMax, "x", true);
      ctx.drawImage(strips, i, 0, 1, this.T, x0, yTop, Math.max(1, x1 - x0 + 0.5), yBottom - yTop);
    }
    ctx.restore();
  }
}

/**
 * The viridis colour map (matplotlib's; perceptually uniform, readable in grey and by colour-blind
 * readers), by linear interpolation between 9 of its stops.
 * @param x position in [0, 1] (clamped)
 * @returns [r, g, b] in 0..255
 */
export function viridis(x: number): [number, number, number] {
  const stops = VIRIDIS;
  const p = Math.min(1, Math.max(0, x)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(p));
  const f = p - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [Math.round(a[0] + f * (b[0] - a[0])), Math.round(a[1] + f * (b[1] - a[1])), Math.round(a[2] + f * (b[2] - a[2]))];
}

const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37],
];

/** Resize a chart with its container; returns the observer (to disconnect when the chart goes). */
function followWidth(container: HTMLElement, plot: uPlot): ResizeObserver {
  const observer = new ResizeObserver(() => {
    const width = Math.max(200, container.clientWidth);
    if (Math.abs(width - plot.width) > 1) plot.setSize({ width, height: plot.height });
  });
  observer.observe(container);
  return observer;
}
