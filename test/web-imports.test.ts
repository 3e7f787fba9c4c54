/**
 * The playground is written on the package as a user's app would be (web/vite.config.ts): web/src
 * imports "bptt" and the package's declared subpath exports (package.json "exports"), its own
 * modules, its npm dependencies and the bundled text in data/ — never a module of src/ or a file
 * of dist/ directly. This test reads every import of web/src and fails on any other.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string; exports: Record<string, unknown>; dependencies?: Record<string, string>; devDependencies?: Record<string, string>;
};

/** Every .ts file under a folder. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

/** What a module imports: `import … from "x"`, `import "x"`, `export … from "x"`, `import("x")` and `new URL("x", import.meta.url)`. */
function specifiers(code: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*"([^"]+)"/g, /\bimport\s*"([^"]+)"/g, /\bimport\(\s*"([^"]+)"\s*\)/g,
    /\bnew URL\(\s*"([^"]+)"\s*,\s*import\.meta\.url\s*\)/g,
  ];
  return patterns.flatMap((p) => [...code.matchAll(p)].map((m) => m[1] ?? ""));
}

/**
 * Why an import of a web/src file is not the package's public face, or undefined when it is.
 * @param file the importing file
 * @param spec what it imports
 */
function problem(file: string, spec: string): string | undefined {
  const path = spec.split("?")[0] ?? spec;
  if (path.startsWith(".")) {
    const target = relative(root, resolve(dirname(file), path));
    return target.startsWith(`web${sep}`) || target.startsWith(`data${sep}`) ? undefined : `a file of the repository outside web/ and data/: ${target}`;
  }
  if (path === pkg.name) return undefined;
  if (path.startsWith(`${pkg.name}/`)) {
    return `./${path.slice(pkg.name.length + 1)}` in pkg.exports ? undefined : "a subpath the package does not export";
  }
  const name = path.startsWith("@") ? path.split("/").slice(0, 2).join("/") : (path.split("/")[0] ?? path);
  return name in { ...pkg.dependencies, ...pkg.devDependencies } ? undefined : "a module that is neither the package nor a dependency";
}

describe("web/src imports", () => {
  const files = sources(join(root, "web", "src"));
  const imports = files.flatMap((file) => specifiers(readFileSync(file, "utf8")).map((spec) => ({ file, spec })));

  it("are read: the worker's imports of the package, its subpaths and its own modules are found", () => {
    const worker = imports.filter((i) => i.file.endsWith(`${sep}worker.ts`)).map((i) => i.spec);
    expect(worker).toEqual(expect.arrayContaining(["bptt", "bptt/kernels.wasm?url", "bptt/kernels-fma.wasm?url", "bptt/thread-worker.js?worker", "./settings.ts"]));
    expect(specifiers(`import { a } from "../../src/x.ts";\nimport type {\n  B,\n} from "../y.ts";\nnew URL("../../src/z.ts", import.meta.url)`))
      .toEqual(["../../src/x.ts", "../y.ts", "../../src/z.ts"]);
  });

  it("are the package's entry and declared subpaths, web/'s own modules, dependencies and data/: 0 internal modules", () => {
    expect(problem(join(root, "web", "src", "worker.ts"), "../../src/train/trainer.ts")).toMatch(/outside web\/ and data\//);
    expect(problem(join(root, "web", "src", "worker.ts"), "bptt/dist/browser.js")).toMatch(/does not export/);
    const bad = imports.flatMap(({ file, spec }) => {
      const why = problem(file, spec);
      return why === undefined ? [] : [`${relative(root, file)}: "${spec}" is ${why}`];
    });
    expect(bad).toEqual([]);
  });
});
