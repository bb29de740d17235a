#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, so `npm install`): compiles what users run (src/, db/) to
 * dist/ with tsc and tsconfig.build.json, then copies the files tsc does not emit but the code
 * resolves next to itself at run time:
 *
 * - src/drivers/spawn-helper.js  (src/drivers/spawner.ts: new URL('./spawn-helper.js', import.meta.url))
 * - src/http/ui/                 (src/http/app.ts: new URL('./ui/', import.meta.url))
 *
 * Plain JavaScript, so it runs before anything is built and without tsx. dist/ is emptied
 * first: a module removed from src/ must not linger in dist/.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const ASSETS = ['src/drivers/spawn-helper.js', 'src/http/ui'];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) {
  console.error(`build: tsc failed (exit ${run.status ?? run.signal}); dist/ is incomplete`);
  process.exit(1);
}
for (const asset of ASSETS) cpSync(`${root}${asset}`, `${dist}${asset}`, { recursive: true });
