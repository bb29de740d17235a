import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { SimBmcFleet } from '../../src/drivers/sim/bmc-fleet.ts';
import { createSimDriver } from '../../src/drivers/sim/driver.ts';
import type { SimParams } from '../../src/drivers/sim/params.ts';
import { DriverError, type DriverTarget } from '../../src/drivers/types.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';

const live = () => new AbortController().signal;

function target(nodeId: string, params: SimParams = {}): DriverTarget<SimParams> {
  return { nodeId, bmc: `sim:${nodeId}`, params };
}

describe('sim driver (in process)', () => {
  it('describes itself: name, schema, capabilities, default BMC', () => {
    const driver = createSimDriver({ fleet: new SimBmcFleet() });
    expect(driver.name).toBe('sim');
    expect(driver.secretParams).toEqual([]);
    expect(driver.capabilities({})).toEqual({
      softOff: true,
      queryable: true,
      timing: { requestTimeoutMs: 5000, commandBudgetMs: 5000, settleMs: 0, stepTimeoutMs: 5000, attempts: DEFAULT_RETRY_POLICY.attempts, minIntervalMs: 0 },
      retry: DEFAULT_RETRY_POLICY,
    });
    expect(driver.capabilities({ timeoutMs: 800, minIntervalMs: 50 })).toMatchObject({
      timing: { stepTimeoutMs: 800, commandBudgetMs: 800, minIntervalMs: 50 },
    });
    // A node's overrides: attempts in its timing, delays in params.retry; the policy carries both.
    expect(driver.capabilities({ timing: { attempts: 5 }, retry: { baseDelayMs: 100, jitter: 0 } }).retry).toEqual({
      ...DEFAULT_RETRY_POLICY,
      attempts: 5,
      baseDelayMs: 100,
      jitter: 0,
    });
    expect(Value.Check(driver.paramsSchema, { retry: { multiplier: 1.5, maxDelayMs: 10_000 } })).toBe(true);
    expect(Value.Check(driver.paramsSchema, { retry: { jitter: 2 } })).toBe(false);
    expect(Value.Check(driver.paramsSchema, { retry: { attempts: 2 } })).toBe(false);
    expect(driver.defaultBmc({}, 'n7')).toBe('sim:n7');
    expect(driver.defaultBmc({ bmc: 'chassis-2' }, 'n7')).toBe('chassis-2');
    expect(Value.Check(driver.paramsSchema, { latencyMs: 10, failRate: 0.1, softOffMs: null, seed: 3 })).toBe(true);
    expect(Value.Check(driver.paramsSchema, { failRate: 1.5 })).toBe(false);
    expect(Value.Check(driver.paramsSchema, { password: 'x' })).toBe(false);
  });

  it('powers a node on and off and reads it back', async () => {
    const fleet = new SimBmcFleet();
    const driver = createSimDriver({ fleet });
    expect(await driver.query(target('n1'), live())).toBe('off');
    expect(await driver.powerOn(target('n1'), live())).toEqual({});
    expect(await driver.query(target('n1'), live())).toBe('on');
    await driver.softOff(target('n1'), live());
    expect(fleet.power('n1')).toBe('off');
  });

  it('reports the state on ack only when the params say so', async () => {
    const driver = createSimDriver({ fleet: new SimBmcFleet() });
    expect(await driver.powerOn(target('n1', { reportsStateOnAck: true }), live())).toEqual({ observed: 'on' });
    expect(await driver.powerOff(target('n1'), live())).toEqual({});
  });

  it('turns faults into retryable DriverErrors and a hang into aborted on abort', async () => {
    const fleet = new SimBmcFleet();
    const driver = createSimDriver({ fleet });
    fleet.ensureNode('n1');
    fleet.setFault('n1', { failNext: 1 });
    await expect(driver.powerOn(target('n1'), live())).rejects.toMatchObject({ kind: 'busy', retryable: true });
    fleet.setFault('n1', { hang: true });
    const ac = new AbortController();
    const p = driver.query(target('n1'), ac.signal);
    setTimeout(() => ac.abort(new Error('step deadline')), 20);
    const err: unknown = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({ kind: 'aborted', retryable: true });
    await expect(driver.query(target('n1', { failRate: 7 } as SimParams), live())).rejects.toMatchObject({ kind: 'config', retryable: false });
  });

  it('drift from the button shows in the next query', async () => {
    const fleet = new SimBmcFleet();
    const driver = createSimDriver({ fleet });
    await driver.powerOn(target('n1'), live());
    fleet.pressButton('n1', 'off');
    expect(await driver.query(target('n1'), live())).toBe('off');
  });
});
