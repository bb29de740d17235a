/** Finds the node a path names (by id or by name), or a 404 that says which. */
import type { Host, NodeView } from '../actors/types.ts';
import { nodeNotFound } from '../errors.ts';

export function resolveNode(host: Host, ref: string): NodeView {
  const node = host.findNode(ref);
  if (node === undefined) throw nodeNotFound(ref);
  return node;
}
