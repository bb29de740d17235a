/** Helpers for the driver tests. */
import { DriverError } from '../../src/drivers/types.ts';

/** The DriverError the call fails with; anything else, or no failure, fails the test. */
export async function driverFailure(promise: Promise<unknown>): Promise<DriverError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DriverError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** Whether a process with this pid still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
