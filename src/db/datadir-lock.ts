/**
 * PGlite is a single-process database: two processes (or two instances in one process) on the
 * same files corrupt them. A lock file holding the owner's pid refuses the second opener; a
 * lock left by a dead process is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';

export class DataDirLockedError extends Error {
  constructor(readonly lockPath: string, readonly ownerPid: number) {
    super(`the data directory is in use by process ${ownerPid} (lock file ${lockPath}); ` +
      'stop that process, or remove the lock file if it is not a Switchboard');
    this.name = 'DataDirLockedError';
  }
}

/** Lock files held by this process, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(lockPath, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Takes the lock or throws DataDirLockedError. Returns the function that releases it. */
export async function lockDataDir(lockPath: string): Promise<() => Promise<void>> {
  if (heldHere.has(lockPath)) throw new DataDirLockedError(lockPath, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      heldHere.add(lockPath);
      return async () => {
        heldHere.delete(lockPath);
        await rm(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await readOwner(lockPath);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(lockPath, owner);
      }
      // Stale (dead owner, unreadable, or left by an earlier run with our recycled pid).
      await rm(lockPath, { force: true });
    }
  }
  throw new Error(`could not take the data directory lock ${lockPath}`);
}
