/** The retry policy's one formula (src/machines/retry.ts): bounds, growth, cap, and the chart using it. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, JITTER_WHEN_ABSENT, retryDelay, type RetryPolicy } from '../../src/machines/retry.ts';
import { startNode } from './harness.ts';

const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, ...p });

describe('retryDelay', () => {
  it('grows by the multiplier from the base delay, attempt by attempt', () => {
    const p = policy({ baseDelayMs: 1_000, multiplier: 3, maxDelayMs: 1_000_000, jitter: 0 });
    expect([1, 2, 3, 4].map((a) => retryDelay(p, a))).toEqual([1_000, 3_000, 9_000, 27_000]);
    expect([1, 2, 3].map((a) => retryDelay(policy({ baseDelayMs: 500, multiplier: 1, jitter: 0 }), a))).toEqual([500, 500, 500]);
  });

  it('never waits longer than maxDelay, whatever the attempt and the draw', () => {
    const p = policy({ baseDelayMs: 2_000, multiplier: 2, maxDelayMs: 5_000 });
    expect(retryDelay(p, 2, 1)).toBe(4_000);
    expect(retryDelay(p, 3, 1)).toBe(5_000);
    expect(retryDelay(p, 20, 1)).toBe(5_000);
    for (const draw of [0, 0.3, 0.99, 1]) expect(retryDelay(p, 12, draw)).toBeLessThanOrEqual(5_000);
    // A base above the cap: every wait is the cap.
    expect(retryDelay(policy({ baseDelayMs: 9_000, maxDelayMs: 5_000, jitter: 0 }), 1)).toBe(5_000);
  });

  it('spreads a delay over the jitter share: draw 0 the low bound, draw 1 the full delay', () => {
    const equal = policy({ baseDelayMs: 4_000, jitter: 0.5 });
    expect(retryDelay(equal, 1, 0)).toBe(2_000);
    expect(retryDelay(equal, 1, 1)).toBe(4_000);
    expect(retryDelay(equal, 1, 0.25)).toBe(2_500);
    const full = policy({ baseDelayMs: 4_000, jitter: 1 });
    expect(retryDelay(full, 1, 0)).toBe(0);
    expect(retryDelay(full, 1, 1)).toBe(4_000);
    const none = policy({ baseDelayMs: 4_000, jitter: 0 });
    expect(retryDelay(none, 1, 0)).toBe(4_000);
    expect(retryDelay(none, 1, 1)).toBe(4_000);
  });

  it('takes the middle when the event carries no draw, and keeps a bad draw in range', () => {
    const p = policy({ baseDelayMs: 4_000, jitter: 0.5 });
    expect(JITTER_WHEN_ABSENT).toBe(0.5);
    expect(retryDelay(p, 1)).toBe(3_000);
    expect(retryDelay(p, 1, Number.NaN)).toBe(3_000);
    expect(retryDelay(p, 1, -3)).toBe(2_000);
    expect(retryDelay(p, 1, 7)).toBe(4_000);
  });
});

describe('the chart schedules retries by its settings and the event’s draw', () => {
  /** A node whose off step failed and whose verifying query read `on`: the reading that schedules the retry carries `jitter`. */
  function failedOnce(retry: RetryPolicy, jitter?: number) {
    const node = startNode({ retry });
    node.power('off');
    node.fail(true, 'busy');
    const op = node.ctx.inFlight!;
    node.send({ type: 'QUERY_DONE', opId: op.opId, step: op.step, attempt: op.attempt, observed: 'on', ...(jitter === undefined ? {} : { jitter }) });
    expect(node.phase).toBe('backoff');
    const note = node.emitted.findLast((e) => e.type === 'note' && e.kind === 'retry_scheduled');
    return { node, waited: node.ctx.inFlight!.retryAt! - note!.at, message: note?.type === 'note' ? note.message : '' };
  }

  it('waits what the policy and the draw say, and says so', () => {
    const retry = policy({ baseDelayMs: 10_000, jitter: 0.5 });
    expect(failedOnce(retry, 0).waited).toBe(5_000);
    expect(failedOnce(retry, 1).waited).toBe(10_000);
    const middle = failedOnce(retry);
    expect(middle.waited).toBe(7_500);
    expect(middle.message).toMatch(/retrying in 7500 ms/);
  });

  it('gives up after the policy’s attempts', () => {
    const { node } = failedOnce(policy({ attempts: 2, jitter: 0 }));
    node.send({ type: 'RETRY_DUE', opId: node.ctx.inFlight!.opId });
    node.fail(true, 'busy');
    node.read('on');
    expect(node.phase).toBe('idle');
    expect(node.ctx.lastError).toMatch(/after 2 attempt/);
  });
});
