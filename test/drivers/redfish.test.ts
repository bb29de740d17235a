import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../../src/drivers/http-client.ts';
import { chooseResetType, createRedfishDriver, type RedfishParams } from '../../src/drivers/redfish.ts';
import type { DriverTarget, PowerDriver } from '../../src/drivers/types.ts';
import { driverFailure } from '../support/driver-errors.ts';
import { startRedfishServer, type RedfishServer, type RedfishServerOptions } from '../peers/redfish-server.ts';

const servers: RedfishServer[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

async function setup(
  options: RedfishServerOptions = {},
  overrides: Partial<RedfishParams> = {},
  requestTimeoutMs = 5_000,
): Promise<{ bmc: RedfishServer; driver: PowerDriver<RedfishParams>; target: DriverTarget<RedfishParams> }> {
  const bmc = await startRedfishServer(options);
  servers.push(bmc);
  const http = createHttpClient({ requestTimeoutMs });
  clients.push(http);
  const driver = createRedfishDriver({ http });
  const params: RedfishParams = { url: bmc.url, user: 'admin', password: 'secret', ...overrides };
  return { bmc, driver, target: { nodeId: 'n1', bmc: driver.defaultBmc(params), params } };
}

const signal = (): AbortSignal => new AbortController().signal;

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('redfish driver: power and query', () => {
  it('declares its capabilities, secrets and BMC key', async () => {
    const { driver, target, bmc } = await setup();
    expect(driver.capabilities(target.params)).toMatchObject({ softOff: true, queryable: true, reportsStateOnAck: false });
    expect(driver.secretParams).toEqual(['password']);
    expect(target.bmc).toBe(new URL(bmc.url).origin);
    expect(driver.defaultBmc({ ...target.params, url: 'https://10.1.2.3:8443/redfish/v1/' }, 'n1')).toBe('https://10.1.2.3:8443');
  });

  it('powers on through PoweringOn: query reads unknown during the transition, then on', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 300 });
    expect(await driver.query(target, signal())).toBe('off');
    expect(await driver.powerOn(target, signal())).toEqual({});
    expect(bmc.power()).toBe('PoweringOn');
    expect(await driver.query(target, signal())).toBe('unknown');
    await waitFor(async () => (await driver.query(target, signal())) === 'on');
    const reset = bmc.log.find((r) => r.method === 'POST');
    expect(reset).toMatchObject({ path: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', body: { ResetType: 'On' } });
  });

  it('off sends ForceOff and soft off sends GracefulShutdown', async () => {
    const { bmc, driver, target } = await setup({ initialPower: 'On', transitionMs: 50 });
    await driver.softOff(target, signal());
    await waitFor(async () => (await driver.query(target, signal())) === 'off');
    bmc.setPower('On');
    await driver.powerOff(target, signal());
    await waitFor(async () => (await driver.query(target, signal())) === 'off');
    const types = bmc.log.filter((r) => r.method === 'POST').map((r) => (r.body as { ResetType: string }).ResetType);
    expect(types).toEqual(['GracefulShutdown', 'ForceOff']);
  });

  it('reads a missing or null PowerState as unknown', async () => {
    const { bmc, driver, target } = await setup();
    bmc.setPower(null);
    expect(await driver.query(target, signal())).toBe('unknown');
  });

  it.each([200, 202] as const)('accepts %i as an acknowledgement', async (resetStatus) => {
    const { bmc, driver, target } = await setup({ resetStatus, transitionMs: 20 });
    await driver.powerOn(target, signal());
    expect(bmc.log.at(-1)).toMatchObject({ method: 'POST', status: resetStatus });
  });

  it.each([400, 409] as const)('a %i for a Reset to the current state is an acknowledgement', async (refuseNoOpReset) => {
    const { bmc, driver, target } = await setup({ initialPower: 'On', refuseNoOpReset });
    await expect(driver.powerOn(target, signal())).resolves.toEqual({});
    expect(bmc.log.at(-1)).toMatchObject({ method: 'POST', status: refuseNoOpReset });
    bmc.setPower('Off');
    await expect(driver.softOff(target, signal())).resolves.toEqual({});
    expect(bmc.log.at(-1)).toMatchObject({ method: 'POST', status: refuseNoOpReset });
    // The same refusal while not at the target stays an error (see the 409-during-transition test).
  });

  it('uses the Reset target the system resource names', async () => {
    const { bmc, driver, target } = await setup({ customResetTarget: true, transitionMs: 20 });
    await driver.powerOn(target, signal());
    expect(bmc.log.at(-1)).toMatchObject({ method: 'POST', path: '/redfish/v1/Systems/1/Actions/Oem/CustomReset', status: 204 });
  });

  it('reads AllowableValues from @Redfish.ActionInfo', async () => {
    const { driver, target } = await setup({ actionInfo: true, allowableValues: ['On', 'PushPowerButton'] });
    const err = await driverFailure(driver.powerOff(target, signal()));
    expect(err.kind).toBe('unsupported');
  });

  it('never presses the button instead of ForceOff: unsupported, not retried, nothing sent', async () => {
    const { bmc, driver, target } = await setup({ initialPower: 'On', allowableValues: ['On', 'PushPowerButton', 'GracefulShutdown'] });
    const err = await driverFailure(driver.powerOff(target, signal()));
    expect(err.kind).toBe('unsupported');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/ForceOff/);
    expect(bmc.log.some((r) => r.method === 'POST')).toBe(false);
    expect(bmc.power()).toBe('On');
  });

  it('falls back to ForceOn when On is not allowed', async () => {
    const { bmc, driver, target } = await setup({ allowableValues: ['ForceOn', 'ForceOff'], transitionMs: 20 });
    await driver.powerOn(target, signal());
    expect(bmc.log.at(-1)?.body).toEqual({ ResetType: 'ForceOn' });
    expect(chooseResetType('on', undefined)).toBe('On');
    expect(chooseResetType('softOff', ['GracefulShutdown', 'ForceOff'])).toBe('GracefulShutdown');
  });
});

describe('redfish driver: system discovery', () => {
  it('takes the only system when systemId is not given', async () => {
    const { bmc, driver, target } = await setup({ systemIds: ['System.Embedded.1'] });
    expect(await driver.query(target, signal())).toBe('off');
    expect(bmc.log.map((r) => r.path)).toEqual(['/redfish/v1/Systems', '/redfish/v1/Systems/System.Embedded.1']);
    await driver.query(target, signal());
    expect(bmc.log.filter((r) => r.path === '/redfish/v1/Systems')).toHaveLength(1);
  });

  it('with two systems and no systemId fails as config, naming them', async () => {
    const { driver, target } = await setup({ systemIds: ['blade1', 'blade2'] });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('config');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/blade1, blade2.*systemId/);
  });

  it('with two systems uses the given systemId', async () => {
    const { bmc, driver, target } = await setup({ systemIds: ['blade1', 'blade2'], transitionMs: 20 }, { systemId: 'blade2' });
    await driver.powerOn(target, signal());
    await waitFor(async () => bmc.power('blade2') === 'On');
    expect(bmc.power('blade1')).toBe('Off');
  });

  it('an unknown systemId is a config error', async () => {
    const { driver, target } = await setup({}, { systemId: 'nope' });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('config');
  });
});

describe('redfish driver: authentication', () => {
  it('basic auth sends credentials on every request', async () => {
    const { bmc, driver, target } = await setup();
    await driver.query(target, signal());
    expect(bmc.log.every((r) => r.auth === 'basic')).toBe(true);
  });

  it('session auth logs in once and reuses the token', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 20 }, { auth: 'session' });
    await driver.query(target, signal());
    await driver.powerOn(target, signal());
    await driver.query(target, signal());
    expect(bmc.sessionsCreated).toBe(1);
    const calls = bmc.log.filter((r) => r.path !== '/redfish/v1/SessionService/Sessions');
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.every((r) => r.auth === 'session')).toBe(true);
  });

  it('logs in again once when the session expired', async () => {
    const { bmc, driver, target } = await setup({}, { auth: 'session' });
    await driver.query(target, signal());
    bmc.expireSessions();
    expect(await driver.query(target, signal())).toBe('off');
    expect(bmc.sessionsCreated).toBe(2);
    expect(bmc.log.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it.each(['basic', 'session'] as const)('bad credentials (%s) fail as auth, not retryable', async (auth) => {
    const { bmc, driver, target } = await setup({}, { auth, password: 'wrong' });
    const err = await driverFailure(driver.powerOn(target, signal()));
    expect(err.kind).toBe('auth');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/401/);
    expect(bmc.power()).toBe('Off');
  });
});

describe('redfish driver: busy, TLS, abort', () => {
  it('503 from the BMC is busy and retryable', async () => {
    const { bmc, driver, target } = await setup();
    bmc.failNext(1, 503);
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('busy');
    expect(err.retryable).toBe(true);
    expect(await driver.query(target, signal())).toBe('off');
  });

  it('an answer that is not JSON is a retryable protocol error', async () => {
    const { bmc, driver, target } = await setup();
    bmc.garbleNext(1);
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('protocol');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/not JSON.*<html>/);
  });

  it('a Reset during a transition answers 409: busy, and the transition is not disturbed', async () => {
    const { bmc, driver, target } = await setup({ busyDuringTransition: 409, transitionMs: 500 });
    await driver.powerOn(target, signal());
    const err = await driverFailure(driver.powerOff(target, signal()));
    expect(err.kind).toBe('busy');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/transition is in progress/);
    expect(bmc.power()).toBe('PoweringOn');
  });

  it('self-signed https works with insecure: true', async () => {
    const { driver, target } = await setup({ https: true, initialPower: 'On' }, { insecure: true });
    expect(target.params.url).toMatch(/^https:/);
    expect(await driver.query(target, signal())).toBe('on');
  });

  it('self-signed https without insecure fails clearly as config', async () => {
    const { bmc, driver, target } = await setup({ https: true });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/certificate not trusted.*insecure/);
    expect(bmc.log).toHaveLength(0);
  });

  it('an AbortSignal ends a hung request at once with kind aborted', async () => {
    const { driver, target } = await setup({ responseDelayMs: 5_000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('deadline passed')), 100);
    const err = await driverFailure(driver.powerOn(target, controller.signal));
    expect(err.kind).toBe('aborted');
    expect(err.message).toMatch(/deadline passed/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a request over the client deadline fails as timeout', async () => {
    const { driver, target } = await setup({ responseDelayMs: 2_000 }, {}, 200);
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('timeout');
    expect(err.retryable).toBe(true);
  });

  it('a closed port is unreachable', async () => {
    const { bmc, driver, target } = await setup();
    await bmc.close();
    servers.splice(servers.indexOf(bmc), 1);
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('unreachable');
    expect(err.retryable).toBe(true);
  });

  it('validateParams rejects a URL that does not parse', () => {
    const driver = createRedfishDriver();
    expect(() => driver.validateParams?.({ url: 'https://', user: 'a', password: 'b' })).toThrow(/url/);
    expect(() => driver.validateParams?.({ url: 'https://bmc.example', user: 'a', password: 'b' })).not.toThrow();
  });

  it('one command at a time from one caller: the log shows no overlapping requests', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 20 }, { auth: 'session' });
    await driver.powerOn(target, signal());
    await driver.query(target, signal());
    const sorted = [...bmc.log].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    expect(bmc.maxConcurrent).toBe(1);
  });
});
