/**
 * What a figure measures and how it is shown: one row per figure with its absolute value, the
 * baseline measured in the same run, their ratio and the target, printed as a table and written
 * to bench/results/latest.json (one key per figure).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MachineInfo } from './machine.ts';

/** `higher`: the ratio must be at least `ratio`; `lower`: at most. `absolute` compares the value. */
export type Target =
  | { readonly on: 'ratio'; readonly better: 'higher' | 'lower'; readonly limit: number }
  | { readonly on: 'value'; readonly better: 'higher' | 'lower'; readonly limit: number };

export interface FigureResult {
  /** Stable key in latest.json, e.g. `throughput.transitions_per_s`. */
  readonly key: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in the same run, in the same unit; null when there is none. */
  readonly baseline: number | null;
  readonly target: Target | null;
  /** What the baseline is and anything a reader needs to judge the figure. */
  readonly note?: string;
}

export interface ReportRow extends FigureResult {
  readonly ratio: number | null;
  readonly pass: boolean | null;
}

export function toRow(result: FigureResult): ReportRow {
  const ratio = result.baseline === null || result.baseline === 0 ? null : result.value / result.baseline;
  const t = result.target;
  let pass: boolean | null = null;
  if (t !== null) {
    const measured = t.on === 'ratio' ? ratio : result.value;
    if (measured !== null && Number.isFinite(measured)) pass = t.better === 'higher' ? measured >= t.limit : measured <= t.limit;
  }
  return { ...result, ratio, pass };
}

export function describeTarget(t: Target | null): string {
  if (t === null) return '';
  return `${t.on === 'ratio' ? 'ratio' : 'value'} ${t.better === 'higher' ? '>=' : '<='} ${t.limit}`;
}

function fmt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function formatTable(rows: readonly ReportRow[]): string {
  const header = ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'pass'];
  const body = rows.map((r) => [
    r.key,
    fmt(r.value),
    r.unit,
    fmt(r.baseline),
    r.ratio === null ? '-' : `${fmt(r.ratio)}x`,
    describeTarget(r.target),
    r.pass === null ? '' : r.pass ? 'PASS' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.key}: ${r.note}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', 'notes:', ...notes].join('\n');
}

export async function writeResults(path: string, machine: MachineInfo, rows: readonly ReportRow[], extra: Record<string, unknown>): Promise<void> {
  const figures: Record<string, unknown> = {};
  for (const r of rows) {
    figures[r.key] = {
      value: r.value,
      unit: r.unit,
      baseline: r.baseline,
      ratio: r.ratio,
      target: describeTarget(r.target) || null,
      pass: r.pass,
      label: r.label,
      ...(r.note ? { note: r.note } : {}),
    };
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ ...extra, machine, figures }, null, 2)}\n`);
}
