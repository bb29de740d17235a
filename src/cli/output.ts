/** Where the CLI writes: results to stdout (a table, or JSON with --json), progress and errors to stderr. */

export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Output {
  readonly json: boolean;
  readonly stdout: TextStream;
  readonly stderr: TextStream;
  line(text: string): void;
  note(text: string): void;
  printJson(value: unknown): void;
}

export function createOutput(json: boolean, stdout: TextStream = process.stdout, stderr: TextStream = process.stderr): Output {
  return {
    json,
    stdout,
    stderr,
    line: (text) => void stdout.write(`${text}\n`),
    note: (text) => void stderr.write(`${text}\n`),
    printJson: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [format(headers), ...rows.map(format)].join('\n');
}
