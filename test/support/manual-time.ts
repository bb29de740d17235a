/**
 * Controlled time for host tests: one clock and one scheduler that move only when the test says
 * so. `advance(ms)` fires every timer that falls due, in order, letting the host commit what each
 * one starts before the next fires, so a test says "2 s later" instead of sleeping and polling.
 */
import type { Scheduler } from '../../src/actors/host.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

export class ManualTime implements Scheduler {
  private timers: Timer[] = [];
  private nextId = 1;
  now: number;

  constructor(
    start = Date.parse('2026-01-01T00:00:00Z'),
    /** Resolves once the host has committed what a timer started (host.internals.settled). */
    private settle: () => Promise<void> = async () => {},
  ) {
    this.now = start;
  }

  readonly clock = (): number => this.now;
  /** performance.now()-style reading of the same clock, for the sim fleet. */
  readonly monotonic = (): number => this.now;

  settleWith(settle: () => Promise<void>): void {
    this.settle = settle;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, at: this.now + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Timers waiting, for assertions. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves the clock forward by ms, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await this.settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
      await this.settle();
    }
    this.now = end;
    await this.settle();
  }
}
