import { describe, expect, it } from 'vitest';
import { createManualDriver } from '../../src/drivers/manual.ts';
import { DriverError } from '../../src/drivers/types.ts';

const driver = createManualDriver();
const target = { nodeId: 'n7', bmc: 'manual:n7', params: { location: 'DC2 rack 4 U12' } };

describe('manual driver', () => {
  it('is not queryable, has soft off, no secrets, and one BMC key per node', () => {
    const caps = driver.capabilities(target.params);
    expect(caps.queryable).toBe(false);
    expect(caps.softOff).toBe(true);
    expect(caps.timing.attempts).toBe(1);
    expect(caps.retry.attempts).toBe(1);
    expect(driver.secretParams).toEqual([]);
    expect(driver.defaultBmc(target.params, 'n7')).toBe('manual:n7');
    expect(driver.defaultBmc(target.params, 'n8')).not.toBe(driver.defaultBmc(target.params, 'n7'));
    expect(driver.defaultBmc(target.params)).toBe('manual:DC2 rack 4 U12');
  });

  it('acknowledges every command at once without claiming a resulting state', async () => {
    const signal = new AbortController().signal;
    const started = Date.now();
    await expect(driver.powerOn(target, signal)).resolves.toEqual({});
    await expect(driver.powerOff(target, signal)).resolves.toEqual({});
    await expect(driver.softOff(target, signal)).resolves.toEqual({});
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('refuses a command whose signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutdown'));
    await expect(driver.powerOn(target, controller.signal)).rejects.toMatchObject({ kind: 'aborted' });
  });

  it('query throws unsupported, not retryable', async () => {
    const err = await driver.query(target, new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).kind).toBe('unsupported');
    expect((err as DriverError).retryable).toBe(false);
  });
});
