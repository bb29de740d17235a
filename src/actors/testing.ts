/**
 * The host with the handles tests drive (its timers, its own events, settling). Not used by the
 * service: the production host (createHost) carries none of it.
 */
import { assembleHost, type HostDeps, type HostInternals } from './host.ts';
import type { Host } from './types.ts';

export type TestableHost = Host & { readonly internals: HostInternals };

export function createTestableHost(deps: HostDeps): TestableHost {
  const { host, internals } = assembleHost(deps);
  return Object.assign(host, { internals });
}
