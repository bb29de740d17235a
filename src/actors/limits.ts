/**
 * BMC protection (invariant 9): at most N commands at a time per BMC (default 1), an optional
 * minimum gap between commands to one BMC, and a global cap. Each BMC has its own queue, so a
 * slow or hung BMC only holds its own commands (and one global slot each, bounded by deadlines).
 */
import { DriverError } from '../drivers/types.ts';

export type Release = () => void;

/**
 * A command's hold on its BMC and on the global cap. Calling it releases both. A command whose
 * client gave up gives back its global slot at once (nothing of Switchboard's runs any more) but
 * keeps its BMC until the BMC can no longer be carrying it out (invariant 10).
 */
export interface Lease extends Release {
  releaseGlobal(): void;
}

/** What a queued command waits for, for the node's view. */
export interface WaitProgress {
  waitingFor: 'bmc' | 'global' | null;
}

interface Waiter {
  resolve: (release: Release) => void;
  reject: (err: Error) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

/** A counting semaphore whose waiters can give up through an AbortSignal. */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: Waiter[] = [];
  constructor(private capacity: number) {}

  get active(): number {
    return this.inUse;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  /** A slot now if one is free and nobody waits for one (no barging past waiters), else null. */
  tryAcquire(): Release | null {
    if (this.inUse >= this.capacity || this.waiters.length > 0) return null;
    this.inUse++;
    return this.releaser();
  }

  acquire(signal: AbortSignal): Promise<Release> {
    if (signal.aborted) return Promise.reject(abortedWhileWaiting(signal));
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortedWhileWaiting(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) {
        next.signal.removeEventListener('abort', next.onAbort);
        next.resolve(this.releaser());
      } else this.inUse--;
    };
  }
}

function abortedWhileWaiting(signal: AbortSignal): DriverError {
  const reason: unknown = signal.reason;
  return new DriverError('aborted', `gave up waiting for a free BMC slot: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}`);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(abortedWhileWaiting(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedWhileWaiting(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

interface BmcState {
  slots: Semaphore;
  /** When the last command to this BMC ended (ms, monotonic). */
  lastEnd: number;
  /** The largest minimum interval any command to this BMC asked for. */
  gap: number;
  users: number;
}

export interface LimiterOptions {
  perBmc: number;
  minIntervalMs: number;
  global: number;
  now?: () => number;
}

export class BmcLimiter {
  private readonly bmcs = new Map<string, BmcState>();
  private readonly global: Semaphore;
  private readonly now: () => number;
  constructor(private readonly options: LimiterOptions) {
    this.global = new Semaphore(options.global);
    this.now = options.now ?? (() => performance.now());
  }

  get inFlight(): number {
    return this.global.active;
  }

  /**
   * Both slots at once, without waiting, when the BMC and the global cap have one free, nobody
   * queues for either and the BMC's minimum interval has passed; else null (then use acquire).
   * Most commands of a healthy fleet start this way, without the promise hops of acquire.
   */
  tryAcquire(bmc: string, minIntervalMs: number): Lease | null {
    let state = this.bmcs.get(bmc);
    const gap = Math.max(minIntervalMs, this.options.minIntervalMs);
    if (state && state.lastEnd + gap > this.now()) return null;
    if (this.global.active >= this.options.global || this.global.waiting > 0) return null;
    state ??= this.stateOf(bmc);
    const releaseSlot = state.slots.tryAcquire();
    if (!releaseSlot) return null;
    const releaseGlobal = this.global.tryAcquire()!;
    state.users++;
    state.gap = Math.max(state.gap, gap);
    return this.releaser(bmc, state, releaseGlobal, releaseSlot);
  }

  /** The BMC's entry, made on first use. */
  private stateOf(bmc: string): BmcState {
    let state = this.bmcs.get(bmc);
    if (!state) {
      state = { slots: new Semaphore(this.options.perBmc), lastEnd: -Infinity, gap: 0, users: 0 };
      this.bmcs.set(bmc, state);
    }
    return state;
  }

  private releaser(bmc: string, state: BmcState, releaseGlobal: Release, releaseSlot: Release): Lease {
    let released = false;
    const lease = (() => {
      if (released) return;
      released = true;
      state.lastEnd = this.now();
      releaseGlobal();
      releaseSlot();
      this.forget(bmc, state);
    }) as Lease;
    lease.releaseGlobal = releaseGlobal;
    return lease;
  }

  /**
   * Waits for a slot on the BMC (respecting its minimum interval), then a global slot.
   * The returned release must be called when the command has really ended.
   */
  async acquire(bmc: string, minIntervalMs: number, signal: AbortSignal, progress?: WaitProgress): Promise<Lease> {
    const state = this.stateOf(bmc);
    state.users++;
    let releaseBmc: Release | undefined;
    try {
      if (progress) progress.waitingFor = 'bmc';
      releaseBmc = await state.slots.acquire(signal);
      const gap = Math.max(minIntervalMs, this.options.minIntervalMs);
      state.gap = Math.max(state.gap, gap);
      const wait = state.lastEnd + gap - this.now();
      if (wait > 0) await sleep(wait, signal);
      if (progress) progress.waitingFor = 'global';
      const releaseGlobal = await this.global.acquire(signal);
      if (progress) progress.waitingFor = null;
      return this.releaser(bmc, state, releaseGlobal, releaseBmc);
    } catch (err) {
      releaseBmc?.();
      this.forget(bmc, state);
      throw err;
    }
  }

  /**
   * The BMC alone, without a global slot: a restored node holds its BMC this way while it waits
   * out the latest end of a command an earlier run may have left executing there.
   */
  async reserveBmc(bmc: string, signal: AbortSignal): Promise<Release> {
    const state = this.stateOf(bmc);
    state.users++;
    try {
      const releaseSlot = await state.slots.acquire(signal);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        state.lastEnd = this.now();
        releaseSlot();
        this.forget(bmc, state);
      };
    } catch (err) {
      this.forget(bmc, state);
      throw err;
    }
  }

  private forget(bmc: string, state: BmcState): void {
    state.users--;
    // An idle BMC's entry goes once its minimum interval has passed (or never applied): the
    // next command must still wait out the gap after this one, whoever asked for the gap.
    if (state.users > 0) return;
    if (state.gap === 0) this.bmcs.delete(bmc);
    else this.sweepLater();
  }

  private sweepTimer: NodeJS.Timeout | null = null;

  /** Drops idle BMCs whose interval has passed, so a large fleet's entries do not pile up. */
  private sweepLater(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const now = this.now();
      let kept = false;
      for (const [bmc, state] of this.bmcs) {
        if (state.users === 0 && state.lastEnd + state.gap <= now) this.bmcs.delete(bmc);
        else if (state.users === 0) kept = true;
      }
      if (kept) this.sweepLater();
    }, 5_000);
    this.sweepTimer.unref();
  }

  /** BMCs the limiter currently remembers (tests). */
  get trackedBmcs(): number {
    return this.bmcs.size;
  }
}
