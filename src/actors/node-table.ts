/** The host's nodes, by id and by name: lookup, and the one wording of "no such node". */
import { nodeNotFound } from '../errors.ts';
import type { NodeRuntime } from './node-runtime.ts';

export class NodeTable {
  private readonly byId = new Map<string, NodeRuntime>();
  private readonly idByName = new Map<string, string>();

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<NodeRuntime> {
    return this.byId.values();
  }

  get(id: string): NodeRuntime | undefined {
    return this.byId.get(id);
  }

  /** By id or by name. */
  find(idOrName: string): NodeRuntime | undefined {
    return this.byId.get(idOrName) ?? this.byId.get(this.idByName.get(idOrName) ?? '');
  }

  /** By id or by name, or node_not_found. */
  lookup(idOrName: string): NodeRuntime {
    const node = this.find(idOrName);
    if (!node) throw nodeNotFound(idOrName);
    return node;
  }

  /** This very runtime is still the table's (not deleted or replaced). */
  holds(node: NodeRuntime): boolean {
    return this.byId.get(node.id) === node;
  }

  nameTaken(name: string): boolean {
    return this.idByName.has(name);
  }

  add(node: NodeRuntime): void {
    this.byId.set(node.id, node);
    this.idByName.set(node.record.name, node.id);
  }

  rename(node: NodeRuntime, from: string, to: string): void {
    if (from === to) return;
    this.idByName.delete(from);
    this.idByName.set(to, node.id);
  }

  remove(node: NodeRuntime): void {
    this.byId.delete(node.id);
    this.idByName.delete(node.record.name);
  }
}
