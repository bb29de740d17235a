/**
 * When to check again a BMC that could not be read: after `baseMs`, doubling with each failed
 * check up to `maxMs`, with ±20 % jitter so BMCs that failed together (a switch reboot) do not
 * come back in lockstep. Counts are per node and forgotten once the node reads again.
 */
export class HealSchedule {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly options: { baseMs: number; maxMs: number },
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next check of this node's BMC (and one more failure counted). */
  next(nodeId: string): number {
    const n = this.failures.get(nodeId) ?? 0;
    this.failures.set(nodeId, n + 1);
    const delay = Math.min(this.options.baseMs * 2 ** Math.min(n, 30), this.options.maxMs);
    return Math.round(delay * (0.8 + 0.4 * this.random()));
  }

  forget(nodeId: string): void {
    this.failures.delete(nodeId);
  }
}
