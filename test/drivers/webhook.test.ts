import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../src/drivers/http-client.ts';
import { DriverError, type DriverTarget } from '../../src/drivers/types.ts';
import { createWebhookDriver, type WebhookParams } from '../../src/drivers/webhook.ts';
import { driverFailure } from '../support/driver-errors.ts';
import { startWebhookServer, type WebhookServer, type WebhookServerOptions } from '../peers/webhook-server.ts';

const http = createHttpClient({ requestTimeoutMs: 5_000 });
const driver = createWebhookDriver({ http });
const servers: WebhookServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await http.close();
});

const signal = (): AbortSignal => new AbortController().signal;

async function setup(
  options: WebhookServerOptions = {},
  overrides: Partial<WebhookParams> = {},
): Promise<{ peer: WebhookServer; target: DriverTarget<WebhookParams> }> {
  const peer = await startWebhookServer(options);
  servers.push(peer);
  const params: WebhookParams = {
    onUrl: `${peer.url}/power/on`,
    offUrl: `${peer.url}/power/off`,
    softOffUrl: `${peer.url}/power/soft`,
    queryUrl: `${peer.url}/power/status`,
    onRegex: '"power":\\s*"on"',
    offRegex: '"power":\\s*"off"',
    ...overrides,
  };
  driver.validateParams?.(params);
  return { peer, target: { nodeId: 'n1', bmc: driver.defaultBmc(params, 'n1'), params } };
}

describe('webhook driver', () => {
  it('on / off / soft off hit their URLs and the query reads the state through the regexes', async () => {
    const { peer, target } = await setup();
    expect(await driver.query(target, signal())).toBe('off');
    await driver.powerOn(target, signal());
    expect(peer.power).toBe('on');
    expect(await driver.query(target, signal())).toBe('on');
    await driver.softOff(target, signal());
    expect(await driver.query(target, signal())).toBe('off');
    peer.power = 'on';
    await driver.powerOff(target, signal());
    expect(await driver.query(target, signal())).toBe('off');
    expect(peer.log.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /power/status',
      'POST /power/on',
      'GET /power/status',
      'POST /power/soft',
      'GET /power/status',
      'POST /power/off',
      'GET /power/status',
    ]);
  });

  it('matches custom text bodies', async () => {
    const { peer, target } = await setup(
      { statusBody: (p) => `Outlet 3 state: ${p.toUpperCase()}\n` },
      { onRegex: 'state: ON\\b', offRegex: 'state: OFF\\b' },
    );
    peer.power = 'on';
    expect(await driver.query(target, signal())).toBe('on');
    peer.power = 'off';
    expect(await driver.query(target, signal())).toBe('off');
  });

  it('a body that matches neither regex reads unknown', async () => {
    const { peer, target } = await setup();
    peer.setStatusBody('{"power":"rebooting"}');
    expect(await driver.query(target, signal())).toBe('unknown');
  });

  it('a body that matches both regexes is a protocol error that says so', async () => {
    const { target } = await setup({}, { onRegex: 'power', offRegex: 'off' });
    const err = await driverFailure(driver.query(target, signal()));
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/both onRegex and offRegex/);
  });

  it('sends the bearer token', async () => {
    const { peer, target } = await setup({ authorization: 'Bearer s3cr3t' }, { bearer: 's3cr3t' });
    await driver.powerOn(target, signal());
    expect(peer.log[0]).toMatchObject({ authorization: 'Bearer s3cr3t', status: 200 });
    expect(driver.secretParams).toEqual(['bearer', 'password']);
  });

  it('sends basic credentials', async () => {
    const expected = `Basic ${Buffer.from('ops:pw:with:colons').toString('base64')}`;
    const { peer, target } = await setup({ authorization: expected }, { user: 'ops', password: 'pw:with:colons' });
    expect(await driver.query(target, signal())).toBe('off');
    expect(peer.log[0]?.authorization).toBe(expected);
  });

  it('a wrong token is auth, not retryable, and the message leaks no secret', async () => {
    const { target } = await setup({ authorization: 'Bearer right' }, { bearer: 'wrong-token' });
    const err = await driverFailure(driver.powerOn(target, signal()));
    expect(err.kind).toBe('auth');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('wrong-token');
  });

  it.each([
    [500, 'protocol'],
    [502, 'unreachable'],
    [503, 'busy'],
  ] as const)('HTTP %i is retryable (%s)', async (status, kind) => {
    const { peer, target } = await setup();
    peer.failNext(1, status);
    const err = await driverFailure(driver.powerOn(target, signal()));
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(true);
    expect(peer.power).toBe('off');
    await driver.powerOn(target, signal());
    expect(peer.power).toBe('on');
  });

  it('uses the method override for commands, GET for the query', async () => {
    const { peer, target } = await setup({}, { method: 'PUT' });
    await driver.powerOn(target, signal());
    await driver.query(target, signal());
    expect(peer.log.map((r) => r.method)).toEqual(['PUT', 'GET']);
  });

  it('capabilities follow the configured URLs', async () => {
    const { target } = await setup();
    expect(driver.capabilities(target.params)).toMatchObject({ softOff: true, queryable: true });
    const bare: WebhookParams = { onUrl: 'http://pdu.example/on', offUrl: 'http://pdu.example/off' };
    expect(driver.capabilities(bare)).toMatchObject({ softOff: false, queryable: false });
    expect(driver.defaultBmc(bare, 'n1')).toBe('http://pdu.example');
    expect((await driverFailure(driver.softOff({ nodeId: 'n', bmc: 'b', params: bare }, signal()))).kind).toBe('unsupported');
    expect((await driverFailure(driver.query({ nodeId: 'n', bmc: 'b', params: bare }, signal()))).kind).toBe('unsupported');
  });

  it('an aborted signal ends the request with kind aborted', async () => {
    const { target } = await setup();
    const controller = new AbortController();
    controller.abort(new Error('shutdown'));
    const err = await driverFailure(driver.powerOn(target, controller.signal));
    expect(err.kind).toBe('aborted');
  });
});

describe('webhook test peer: late mode', () => {
  it('holds a command past the client giving up and still carries it out; the log says the client was gone', async () => {
    const { peer, target } = await setup({ answerDelayMs: 400 });
    const controller = new AbortController();
    void peer.whenReceived(1).then(() => controller.abort(new Error('client gave up')));
    const err = await driverFailure(driver.powerOn(target, controller.signal));
    expect(err.kind).toBe('aborted');
    expect(peer.power).toBe('off');
    await peer.whenApplied(1);
    expect(peer.power).toBe('on');
    const [command] = peer.commands;
    expect(command).toMatchObject({ path: '/power/on', status: 200, clientConnected: false });
    expect(command!.appliedAt! - command!.arrivedAt).toBeGreaterThanOrEqual(390);
  });

  it('applies a command applyDelayMs after answering it', async () => {
    const { peer, target } = await setup({ applyDelayMs: 300 });
    await driver.powerOn(target, signal());
    expect(peer.power).toBe('off');
    expect(await driver.query(target, signal())).toBe('off');
    await peer.whenApplied(1);
    expect(peer.power).toBe('on');
    const [command] = peer.commands;
    expect(command!.clientConnected).toBe(true);
    expect(command!.appliedAt! - command!.answeredAt).toBeGreaterThanOrEqual(290);
    expect(peer.commands).toHaveLength(1); // the status query is no command
  });
});

describe('webhook params validation', () => {
  const base: WebhookParams = {
    onUrl: 'http://pdu.example/on',
    offUrl: 'http://pdu.example/off',
    queryUrl: 'http://pdu.example/status',
    onRegex: 'ON',
    offRegex: 'OFF',
  };
  const check = (params: WebhookParams): void => driver.validateParams?.(params);

  it('accepts a good configuration', () => {
    expect(() => check(base)).not.toThrow();
  });

  it('rejects a regex that does not compile, naming the param', () => {
    let caught: unknown;
    try {
      check({ ...base, offRegex: '(unclosed' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DriverError);
    expect((caught as DriverError).kind).toBe('config');
    expect((caught as DriverError).message).toMatch(/^offRegex: not a valid regular expression/);
    expect(() => check({ ...base, onRegex: '[z-a]' })).toThrow(/onRegex/);
  });

  it('rejects a queryUrl without both regexes, bad URLs and mixed auth', () => {
    expect(() => check({ ...base, offRegex: undefined })).toThrow(/queryUrl needs both/);
    expect(() => check({ ...base, onUrl: 'ftp://pdu.example/on' })).toThrow(/onUrl/);
    expect(() => check({ ...base, softOffUrl: 'http://' })).toThrow(/softOffUrl/);
    expect(() => check({ ...base, bearer: 't', user: 'u' })).toThrow(/either bearer or user/);
    expect(() => check({ ...base, password: 'p' })).toThrow(/password needs user/);
  });
});
