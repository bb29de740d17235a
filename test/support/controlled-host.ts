/**
 * Hosts on controlled time for a test file: one ManualTime per test, each starting where the last
 * one stopped (nodes restored from earlier tests of the same database carry their stamps), a sim
 * fleet on the same time, and `time.advance` settling the host between timers.
 */
import type { Kysely } from 'kysely';
import type { TestableHost } from '../../src/actors/testing.ts';
import type { Database } from '../../src/db/schema.ts';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { buildTestHost } from './host.ts';
import { ManualTime } from './manual-time.ts';

const clocks: ManualTime[] = [];

/** A ManualTime that starts no earlier than any this file made before. */
export function newTime(): ManualTime {
  const time = new ManualTime(Math.max(Date.parse('2026-01-01T00:00:00Z'), ...clocks.map((c) => c.now)));
  clocks.push(time);
  return time;
}

/** A sim fleet whose latency and power changes run on the test's time. */
export function fleetOn(time: ManualTime, options: ConstructorParameters<typeof SimBmcFleet>[0] = {}): SimBmcFleet {
  return new SimBmcFleet({ ...options, now: time.monotonic, scheduler: time });
}

export type ControlledHostOptions = Parameters<typeof buildTestHost>[1] & { time?: ManualTime };

/**
 * `started(options)` for a test file: a host on `time` (a new ManualTime unless given; pass the
 * one a fleet runs on), pushed onto `hosts` for the file's afterEach to stop.
 */
export function controlledHosts(db: () => Kysely<Database>, hosts: TestableHost[]) {
  return async function started(options: ControlledHostOptions = {}) {
    const { time = newTime(), ...rest } = options;
    const built = buildTestHost(db(), { fleet: rest.fleet ?? fleetOn(time), scheduler: time, clock: time.clock, random: () => 0.5, ...rest });
    hosts.push(built.host);
    time.settleWith(() => built.host.internals.settled());
    await built.host.start();
    return { ...built, time };
  };
}
