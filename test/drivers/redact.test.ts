/**
 * Secrets never leave (issue 16): whatever a driver says passes one redaction before it reaches
 * lastError, history, the stream or a reply, and BMC URLs with credentials in them are refused.
 */
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createDriverRegistry } from '../../src/drivers/registry.ts';
import { checkBmcUrl, REDACTED, redactSecrets } from '../../src/drivers/redact.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { DriverError, type PowerDriver } from '../../src/drivers/types.ts';
import { startHttpStack, type HttpStack } from '../support/http.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';

const SECRET = 'Pa55:w/rd@x';

describe('redactSecrets', () => {
  const registry = createDriverRegistry({ sim: { fleet: new SimBmcFleet() } });
  afterAll(() => registry.close());

  it('removes every secret param of every driver, plain and URL-encoded, and any user:password@ in a URL', () => {
    for (const driver of Object.values(registry.drivers) as PowerDriver[]) {
      const params = Object.fromEntries(driver.secretParams.map((key) => [key, `${SECRET}-${key}`]));
      const said = driver.secretParams
        .map((key) => `${key}=${SECRET}-${key} (${encodeURIComponent(`${SECRET}-${key}`)}) at https://admin:${encodeURIComponent(SECRET)}@10.0.0.5/redfish/v1`)
        .join('; ');
      const out = redactSecrets(`${driver.name}: ${said} and http://u:p@host/x`, params, driver.secretParams);
      expect(out, driver.name).not.toContain(SECRET);
      expect(out, driver.name).not.toContain(encodeURIComponent(SECRET));
      expect(out, driver.name).not.toContain('u:p@');
      if (driver.secretParams.length > 0) expect(out, driver.name).toContain(REDACTED);
    }
  });

  it('replaces a short secret only as a whole word, so it does not garble the message', () => {
    expect(redactSecrets('key ab refused', { password: 'ab' }, ['password'])).toBe(`key ${REDACTED} refused`);
    expect(redactSecrets('table stable', { password: 'ab' }, ['password'])).toBe('table stable');
  });

  it('refuses a BMC URL with credentials in it, saying where they go and not repeating them', () => {
    expect(() => checkBmcUrl('onUrl', `http://admin:${encodeURIComponent(SECRET)}@pdu/on`, 'params.user and params.password')).toThrow(/credentials in it.*params\.user and params\.password/);
    try {
      checkBmcUrl('onUrl', 'http://admin:hunter2hunter2@pdu/on', 'params.user');
    } catch (err) {
      expect((err as DriverError).message).not.toContain('hunter2');
    }
    expect(checkBmcUrl('url', 'https://10.0.0.5/redfish/v1', 'x').host).toBe('10.0.0.5');
  });
});

describe('secrets in a running fleet', () => {
  let t: HttpStack;
  afterAll(async () => t?.close());

  it('a webhook or Redfish URL with credentials is refused (400) and nothing is stored', async () => {
    t = await startHttpStack();
    const before = await t.rowCounts();
    for (const [driver, params] of [
      ['webhook', { onUrl: 'http://admin:hunter2hunter2@127.0.0.1:9/on', offUrl: 'http://127.0.0.1:9/off' }],
      ['redfish', { url: 'https://root:hunter2hunter2@127.0.0.1:9', user: 'root', password: 'x' }],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('admin'), payload: { name: `cred-${driver}`, driver, params } });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('invalid_params');
      expect(res.body).toMatch(/credentials in it/);
      expect(res.body).not.toContain('hunter2');
    }
    expect(await t.rowCounts()).toEqual(before);
  });

  it('a driver error that quotes a secret reaches lastError, history and the stream redacted', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    const leaky = {
      ...sim,
      secretParams: ['password'],
      paramsSchema: Type.Object({ password: Type.String() }, { additionalProperties: true }),
      capabilities: (params: Record<string, unknown>) => {
        const { password: _password, ...rest } = params;
        return sim.capabilities(rest as never);
      },
      powerOff: (target: { params: { password: string } }) =>
        Promise.reject(new DriverError('auth', `login admin:${target.params.password} refused by https://admin:${target.params.password}@bmc.example`)),
    };
    const stack = await startHttpStack({ drivers: { sim: leaky as never } });
    try {
      const seen: string[] = [];
      stack.host.subscribe((change) => seen.push(JSON.stringify(change)));
      const node = await stack.host.createNode({ name: 'leaky', driver: 'sim', params: { password: 'hunter2hunter2', timing: { attempts: 1 } } }, { requestedBy: 't' });
      await stack.host.requestPower(node.id, 'off', { requestedBy: 't' });
      await stack.quiet();
      const view = stack.host.getNode(node.id)!;
      expect(view.power.lastError).toContain(REDACTED);
      const everything = JSON.stringify([view, (await listEventsByNode(stack.handle.db, node.id, { limit: 100 })).items, seen]);
      expect(everything).toContain('refused by');
      expect(everything).not.toContain('hunter2');
      const reply = await stack.app.inject({ method: 'GET', url: `/api/v1/nodes/${node.id}/ops`, headers: stack.auth('viewer') });
      expect(reply.body).not.toContain('hunter2');
    } finally {
      await stack.close();
    }
  });
});
