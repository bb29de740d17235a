/** A host wired to a test database and an in-process simulated BMC fleet, with fast timers. */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { loadConfig, type Config } from '../../src/config.ts';
import type { HostDeps } from '../../src/actors/host.ts';
import { createTestableHost } from '../../src/actors/testing.ts';
import type { Database } from '../../src/db/schema.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { createManualDriver } from '../../src/drivers/manual.ts';
import { keyFingerprint, type SecretKey } from '../../src/secrets.ts';

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    SWITCHBOARD_SYNC_INTERVAL_MS: '0',
    SWITCHBOARD_VERIFY_POLL_MS: '20',
    SWITCHBOARD_COMMIT_WINDOW_MS: '2',
    ...env,
  });
}

export function testSecretKey(): SecretKey {
  const bytes = randomBytes(32);
  return { bytes, fingerprint: keyFingerprint(bytes), source: 'config' } as SecretKey;
}

export function buildTestHost(db: Kysely<Database>, options: { fleet?: SimBmcFleet; config?: Config; secretKey?: SecretKey } & Partial<HostDeps> = {}) {
  const fleet = options.fleet ?? new SimBmcFleet();
  const sim = createSimDriver({ fleet });
  const secretKey = options.secretKey ?? testSecretKey();
  const host = createTestableHost({
    db,
    config: options.config ?? testConfig(),
    secretKey,
    drivers: { sim: sim as never, manual: createManualDriver() as never },
    bootQueries: options.bootQueries ?? true,
    ...options,
  });
  return { host, fleet, secretKey };
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
