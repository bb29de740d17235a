/** Finding the command words in argv, wherever the global options are. */

/** Global options that take a value and may come before the command. */
const VALUE_OPTIONS = new Set(['--url', '--token']);
const WITH_SUBCOMMAND = new Set(['nodes', 'token']);

/** Splits argv into the command words (e.g. ["nodes", "ls"]) and everything else. */
export function splitCommand(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const wanted = words.length === 0 || (words.length === 1 && WITH_SUBCOMMAND.has(words[0] as string));
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (wanted && !arg.startsWith('-')) {
      words.push(arg);
      continue;
    }
    rest.push(arg);
    if (words.length === 0 && VALUE_OPTIONS.has(arg) && i + 1 < argv.length) rest.push(argv[++i] as string);
  }
  return { words, rest };
}
