/**
 * A node's chart settings: its row's policies and its driver's capabilities (timing and retry
 * policy, each with the node's overrides). Nodes with the same ones share one frozen object (the
 * chart replaces settings, never edits them), so a fleet of 100,000 holds a handful instead of one each.
 */
import type { DriverCapabilities } from '../drivers/types.ts';
import { DEFAULT_SETTINGS } from '../machines/node-machine.ts';
import type { DriftPolicy, NodeSettings } from '../machines/types.ts';

export interface NodePolicies {
  driftPolicy: DriftPolicy;
  softOffEscalate: boolean;
}

const shared = new Map<string, NodeSettings>();

export function nodeSettings(policies: NodePolicies, caps: DriverCapabilities): NodeSettings {
  const t = caps.timing;
  const r = caps.retry;
  const settings: NodeSettings = {
    ...DEFAULT_SETTINGS,
    driftPolicy: policies.driftPolicy,
    softOffEscalate: policies.softOffEscalate,
    queryable: caps.queryable,
    retry: Object.freeze({ attempts: r.attempts, baseDelayMs: r.baseDelayMs, maxDelayMs: r.maxDelayMs, multiplier: r.multiplier, jitter: r.jitter }),
    stepTimeoutMs: t.stepTimeoutMs,
    commandBudgetMs: t.commandBudgetMs,
    settleMs: t.settleMs,
  };
  // Everything above is a scalar or the flat retry policy, so this is a faithful key.
  const key = JSON.stringify(settings);
  const known = shared.get(key);
  if (known) return known;
  Object.freeze(settings);
  if (shared.size < 1_000) shared.set(key, settings);
  return settings;
}
