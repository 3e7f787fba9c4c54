/**
 * A cell is its folder and one registry line (docs/architecture.md, How to add a cell), shown for
 * real. A copy of the repository (src/, test/, web/, bench/, scripts/ and the configs) gets a
 * fourth cell, the minimal gated unit of test/fixtures/fourth-cell/mgu/ (G = 2 gates f and n, a
 * gate count no other cell has; a fast layer on the portable Kernels, a float64 reference, a view,
 * no ONNX operator), as src/cells/mgu/ and one import and one entry in src/cells/index.ts, and
 * nothing else. In that copy the typecheck passes (library, tests, page and its worker), and the
 * existing tests that loop over every registered cell run for the new one and pass: its spec's
 * consistency, the gradcheck
 * of the reference (finite differences in float64), the fast engine against the reference
 * (portable, WebAssembly and threaded), the checkpoint round trip, a training run resumed bit for
 * bit through its file, the export's refusal of a cell without an ONNX operator, and the page's settings.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { suiteTempDir } from "./helpers.ts";

const ROOT = join(import.meta.dirname, "..");
const FIXTURE = join(import.meta.dirname, "fixtures", "fourth-cell", "mgu");
const run = promisify(execFile);

/** What the copy holds: everything the typecheck reads (the library, its tests, the page, the benchmarks, the scripts). */
const COPIED = ["src", "test", "web", "bench", "scripts", "tsconfig.json", "vitest.config.ts", "package.json"];
/** The tests that loop over every registered cell, each of which must run for the new cell (its tests' names name it). */
const PER_CELL = [
  "src/cells/index.test.ts", "test/gradcheck.test.ts", "test/engine.test.ts", "src/io/checkpoint.test.ts", "test/train.test.ts", "test/onnx-export.test.ts",
  "test/playground-settings.test.ts",
];

/** Every file under dir (but the linked node_modules and dist), by path relative to root, with a hash of its bytes. */
function contents(root: string, dir = root, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (dir === root && (name === "node_modules" || name === "dist")) continue;
    if (statSync(path).isDirectory()) contents(root, path, out);
    else out.set(relative(root, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
  }
  return out;
}

/** A child process's environment without this run's vitest variables, so that the copy's vitest is a run of its own. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "TEST"));
}

interface VitestReport {
  readonly success: boolean;
  readonly testResults: readonly { readonly name: string; readonly assertionResults: readonly { readonly fullName: string; readonly status: string }[] }[];
}

describe("a fourth cell is its folder and one registry line", () => {
  const copy = suiteTempDir("bptt-fourth-cell-");

  it("registers the MGU in a copy of the repository; the typecheck and every per-cell test pass there, for it too", async () => {
    const built = join(ROOT, "web", "dist"); // the page's build, not its source
    for (const path of COPIED) cpSync(join(ROOT, path), join(copy, path), { recursive: true, filter: (from) => !from.startsWith(built) });
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    // the WebAssembly kernels, built (src/kernels/wasm.ts reads them from dist/kernels/ when run from source)
    symlinkSync(join(ROOT, "dist"), join(copy, "dist"));
    const before = contents(copy);

    // the cell's folder, and its line in the registry (with its import)
    cpSync(FIXTURE, join(copy, "src", "cells", "mgu"), { recursive: true });
    const registry = join(copy, "src", "cells", "index.ts");
    const source = readFileSync(registry, "utf8");
    const registered = source
      .replace(/^(import \{ rnnCell \} from "\.\/rnn\/index\.ts";)$/m, 'import { mguCell } from "./mgu/index.ts";\n$1')
      .replace(/^(const REGISTRY = \[[^\]]*)\] as const;$/m, "$1, mguCell] as const;");
    writeFileSync(registry, registered);
    const oldLines = new Set(source.split("\n"));
    expect(registered.split("\n").filter((line) => !oldLines.has(line))).toEqual([
      'import { mguCell } from "./mgu/index.ts";', "const REGISTRY = [rnnCell, lstmCell, gruCell, mguCell] as const;",
    ]);

    const after = contents(copy);
    const changed = [...after.keys()].filter((path) => before.get(path) !== after.get(path)).sort();
    console.log(`fourth cell: files changed in the copy: ${changed.join(", ")}`);
    expect(changed).toEqual(["src/cells/index.ts", "src/cells/mgu/index.ts", "src/cells/mgu/layer.ts", "src/cells/mgu/reference.ts", "src/cells/mgu/view.ts"]);
    expect([...before.keys()].filter((path) => !after.has(path))).toEqual([]);

    // the typecheck: library and tests, the page, its worker
    const tsc = join(copy, "node_modules", "typescript", "bin", "tsc");
    for (const project of ["tsconfig.json", "web/tsconfig.json", "web/tsconfig.worker.json"]) {
      const errors = await run(process.execPath, [tsc, "-p", project, "--noEmit"], { cwd: copy, env: childEnv(), maxBuffer: 1 << 26 })
        .then(() => "", (e: { stdout?: string; message: string }) => e.stdout || e.message);
      expect(errors, project).toBe("");
    }

    // the per-cell tests, the new cell's cases (named by it) of each; the page's settings whole
    const vitest = join(copy, "node_modules", "vitest", "vitest.mjs");
    const report = join(copy, "report.json");
    const pageReport = join(copy, "page-report.json");
    const runVitest = (files: readonly string[], out: string, filter: readonly string[]) =>
      run(process.execPath, [vitest, "run", ...files, ...filter, "--reporter=json", `--outputFile=${out}`], { cwd: copy, env: childEnv(), maxBuffer: 1 << 26 })
        .catch((e: unknown) => e);
    await runVitest(PER_CELL.slice(0, -1), report, ["-t", "mgu"]);
    await runVitest(PER_CELL.slice(-1), pageReport, []);
    for (const out of [report, pageReport]) {
      const r = JSON.parse(readFileSync(out, "utf8")) as VitestReport;
      const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status !== "passed" && a.status !== "skipped").map((a) => a.fullName));
      expect(failed, out).toEqual([]);
      expect(r.success, out).toBe(true);
    }
    const results = [report, pageReport].flatMap((out) => (JSON.parse(readFileSync(out, "utf8")) as VitestReport).testResults);
    for (const file of PER_CELL) {
      const ran = results.find((f) => f.name === join(copy, file))?.assertionResults.filter((a) => a.status === "passed" && /\bmgu\b/.test(a.fullName)) ?? [];
      console.log(`fourth cell: ${file}: ${ran.length} tests of the MGU passed`);
      expect(ran.length, file).toBeGreaterThan(0);
    }
  }, 600_000);
});
