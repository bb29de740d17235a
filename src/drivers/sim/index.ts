/** The sim driver's public surface: what the host, the demo seeding, benches and tests use. */
export { createSimDriver, type SimDriverDeps, type SimPowerDriver } from './driver.ts';
export { SimBmcFleet, UnknownSimNodeError, type SimBmcFleetOptions, type SimScheduler, type SimStats } from './bmc-fleet.ts';
export { SimBmcClient, type SimBmcClientOptions } from './client.ts';
export { startSimServer, type SimServer, type SimServerOptions } from './server.ts';
export { SimParamsSchema, DEFAULT_SIM_TIMEOUT_MS, type SimParams } from './params.ts';
export type { SimBmcBackend, SimCommandKind, SimCommandRequest, SimFault, SimPower, SimReply } from './backend.ts';
export type { CommandRecord, CommandOutcome, OverlapReport, Violation } from './overlap-detector.ts';
