#!/usr/bin/env node
// Launcher for the `switchboard` command. It runs the JavaScript that `npm install` built into
// dist/ (scripts/build.mjs) on plain Node: no TypeScript compiler on the way, so a command
// starts in a fraction of a second.
//
// RUN_SWITCHBOARD_FROM_SOURCE=1 runs the TypeScript in src/ through tsx instead (the test
// suite sets it, so CLI tests run the code as it is now, not as it was last built); so does a
// checkout where dist/ has not been built yet, as long as tsx (a dev dependency) is installed.
// The name does not start with SWITCHBOARD_ because test/cli/support.ts keeps those variables
// away from the CLI it starts.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);

// eslint-disable-next-line no-restricted-syntax -- which code to load is decided before src/config.ts exists
if (process.env.RUN_SWITCHBOARD_FROM_SOURCE !== '1' && existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('switchboard: dist/ is not built and tsx is not installed; run "npm run build" in the Switchboard folder.\n');
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
