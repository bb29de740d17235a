/** Reading processes from /proc (Linux), for tests that check what a kill left behind. */
import { readFileSync } from 'node:fs';

/** /proc/<pid>/stat fields after "(comm)": state, ppid, pgrp, session, … */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Running, not merely a zombie waiting to be reaped (an orphan's new parent may be slow). */
export function alive(pid: number): boolean {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z';
}
