/**
 * What the late modes of the HTTP test peers (Redfish, webhook) share: a BMC that holds a command
 * before answering and applies it later, whether or not its client still waits. Keeps the timers
 * (cancelled at close) and counts commands received and applied, which tests wait on.
 */
export interface LateRecord {
  appliedAt: number | null;
}

export class LateCommands {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly received = new CountWaiter();
  private readonly applied = new CountWaiter();

  constructor(private readonly now: () => number) {}

  delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** A command arrived (counted before any hold). */
  receive(): void {
    this.received.bump();
  }

  /** Carries out an accepted command now, or `applyDelayMs` later. */
  apply(record: LateRecord, change: () => void, applyDelayMs: number): void {
    const done = () => {
      change();
      record.appliedAt = this.now();
      this.applied.bump();
    };
    if (applyDelayMs > 0) void this.delay(applyDelayMs).then(done);
    else done();
  }

  whenReceived(count: number): Promise<void> {
    return this.received.atLeast(count);
  }

  whenApplied(count: number): Promise<void> {
    return this.applied.atLeast(count);
  }

  cancel(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

class CountWaiter {
  private n = 0;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];

  bump(): void {
    this.n++;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.n >= this.waiters[i]!.count) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  atLeast(count: number): Promise<void> {
    if (this.n >= count) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
  }
}
