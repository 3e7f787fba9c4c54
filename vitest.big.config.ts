import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

// npm run test:big: the tests on generated corpora of hundreds of MB to 2 GB (test/big/*.big.ts,
// a name the default config's *.test.ts never matches, so npm test stays fast). Each file makes
// its corpus in os.tmpdir() and deletes it; one file at a time, so that their memory figures are their own.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/big/**/*.big.ts"],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
