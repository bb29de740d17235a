/**
 * `npm run chart` writes docs/statechart.{svg,dot,mmd} from the node machine.
 * `npm run chart -- --check` writes nothing and fails when a committed file differs from what
 * the machine generates now (CI runs it), so the pictures cannot drift from the code.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingFromDot } from '../src/chart/dot-coverage.ts';
import { dotToSvg, toDot, toMermaid } from '../src/chart/render.ts';
import { nodeMachine } from '../src/machines/node-machine.ts';

const USAGE = 'usage: npm run chart [-- [--check] [--dir DIR]]   (DIR defaults to docs/)';
const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));

async function generate(): Promise<Map<string, string>> {
  const dot = toDot(nodeMachine);
  const gaps = missingFromDot(nodeMachine, dot);
  if (gaps.states.length || gaps.transitions.length) {
    throw new Error(`the generated DOT leaves part of the machine out:\n${[...gaps.states, ...gaps.transitions].map((g) => `  ${g}`).join('\n')}`);
  }
  return new Map([
    ['statechart.dot', dot],
    ['statechart.mmd', toMermaid(nodeMachine)],
    ['statechart.svg', await dotToSvg(dot)],
  ]);
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

interface Options {
  check: boolean;
  dir: string;
}

function parseArgs(args: string[]): Options | string {
  const options: Options = { check: false, dir: DOCS };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--check') options.check = true;
    else if (arg === '--dir') {
      const dir = args[++i];
      if (!dir) return '--dir needs a directory';
      options.dir = dir;
    } else return `unknown argument ${arg}`;
  }
  return options;
}

async function main(args: string[]): Promise<number> {
  const options = parseArgs(args);
  if (typeof options === 'string') {
    console.error(`chart: ${options}\n${USAGE}`);
    return 2;
  }
  const files = await generate();
  const where = (name: string) => relative(process.cwd(), join(options.dir, name));
  if (!options.check) {
    for (const [name, text] of files) await writeFile(where(name), text);
    console.log(`chart: wrote ${[...files.keys()].map(where).join(', ')}`);
    return 0;
  }
  const stale: string[] = [];
  for (const [name, text] of files) {
    const committed = await readOrNull(where(name));
    if (committed !== text) stale.push(`${where(name)} ${committed === null ? 'is missing' : 'differs from what the machine generates'}`);
  }
  if (stale.length) {
    console.error(
      `chart: the statechart files are out of date:\n${stale.map((s) => `  ${s}`).join('\n')}\n` +
        'Run `npm run chart` and commit docs/statechart.*',
    );
    return 1;
  }
  console.log(`chart: ${[...files.keys()].map(where).join(', ')} match the machine`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chart: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
