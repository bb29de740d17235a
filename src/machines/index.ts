export * from './types.ts';
export * from './gating.ts';
export * from './derive.ts';
export { nodeMachine, MACHINE_VERSION, DEFAULT_SETTINGS, initialContext, type NodeMachine } from './node-machine.ts';
export { DRIFT_ENFORCE_LIMIT, desiredFor, stepTarget } from './ops.ts';
