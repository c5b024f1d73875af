#!/usr/bin/env node
// The `cocoon` CLI entry. Sources are TypeScript, run through tsx's loader so the CLI works
// right after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// A command that failed part-way may leave what it had started (a test engine, a listener, a
// dial loop) holding the event loop open; its message is written, so a failure ends the process.
// (stdout/stderr to pipes and files are synchronous on Linux, so nothing is cut off.)
if (code !== 0) process.exit(code);
process.exitCode = code;
