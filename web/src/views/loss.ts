/** The loss chart (per chunk, smoothed, validation) and the tokens/s chart, over training steps. */
import { COLORS, LineChart } from "../charts.ts";
import { mark, ui } from "../elements.ts";
import { page } from "../state.ts";

const lossChart = new LineChart(ui.lossChart, {
  x: "training step", y: "nats / char",
  series: [
    { label: "train (chunk)", stroke: "#bbb", width: 1 },
    { label: "train (smoothed)", stroke: COLORS[0], width: 2 },
    { label: "validation", stroke: COLORS[1], width: 2, spanGaps: true, points: { show: true, size: 6 } },
  ],
});
const speedChart = new LineChart(ui.speedChart, {
  x: "training step", y: "tokens / s", height: 160,
  series: [{ label: "tokens/s", stroke: COLORS[2], width: 2 }],
});

/** Draw both charts from the histories (the charts redraw at most 4 times a second). */
export function drawLoss(): void {
  const { loss, speed } = page;
  lossChart.setData([loss.steps, loss.chunk, loss.smooth, loss.val]);
  mark(lossChart.container, loss.steps.length);
  // the first and latest losses and the validation count, for the end-to-end test
  const firstLoss = loss.chunk.find((v) => Number.isFinite(v));
  const lastSmooth = loss.smooth[loss.smooth.length - 1];
  lossChart.container.dataset["first"] = String(firstLoss ?? NaN);
  lossChart.container.dataset["last"] = String(lastSmooth ?? NaN);
  lossChart.container.dataset["val"] = String(loss.val.filter((v) => v !== null).length);
  speedChart.setData([speed.steps, speed.rate]);
  mark(speedChart.container, speed.steps.length);
}
