/**
 * A node's chart settings: its row's policies and its driver's capabilities (timing with the
 * node's overrides). Nodes with the same ones share one frozen object (the chart replaces
 * settings, never edits them), so a fleet of 100,000 holds a handful instead of one each.
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
  const key = `${policies.driftPolicy}|${policies.softOffEscalate}|${caps.queryable}|${t.attempts}|${t.stepTimeoutMs}|${t.commandBudgetMs}|${t.settleMs}`;
  const known = shared.get(key);
  if (known) return known;
  const settings: NodeSettings = Object.freeze({
    ...DEFAULT_SETTINGS,
    driftPolicy: policies.driftPolicy,
    softOffEscalate: policies.softOffEscalate,
    queryable: caps.queryable,
    maxAttempts: t.attempts,
    stepTimeoutMs: t.stepTimeoutMs,
    commandBudgetMs: t.commandBudgetMs,
    settleMs: t.settleMs,
  });
  if (shared.size < 1_000) shared.set(key, settings);
  return settings;
}
