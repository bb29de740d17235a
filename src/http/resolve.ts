/** Finds the node a path names (by id or by name), or a 404 that says which. */
import type { Host, NodeView } from '../actors/types.ts';
import { AppError } from '../errors.ts';

export function resolveNode(host: Host, ref: string): NodeView {
  const node = host.findNode(ref);
  if (node === undefined) throw new AppError('node_not_found', `No node with id or name "${ref.slice(0, 255)}".`);
  return node;
}
