#!/usr/bin/env node
// Launcher for the `switchboard` command: registers tsx in this process (resolved from this
// package, so it works from any working directory) and runs the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
