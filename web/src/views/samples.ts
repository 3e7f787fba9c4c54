/** The samples: the latest few, newest first, each with how it was drawn. */
import { mark, ui } from "../elements.ts";

const MAX_SAMPLES = 4;

/**
 * Show a sample above the others (the oldest beyond MAX_SAMPLES goes).
 * @param step the model's step
 * @param temperature τ it was drawn at
 * @param topP its nucleus probability (1: none)
 * @param text the sample
 * @param requested drawn on request, rather than every N steps
 */
export function showSample(step: number, temperature: number, topP: number, text: string, requested: boolean): void {
  const item = document.createElement("figure");
  item.className = "sample";
  const caption = document.createElement("figcaption");
  caption.textContent = `${requested ? "on request" : "periodic"}, step ${step}, τ = ${temperature}${topP < 1 ? `, top-p ${topP}` : ""}`;
  const pre = document.createElement("pre");
  pre.textContent = text;
  item.append(caption, pre);
  ui.samples.prepend(item);
  while (ui.samples.children.length > MAX_SAMPLES) ui.samples.lastElementChild?.remove();
  mark(ui.samples, ui.samples.children.length);
}

/** Remove every sample. */
export function clearSamples(): void {
  ui.samples.replaceChildren();
}
