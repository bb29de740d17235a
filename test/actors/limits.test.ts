/** The BMC limiter on its own: slots per BMC, the minimum interval, the global cap. */
import { describe, expect, it } from 'vitest';
import { BmcLimiter } from '../../src/actors/limits.ts';

const never = new AbortController().signal;

describe('BmcLimiter', () => {
  it('keeps a driver\'s minimum interval after the BMC went idle, with no global interval set', async () => {
    const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
    const first = await limiter.acquire('bmc-a', 120, never);
    first();
    expect(limiter.trackedBmcs).toBe(1);
    const t0 = performance.now();
    const second = await limiter.acquire('bmc-a', 120, never);
    const waited = performance.now() - t0;
    second();
    expect(waited).toBeGreaterThanOrEqual(110);
  });

  it('does not hold other BMCs to one BMC\'s interval', async () => {
    const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
    (await limiter.acquire('bmc-a', 500, never))();
    const t0 = performance.now();
    (await limiter.acquire('bmc-b', 500, never))();
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it('forgets idle BMCs that have no interval at once, and the others once their interval passed', async () => {
    let now = 0;
    const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10, now: () => now });
    (await limiter.acquire('no-gap', 0, never))();
    expect(limiter.trackedBmcs).toBe(0);
    (await limiter.acquire('gap', 1_000, never))();
    expect(limiter.trackedBmcs).toBe(1);
    now = 2_000;
    await new Promise((r) => setTimeout(r, 5_100));
    expect(limiter.trackedBmcs).toBe(0);
  }, 10_000);

  it('runs one command per BMC at a time and queues the next', async () => {
    const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
    const first = await limiter.acquire('bmc-a', 0, never);
    let secondGot = false;
    const second = limiter.acquire('bmc-a', 0, never).then((release) => {
      secondGot = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(secondGot).toBe(false);
    expect(limiter.inFlight).toBe(1);
    first();
    (await second)();
    expect(secondGot).toBe(true);
  });

  it('lets a waiter give up through its signal', async () => {
    const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
    const first = await limiter.acquire('bmc-a', 0, never);
    const controller = new AbortController();
    const waiting = limiter.acquire('bmc-a', 0, controller.signal);
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow(/gave up waiting for a free BMC slot: deadline/);
    first();
    (await limiter.acquire('bmc-a', 0, never))();
  });
  describe('tryAcquire (the host starts most commands this way)', () => {
    it('takes a free slot at once and counts it like acquire', () => {
      const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
      const release = limiter.tryAcquire('bmc-a', 0);
      expect(release).not.toBeNull();
      expect(limiter.inFlight).toBe(1);
      expect(limiter.tryAcquire('bmc-a', 0)).toBeNull();
      release!();
      expect(limiter.inFlight).toBe(0);
      expect(limiter.trackedBmcs).toBe(0);
    });

    it('does not barge past a command that queues for the BMC', async () => {
      const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 10 });
      const first = limiter.tryAcquire('bmc-a', 0)!;
      const queued = limiter.acquire('bmc-a', 0, never);
      first();
      // The slot is free again, but it belongs to the queued command.
      expect(limiter.tryAcquire('bmc-a', 0)).toBeNull();
      (await queued)();
      const later = limiter.tryAcquire('bmc-a', 0);
      expect(later).not.toBeNull();
      later!();
    });

    it('waits out the minimum interval and the global cap (null, so the caller queues)', () => {
      let now = 0;
      const limiter = new BmcLimiter({ perBmc: 1, minIntervalMs: 0, global: 1, now: () => now });
      limiter.tryAcquire('bmc-a', 500)!();
      now = 100;
      expect(limiter.tryAcquire('bmc-a', 500)).toBeNull();
      now = 600;
      const a = limiter.tryAcquire('bmc-a', 500)!;
      expect(limiter.tryAcquire('bmc-b', 0)).toBeNull();
      a();
      expect(limiter.tryAcquire('bmc-b', 0)).not.toBeNull();
    });
  });
});
