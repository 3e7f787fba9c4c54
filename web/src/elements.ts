/**
 * The page's fixed elements (web/index.html), looked up once by id; the settings fields are
 * made by form.ts, the charts by the views.
 */

/**
 * An element of the page.
 * @param id its id
 * @returns the element
 * @throws Error when the page has none (index.html and the code disagree)
 */
export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

/** Every fixed element the code reads or writes. */
export const ui = {
  status: el("status"),
  kernels: el("kernels"),
  threads: el("threads"),
  /** The radio buttons: the bundled text or the user's own. */
  textSources: document.querySelectorAll<HTMLInputElement>("input[name=text-source]"),
  optionFields: el("option-fields"),
  customText: el<HTMLTextAreaElement>("custom-text"),
  textFile: el<HTMLInputElement>("text-file"),
  textInfo: el("text-info"),
  train: el<HTMLButtonElement>("btn-train"),
  step: el<HTMLButtonElement>("btn-step"),
  reset: el<HTMLButtonElement>("btn-reset"),
  save: el<HTMLButtonElement>("btn-save"),
  loadFile: el<HTMLInputElement>("load-file"),
  modelInfo: el("model-info"),
  workerError: el("err-worker"),
  lossChart: el("chart-loss"),
  speedChart: el("chart-speed"),
  throughput: el("throughput"),
  temperature: el<HTMLInputElement>("temperature"),
  temperatureValue: el<HTMLOutputElement>("temperature-value"),
  topP: el<HTMLInputElement>("top-p"),
  topPValue: el<HTMLOutputElement>("top-p-value"),
  prime: el<HTMLInputElement>("prime"),
  sample: el<HTMLButtonElement>("btn-sample"),
  samples: el("samples"),
  gradIntro: el("grad-intro"),
  gradThreads: el("grad-threads"),
  gradLayer: el<HTMLSelectElement>("grad-layer"),
  latestTerms: el("latest-terms"),
  latest: el("chart-latest"),
  heatmaps: el("heatmaps"),
  saturationIntro: el("saturation-intro"),
  saturationControls: el("saturation-controls"),
  saturationLayer: el<HTMLSelectElement>("saturation-layer"),
  saturation: el("saturation"),
  hiddenLayer: el<HTMLSelectElement>("hidden-layer"),
  hiddenStateLabel: el("hidden-state-label"),
  hiddenState: el<HTMLSelectElement>("hidden-state"),
  hiddenTerm: el("hidden-term"),
  hiddenUnit: el<HTMLInputElement>("hidden-unit"),
  hiddenUnitRange: el<HTMLInputElement>("hidden-unit-range"),
  hiddenRefresh: el<HTMLButtonElement>("btn-hidden"),
  hiddenInfo: el("hidden-info"),
  hiddenText: el("hidden-text"),
  eqCell: el("eq-cell"),
  eqForward: el("eq-forward"),
  eqBackward: el("eq-backward"),
  eqGradients: el("eq-gradients"),
};

/**
 * Record how many points a plot holds, for the end-to-end test (`data-points`).
 * @param container the plot's element
 * @param points its number of points (columns, samples, characters)
 */
export function mark(container: HTMLElement, points: number): void {
  container.dataset["points"] = String(points);
}
