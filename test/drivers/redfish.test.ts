import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../../src/drivers/http-client.ts';
import { chooseResetType, createRedfishDriver, type RedfishParams } from '../../src/drivers/redfish.ts';
import type { DriverTarget, PowerDriver } from '../../src/drivers/types.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
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

describe('redfish driver: timing', () => {
  it('gives each request the node’s timing.requestTimeoutMs (the client only caps it)', async () => {
    const { bmc, driver, target } = await setup({ responseDelayMs: 800 }, { timing: { requestTimeoutMs: 200, commandBudgetMs: 1_000 } }, 60_000);
    const began = Date.now();
    const failure = await driverFailure(driver.query(target, signal()));
    expect(failure.kind).toBe('timeout');
    expect(failure.message).toMatch(/within 200 ms/);
    expect(Date.now() - began).toBeLessThan(700);
    bmc.setResponseDelay(0);
  });
});

describe('redfish driver: power and query', () => {
  it('declares its capabilities, secrets and BMC key', async () => {
    const { driver, target, bmc } = await setup();
    expect(driver.capabilities(target.params)).toMatchObject({ softOff: true, queryable: true, retry: DEFAULT_RETRY_POLICY });
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
    const lastPost = () => bmc.log.filter((r) => r.method === 'POST').at(-1);
    await expect(driver.powerOn(target, signal())).resolves.toEqual({});
    expect(lastPost()).toMatchObject({ status: refuseNoOpReset });
    bmc.setPower('Off');
    await expect(driver.softOff(target, signal())).resolves.toEqual({});
    expect(lastPost()).toMatchObject({ status: refuseNoOpReset });
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

describe('redfish driver: BMCs without a session service or without auth', () => {
  it.each([404, 405, 501] as const)('session auth against a BMC whose login answers %i says it has no session service', async (status) => {
    const { bmc, driver, target } = await setup({ sessionService: status }, { auth: 'session' });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('config');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(new RegExp(`no Redfish session service.*HTTP ${status}`));
    expect(err.message).toMatch(/sessionFallbackToBasic/);
    expect(bmc.log.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /redfish/v1/SessionService/Sessions']);
  });

  it('with sessionFallbackToBasic the ops work with basic auth, and the login is tried once', async () => {
    const { bmc, driver, target } = await setup({ sessionService: 405, transitionMs: 20 }, { auth: 'session', sessionFallbackToBasic: true });
    expect(await driver.query(target, signal())).toBe('off');
    await driver.powerOn(target, signal());
    await waitFor(async () => (await driver.query(target, signal())) === 'on');
    const logins = bmc.log.filter((r) => r.path === '/redfish/v1/SessionService/Sessions');
    expect(logins).toHaveLength(1);
    const calls = bmc.log.filter((r) => r.path !== '/redfish/v1/SessionService/Sessions');
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.every((r) => r.auth === 'basic' && r.status < 300)).toBe(true);
  });

  it('the fallback does not hide wrong credentials: a 401 at login stays an auth error', async () => {
    const { driver, target } = await setup({}, { auth: 'session', sessionFallbackToBasic: true, password: 'wrong' });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('auth');
  });

  it('a BMC that needs no auth works without user and password, and gets no Authorization header', async () => {
    const { bmc, driver } = await setup({ noAuth: true, transitionMs: 20 });
    const params: RedfishParams = { url: bmc.url };
    driver.validateParams?.(params);
    const target = { nodeId: 'n1', bmc: driver.defaultBmc(params), params };
    expect(await driver.query(target, signal())).toBe('off');
    await driver.powerOn(target, signal());
    await waitFor(async () => (await driver.query(target, signal())) === 'on');
    expect(bmc.log.length).toBeGreaterThan(2);
    expect(bmc.log.every((r) => r.auth === 'none' && r.status < 300)).toBe(true);
  });

  it('without user, a BMC that wants auth answers 401: an auth error', async () => {
    const { bmc, driver } = await setup();
    const params: RedfishParams = { url: bmc.url };
    const err = await driverFailure(driver.query({ nodeId: 'n1', bmc: bmc.url, params }, signal()));
    expect(err.kind).toBe('auth');
  });

  it('validateParams checks the auth combinations with clear messages; password stays secret', () => {
    const driver = createRedfishDriver();
    const check = (params: RedfishParams): void => driver.validateParams?.(params);
    const url = 'https://bmc.example';
    expect(() => check({ url })).not.toThrow();
    expect(() => check({ url, user: 'root', password: '' })).not.toThrow();
    expect(() => check({ url, user: 'root', password: 'x', auth: 'session', sessionFallbackToBasic: true })).not.toThrow();
    expect(() => check({ url, password: 'x' })).toThrow(/password needs user/);
    expect(() => check({ url, user: 'root' })).toThrow(/user needs password/);
    expect(() => check({ url, auth: 'session' })).toThrow(/"session" needs user and password/);
    expect(() => check({ url, user: 'root', password: 'x', sessionFallbackToBasic: true })).toThrow(/only with auth "session"/);
    expect(driver.secretParams).toEqual(['password']);
    const required = (driver.paramsSchema as unknown as { required?: string[] }).required ?? [];
    expect(required).toEqual(['url']);
  });
});

describe('redfish driver: the Reset target is kept per BMC and system', () => {
  const systemGets = (bmc: RedfishServer, id = '1'): number =>
    bmc.log.filter((r) => r.method === 'GET' && r.path === `/redfish/v1/Systems/${id}`).length;

  it('several steps read the system resource once', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 1 });
    await driver.powerOn(target, signal());
    await driver.powerOff(target, signal());
    await driver.softOff(target, signal());
    await driver.powerOn(target, signal());
    expect(bmc.log.filter((r) => r.method === 'POST')).toHaveLength(4);
    expect(systemGets(bmc)).toBe(1);
  });

  it('the ActionInfo resource is read once too, and a query refreshes nothing it cannot read for free', async () => {
    const { bmc, driver, target } = await setup({ actionInfo: true, transitionMs: 1 });
    await driver.powerOn(target, signal());
    await driver.query(target, signal());
    await driver.powerOff(target, signal());
    await driver.powerOn(target, signal());
    expect(bmc.log.filter((r) => r.path === '/redfish/v1/Systems/1/ResetActionInfo')).toHaveLength(1);
    expect(systemGets(bmc)).toBe(2); // the discovery and the query
  });

  it('a query before the first step is enough: the step sends only its POST', async () => {
    const { bmc, driver, target } = await setup({ systemIds: ['a', 'b'], transitionMs: 1 }, { systemId: 'b' });
    await driver.query(target, signal());
    const before = bmc.log.length;
    await driver.powerOn(target, signal());
    expect(bmc.log.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /redfish/v1/Systems/b/Actions/ComputerSystem.Reset']);
  });

  it('systems of one BMC keep their own targets', async () => {
    const { bmc, driver, target } = await setup({ systemIds: ['a', 'b'], transitionMs: 1 }, { systemId: 'a' });
    const other = { ...target, params: { ...target.params, systemId: 'b' } };
    await driver.powerOn(target, signal());
    await driver.powerOn(other, signal());
    await driver.powerOff(target, signal());
    await driver.powerOff(other, signal());
    expect(bmc.power('a')).toMatch(/Off/);
    expect(bmc.power('b')).toMatch(/Off/);
    expect([systemGets(bmc, 'a'), systemGets(bmc, 'b')]).toEqual([1, 1]);
  });

  it('a 404 from the kept target rediscovers it once and sends the Reset there', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 1 });
    await driver.powerOn(target, signal());
    bmc.setCustomResetTarget(true); // e.g. after a firmware update
    await driver.powerOff(target, signal());
    expect(bmc.log.filter((r) => r.method === 'POST').map((r) => `${r.path} ${r.status}`)).toEqual([
      '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset 204',
      '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset 404',
      '/redfish/v1/Systems/1/Actions/Oem/CustomReset 204',
    ]);
    expect(systemGets(bmc)).toBe(2);
    expect(bmc.power()).toMatch(/Off/);
    await driver.powerOn(target, signal());
    expect(systemGets(bmc)).toBe(2);
  });

  it('a 400 from the kept target drops it: the next command reads the allowed ResetTypes again', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 1 });
    await driver.powerOn(target, signal());
    bmc.setPower('Off');
    bmc.setAllowableValues(['ForceOn', 'ForceOff']);
    expect((await driverFailure(driver.powerOn(target, signal()))).message).toMatch(/ResetType On is not supported/);
    await driver.powerOn(target, signal());
    expect(bmc.log.filter((r) => r.method === 'POST').map((r) => (r.body as { ResetType: string }).ResetType)).toEqual(['On', 'On', 'ForceOn']);
    expect(bmc.power()).toMatch(/On/);
  });

  it('a 404 from a freshly read target is an error, not a loop', async () => {
    const { bmc, driver, target } = await setup({ transitionMs: 1 });
    bmc.redirect('/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', '/redfish/v1/Systems/1/Actions/Gone', 307);
    const err = await driverFailure(driver.powerOn(target, signal()));
    expect(err.kind).toBe('config');
    expect(bmc.log.filter((r) => r.method === 'POST' && r.path.endsWith('/Gone'))).toHaveLength(1);
  });
});

describe('redfish test peer: late BMC mode', () => {
  it('holds a Reset past the client giving up and still carries it out; the log says the client was gone', async () => {
    // The client gives up as soon as the BMC has the Reset; the BMC answers (and acts) after 400 ms.
    const { bmc, driver, target } = await setup({ late: { answerDelayMs: 400 }, transitionMs: 1 });
    await driver.query(target, signal()); // keeps the Reset action, so the POST is the only request below
    const controller = new AbortController();
    void bmc.whenReceived(1).then(() => controller.abort(new Error('client gave up')));
    const err = await driverFailure(driver.powerOn(target, controller.signal));
    expect(err.kind).toBe('aborted');
    expect(err.mayStillRun).toBe(true);
    expect(bmc.power()).toBe('Off');
    await bmc.whenApplied(1);
    const [record] = bmc.resets;
    expect(record).toMatchObject({ systemId: '1', resetType: 'On', status: 204, clientConnected: false });
    expect(record!.clientGoneAt).not.toBeNull();
    expect(record!.appliedAt! - record!.arrivedAt).toBeGreaterThanOrEqual(390);
    expect(bmc.power()).toMatch(/On/);
    expect(bmc.resets.filter((r) => r.appliedAt !== null && !r.clientConnected)).toHaveLength(1);
  });

  it('applies a change applyDelayMs after answering, and finds overlapping Resets', async () => {
    const { bmc, driver, target } = await setup({ late: { applyDelayMs: 300 }, transitionMs: 1 });
    await driver.powerOn(target, signal());
    expect(bmc.power()).toBe('Off'); // acknowledged, not yet done
    await bmc.whenApplied(1);
    const [first] = bmc.resets;
    expect(first!.clientConnected).toBe(true);
    expect(first!.appliedAt! - first!.answeredAt).toBeGreaterThanOrEqual(290);
    expect(bmc.resetOverlaps()).toEqual([]);
    // A second Reset sent while the first is still being carried out is an overlap.
    await driver.powerOff(target, signal());
    await driver.powerOn(target, signal());
    await bmc.whenApplied(3);
    expect(bmc.resetOverlaps().map(([a, b]) => [a.resetType, b.resetType])).toEqual([['ForceOff', 'On']]);
  });
});
