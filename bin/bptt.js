#!/usr/bin/env node
// The `bptt` command: a thin launcher for the compiled CLI (built by `npm run build`, run by `npm ci`).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
