import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

// npm run test:soak: a 30-minute training run through the built CLI, its memory and CPU time per
// step sampled from /proc (test/soak/soak.soak.ts, a name the default config's *.test.ts never
// matches, so npm test stays fast). BPTT_SOAK_MINUTES=3 tries it short; the test sets its own
// timeout from that.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/soak/**/*.soak.ts"],
    fileParallelism: false,
  },
});
