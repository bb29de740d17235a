/** Command-line parsing on node:util parseArgs: strict, with the flags every API command shares. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export const COMMON_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies Options;

export const COMMON_HELP = `Common options:
  --url URL      server URL (default: $SWITCHBOARD_URL, else http://127.0.0.1:3000)
  --token TOKEN  API token (default: $SWITCHBOARD_TOKEN)
  --json         machine-readable JSON on stdout
  -h, --help     this help`;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export function parseCommand(args: readonly string[], options: Options, usage: string, common = true): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: common ? { ...COMMON_OPTIONS, ...options } : options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), usage);
  }
}

export function stringOf(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable flag whose values may also be comma-separated: `--status a,b --status c`. */
export function listOf(values: Values, name: string): string[] {
  const v = values[name];
  const raw = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return raw.flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[], usage: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: "${value}" is not one of ${allowed.join(', ')}`, usage);
}

/** A whole number within bounds, for flags such as --timeout. */
export function intOf(flag: string, raw: string | undefined, fallback: number, min: number, max: number, usage: string): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got "${raw}"`, usage);
  }
  return Number(raw);
}

/** Node names given once each; a repeat is a usage error (the server would refuse the whole batch). */
export function uniqueNodes(nodes: readonly string[], usage: string): string[] {
  if (nodes.length === 0) throw new UsageError('name at least one node (by name or id)', usage);
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n)) throw new UsageError(`node "${n}" is named twice; name each node once`, usage);
    seen.add(n);
  }
  return [...nodes];
}
