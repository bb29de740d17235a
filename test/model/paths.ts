/**
 * The chart's transition-covering path set, for replay against the real host (actors issue).
 * Generated, not stored: the same walk the model-based test does.
 */
import type { NodeEvent, NodeSettings } from '../../src/machines/types.ts';
import { explore, MODEL_CONFIGS } from './node-model.ts';

export interface CoverPaths {
  config: string;
  settings: Partial<NodeSettings>;
  paths: NodeEvent[][];
}

export function transitionCoverPaths(): CoverPaths[] {
  return MODEL_CONFIGS.map((config) => ({ config: config.name, settings: config.settings, paths: explore(config).paths }));
}
