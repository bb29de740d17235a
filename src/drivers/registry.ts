/**
 * Every power driver the service knows, built once with its dependencies. The HTTP-speaking
 * drivers (redfish, webhook) share one HTTP client so the fleet shares one connection pool;
 * `close` releases it (and the sim driver's connections) at shutdown.
 */
import { createHttpClient, type HttpClientOptions } from './http-client.ts';
import { createIpmiDriver, type IpmiDriverDeps } from './ipmi.ts';
import { createManualDriver } from './manual.ts';
import { createRedfishDriver } from './redfish.ts';
import { createSimDriver, type SimDriverDeps } from './sim/index.ts';
import type { DriverName, PowerDriver } from './types.ts';
import { createVirshDriver, type VirshDriverDeps } from './virsh.ts';
import { createWebhookDriver } from './webhook.ts';

export interface DriverRegistryDeps {
  /** Where sim nodes live: an in-process SimBmcFleet, a sim BMC process URL, or a backend. */
  readonly sim: SimDriverDeps;
  readonly ipmi?: IpmiDriverDeps;
  readonly virsh?: VirshDriverDeps;
  /** Options of the HTTP client redfish and webhook share. */
  readonly http?: HttpClientOptions;
}

export interface DriverRegistryHandle {
  readonly drivers: Readonly<Record<DriverName, PowerDriver<never>>>;
  /** Closes pooled connections; call after the host has stopped. */
  close(): Promise<void>;
}

export function createDriverRegistry(deps: DriverRegistryDeps): DriverRegistryHandle {
  const http = createHttpClient(deps.http);
  const sim = createSimDriver(deps.sim);
  const drivers: Record<DriverName, PowerDriver<never>> = {
    sim,
    ipmi: createIpmiDriver(deps.ipmi),
    redfish: createRedfishDriver({ http }),
    virsh: createVirshDriver(deps.virsh),
    webhook: createWebhookDriver({ http }),
    manual: createManualDriver(),
  };
  let closed = false;
  return {
    drivers,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([http.close(), sim.close()]);
    },
  };
}
