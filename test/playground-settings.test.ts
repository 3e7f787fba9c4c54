/**
 * The playground's settings form rules (web/src/settings.ts): inline messages instead of exceptions;
 * and the worker's check of what it receives (web/src/protocol.ts). (The worker's own pass for the
 * gradient views of a run on several threads is the library's `nextChunk`: test/next-chunk.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf } from "../src/cells/index.ts";
import { randomMarkovSource, sampleMarkov } from "../src/data/markov.ts";
import type { Checkpoint } from "../src/io/checkpoint.ts";
import { portableKernels } from "../src/kernels/portable.ts";
import { Rng } from "../src/rng.ts";
import { ConfigError } from "../src/errors.ts";
import { keptOnResume, TRAIN_SCHEMA } from "../src/train/schema.ts";
import { checkpointOptions, prepareRun } from "../src/train/run-state.ts";
import { train, TRAIN_DEFAULTS } from "../src/train/trainer.ts";
import { parseCommand, SETTING_KEYS, type Settings } from "../web/src/protocol.ts";
import {
  cellChoices, codePoints, DEFAULT_SETTINGS, LIMITS, LOCKED_WITH_MODEL, modelSettings, parseSettings, rawSettings, shownSettings, VAL_FRACTION,
} from "../web/src/settings.ts";

const raw = rawSettings(DEFAULT_SETTINGS);

describe("playground settings", () => {
  it("round-trip the defaults, which are a new run's (the option table's), but the page's model and cadence", () => {
    expect(parseSettings(raw, 100_000)).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
    // lr's default depends on the optimizer (adam's 2e-3); the page starts on the article's model
    const { evalEvery, sampleEvery, lr, cell, layers, dropout, outputDropout, threads, ...rest } = DEFAULT_SETTINGS;
    expect({ cell, layers, dropout, outputDropout }).toEqual({ cell: "rnn", layers: 1, dropout: 0, outputDropout: 0 });
    expect(rest).toEqual(Object.fromEntries(Object.keys(rest).map((k) => [k, TRAIN_DEFAULTS[k as keyof typeof TRAIN_DEFAULTS]])));
    expect(VAL_FRACTION).toBe(TRAIN_DEFAULTS.valFraction);
    expect(rest).toMatchObject({ weightDecay: 0, warmup: 0, clip: 0 });
    expect([lr, evalEvery, sampleEvery]).toEqual([2e-3, 200, 100]);
    // the browser's cores, as the CLI's default is the machine's (Node 20, without navigator: 1)
    expect(threads).toBe(Math.min(globalThis.navigator?.hardwareConcurrency ?? 1, LIMITS.threads));
    const changed = { ...DEFAULT_SETTINGS, layers: 2, weightDecay: 0.01, dropout: 0.25, outputDropout: 0.5, warmup: 100, bias: false };
    expect(parseSettings(rawSettings(changed), 100_000)).toEqual({ ok: true, settings: changed });
  });

  it("give one message per bad field, saying what was received", () => {
    const parsed = parseSettings({ ...raw, hiddenSize: "12.5", layers: "", lr: "-1", clip: "x", nonlinearity: "gelu", seed: "1e12" }, 100_000);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    // the messages of the library's option table (src/train/schema.ts), with the page's narrower limits
    expect(parsed.errors.get("hiddenSize")).toMatch(/expected an integer in \[1, 1024\]; received "12.5"/);
    expect(parsed.errors.get("layers")).toMatch(/received ""/);
    expect(parsed.errors.get("lr")).toMatch(/expected a number in \(0, 1000000000000\]; received "-1"/);
    expect(parsed.errors.get("clip")).toMatch(/expected a number in \[0, 1000000000\]; received "x"/);
    expect(parsed.errors.get("nonlinearity")).toMatch(/tanh, relu, sigmoid/);
    expect(parsed.errors.get("seed")).toBeDefined();
    expect([...parsed.errors.keys()].sort()).toEqual(["clip", "hiddenSize", "layers", "lr", "nonlinearity", "seed"]);
  });

  it("check weight decay, dropout and warm-up by the option table", () => {
    const parsed = parseSettings({ ...raw, layers: "2", weightDecay: "-1", dropout: "1", outputDropout: "0.5x", warmup: "2.5", bias: "maybe" }, 100_000);
    expect(parsed.ok ? undefined : Object.fromEntries(parsed.errors)).toEqual({
      weightDecay: 'expected a number in [0, 1000000000]; received "-1"',
      dropout: 'expected a number in [0, 1); received "1"',
      outputDropout: 'expected a number in [0, 1); received "0.5x"',
      warmup: 'expected an integer in [0, 2^53 − 1]; received "2.5"',
      bias: 'expected true or false; received "maybe"',
    });
  });

  it("refuse dropout between layers for one layer, at the dropout field, with the library's reason", () => {
    const one = parseSettings({ ...raw, layers: "1", dropout: "0.2" }, 100_000);
    expect(one.ok ? undefined : [...one.errors]).toEqual([
      ["dropout", expect.stringMatching(/^expected 0 with 1 layer: dropout acts between stacked layers \(as PyTorch's\).*output dropout.*received "0.2"$/)],
    ]);
    expect(parseSettings({ ...raw, layers: "2", dropout: "0.2" }, 100_000)).toMatchObject({ ok: true, settings: { layers: 2, dropout: 0.2 } });
    // the last layer's output may drop out with one layer; and a bad layers field is its own message
    expect(parseSettings({ ...raw, layers: "1", outputDropout: "0.2" }, 100_000)).toMatchObject({ ok: true, settings: { outputDropout: 0.2 } });
    const badLayers = parseSettings({ ...raw, layers: "0", dropout: "0.2" }, 100_000);
    expect(badLayers.ok ? undefined : [...badLayers.errors.keys()]).toEqual(["layers"]);
  });

  it("take the cell, whose nonlinearity is its own for the gated cells", () => {
    // every registered cell but the page's default (the simple RNN, whose f1 is the default's tanh too)
    for (const cell of CELL_NAMES.filter((name) => name !== DEFAULT_SETTINGS.cell)) {
      expect(cellOf(cell).nonlinearities[0]).toBe(DEFAULT_SETTINGS.nonlinearity);
      expect(parseSettings({ ...raw, cell }, 100_000)).toEqual({ ok: true, settings: { ...DEFAULT_SETTINGS, cell } });
    }
    expect(parseSettings({ ...raw, cell: "rnn", nonlinearity: "relu" }, 100_000)).toMatchObject({ ok: true, settings: { cell: "rnn", nonlinearity: "relu" } });
    const unknown = parseSettings({ ...raw, cell: "transformer" }, 100_000);
    expect(unknown.ok ? undefined : [...unknown.errors]).toEqual([["cell", `expected one of ${CELL_NAMES.join(", ")}; received "transformer"`]]);
    // a gated cell has no choice of f1 (the page shows tanh, disabled): a form that says otherwise is refused, at the field
    for (const cell of CELL_NAMES.filter((name) => !cellOf(name).nonlinearities.includes("relu"))) {
      const gated = parseSettings({ ...raw, cell, nonlinearity: "relu" }, 100_000);
      const message = new RegExp(`expected ${cellOf(cell).nonlinearities.join(", ")} for the ${cellOf(cell).title} .*received "relu"`);
      expect(gated.ok ? undefined : [...gated.errors], cell).toEqual([["nonlinearity", expect.stringMatching(message)]]);
    }
    const gru = parseSettings({ ...raw, cell: "gru", nonlinearity: "sigmoid" }, 100_000);
    expect(gru.ok ? undefined : gru.errors.get("nonlinearity")).toMatch(/expected tanh for the GRU/);
  });

  it("offer every registered cell by its title, the three of today as before", () => {
    expect(Object.keys(cellChoices())).toEqual(CELL_NAMES);
    for (const name of CELL_NAMES) expect(cellChoices()[name]).toBe(cellOf(name).title);
    expect(cellChoices()).toMatchObject({ rnn: "RNN", lstm: "LSTM", gru: "GRU" });
  });

  it("take 1 to LIMITS.threads threads", () => {
    expect(parseSettings({ ...raw, threads: "2" }, 100_000)).toMatchObject({ ok: true, settings: { threads: 2 } });
    for (const bad of ["0", "17", "1.5", ""]) {
      const parsed = parseSettings({ ...raw, threads: bad }, 100_000);
      expect(parsed.ok ? undefined : [...parsed.errors], bad).toEqual([["threads", `expected an integer in [1, 16]; received ${JSON.stringify(bad)}`]]);
    }
  });

  it("refuse a text too short for one chunk, with the numbers", () => {
    const parsed = parseSettings({ ...raw, batchSize: "4", seqLength: "10" }, 40);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.get("text")).toMatch(/40 characters \(36 for training\).*B·\(T\+1\) = 44/);
    expect(parsed.ok ? undefined : parsed.errors.size).toBe(1);
    expect(parseSettings({ ...raw, batchSize: "4", seqLength: "10" }, 60).ok).toBe(true);
  });

  it("count characters as code points, like the vocabulary", () => {
    expect(codePoints("abc")).toBe(3);
    expect(codePoints("a😀b")).toBe(3);
    expect(codePoints("日本語")).toBe(3);
    expect(codePoints("\ud800x")).toBe(2); // a lone surrogate counts as one
  });
});

describe("the playground's settings of a model", () => {
  const text = sampleMarkov(randomMarkovSource(6, 3), 3000, new Rng(4));
  const settings: Settings = { ...DEFAULT_SETTINGS, hiddenSize: 4, seqLength: 8, batchSize: 2, threads: 1 };
  const trained = async (): Promise<Checkpoint> => {
    const { sampleEvery: _, ...options } = settings;
    return (await train({ ...options, text, steps: 2, evalEvery: 0, kernels: portableKernels })).checkpoint;
  };
  /** A changed value of each setting, valid on the page. */
  const changed: { readonly [K in keyof Settings]: Settings[K] } = {
    cell: "gru", hiddenSize: 5, layers: 2, nonlinearity: "relu", bias: false, seqLength: 9, batchSize: 3, optimizer: "sgd", seed: 2,
    lr: 0.5, weightDecay: 0.1, clip: 1, clipNorm: 2, dropout: 0, outputDropout: 0.3, warmup: 4, evalEvery: 7, sampleEvery: 3, threads: 2,
  };

  it("lock exactly what the library keeps on resume: a changed value of a locked field is refused, of another taken", async () => {
    const ckpt = await trained();
    expect(LOCKED_WITH_MODEL).toEqual(SETTING_KEYS.filter((key) => keptOnResume(TRAIN_SCHEMA[key])));
    const refused = SETTING_KEYS.filter((key) => {
      // (dropout between layers must stay 0 with one layer)
      if (changed[key] === settings[key] && key !== "dropout") throw new Error(`${key}: the test's value is not a change`);
      try {
        prepareRun({ text, resume: ckpt, [key]: changed[key] }, portableKernels).release();
        return false;
      } catch (e) {
        if (!(e instanceof ConfigError) || !/a resumed run keeps/.test(e.message)) throw e;
        return true;
      }
    });
    expect(refused).toEqual(LOCKED_WITH_MODEL);
    expect(LOCKED_WITH_MODEL).toEqual(["cell", "hiddenSize", "layers", "nonlinearity", "bias", "seqLength", "batchSize", "optimizer", "seed"]);
  });

  it("show a checkpoint's own settings, but the page's cadence and threads", async () => {
    const ckpt = await trained();
    const stored = checkpointOptions(ckpt);
    expect(stored).toMatchObject({ hiddenSize: 4, seqLength: 8, batchSize: 2, evalEvery: 0, lr: settings.lr, threads: 1 });
    const shown = shownSettings(stored);
    expect(Object.keys(shown).sort()).toEqual(["batchSize", "clip", "clipNorm", "dropout", "lr", "optimizer", "outputDropout", "seed", "seqLength", "warmup", "weightDecay"]);
    expect({ ...modelSettings(ckpt.config), ...shown }).toEqual(Object.fromEntries(
      SETTING_KEYS.filter((key) => !["evalEvery", "sampleEvery", "threads"].includes(key)).map((key) => [key, settings[key]]),
    ));
    // a model without training state (bptt init) has its shape only
    expect(shownSettings(checkpointOptions({ ...ckpt, metadata: {} }))).toEqual({});
  });
});

describe("playground worker commands", () => {
  const train = (settings: unknown): unknown => ({ type: "train", settings, text: "abc", steps: undefined });

  it.each(CELL_NAMES)("accept the settings of every cell: %s", (cell) => {
    expect(parseCommand(train({ ...DEFAULT_SETTINGS, cell }))).toEqual(train({ ...DEFAULT_SETTINGS, cell }));
  });

  it("check every setting by the option table, the new ones too", () => {
    const settings = { ...DEFAULT_SETTINGS, layers: 2, weightDecay: 0.1, dropout: 0.3, outputDropout: 0.2, warmup: 50 };
    expect(parseCommand(train(settings))).toEqual(train(settings));
    for (const bad of [
      { weightDecay: -1 }, { dropout: 1 }, { outputDropout: -0.1 }, { warmup: 1.5 }, { warmup: undefined }, { hiddenSize: 0 }, { bias: "true" },
      { threads: 0 }, { threads: undefined },
    ]) {
      expect(parseCommand(train({ ...settings, ...bad })), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it("refuse settings without a known cell, f1 or optimizer", () => {
    const { cell: _cell, ...noCell } = DEFAULT_SETTINGS;
    expect(parseCommand(train(noCell))).toBeUndefined();
    expect(parseCommand(train({ ...DEFAULT_SETTINGS, cell: "transformer" }))).toBeUndefined();
    expect(parseCommand(train({ ...DEFAULT_SETTINGS, nonlinearity: "gelu" }))).toBeUndefined();
    expect(parseCommand(train({ ...DEFAULT_SETTINGS, optimizer: "lion" }))).toBeUndefined();
  });

  it("carry the nucleus probability of samples, in (0, 1]", () => {
    expect(parseCommand({ type: "sample", temperature: 0.8, topP: 0.9, length: 300, prime: "A" })).toEqual({ type: "sample", temperature: 0.8, topP: 0.9, length: 300, prime: "A" });
    expect(parseCommand({ type: "sampling", temperature: 1, topP: 1 })).toEqual({ type: "sampling", temperature: 1, topP: 1 });
    for (const topP of [0, 1.5, undefined, "0.9"]) {
      expect(parseCommand({ type: "sample", temperature: 1, topP, length: 10, prime: "" }), String(topP)).toBeUndefined();
    }
  });

  it("want the state index of a hidden-state request", () => {
    expect(parseCommand({ type: "hidden", layer: 0, state: 1, passage: "x" })).toEqual({ type: "hidden", layer: 0, state: 1, passage: "x" });
    expect(parseCommand({ type: "hidden", layer: 0, passage: "x" })).toBeUndefined();
    expect(parseCommand({ type: "hidden", layer: 0, state: -1, passage: "x" })).toBeUndefined();
  });
});
