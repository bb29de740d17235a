/** What the crash-test parent and the host child (host-process.ts) say to each other. */
import type { DatabaseTarget } from './crash-database.ts';

export interface HostChildOptions {
  readonly database: DatabaseTarget;
  readonly simUrl: string;
  /** 32 bytes, hex; the same for every run on one database. */
  readonly secretKeyHex: string;
  /** Append-only file: one line per acknowledged op. */
  readonly ackFile: string;
  /** Nodes the fleet should have; missing ones are created at start. */
  readonly nodes: number;
  readonly nodesPerBmc: number;
  readonly latencyMs: number;
  readonly seed: number;
  /** Wait until every node is idle and report the fleet before any load. */
  readonly settle: boolean;
  readonly settleTimeoutMs: number;
  /** A seeded stream of conflicting requests, until the process is killed; null: none. */
  readonly load: { readonly perSecond: number; readonly maxOutstanding: number } | null;
}

export interface SettledNode {
  readonly id: string;
  readonly status: string;
  readonly desired: string | null;
  readonly observed: string;
  readonly lastError: string | null;
  readonly fault: string | null;
}

export type ChildLine =
  /** The database is open; acknowledged ops of earlier runs it lacks; its node count. */
  | { type: 'opened'; ms: number; acks: number; missing: string[]; nodes: number }
  | { type: 'started'; ms: number; nodes: number }
  | { type: 'settled'; ms: number; nodes: SettledNode[] }
  | { type: 'loading' }
  | { type: 'stats'; requests: number; acked: number; refused: number; errors: Record<string, number> }
  | { type: 'fatal'; message: string };

/** One line of the ack file. */
export interface AckLine {
  readonly opId: string;
  readonly nodeId: string;
  readonly request: string;
  readonly result: string;
}

export function formatAck(ack: AckLine): string {
  return `${ack.opId}\t${ack.nodeId}\t${ack.request}\t${ack.result}\n`;
}

/** Parses the ack file; a torn last line (the child died mid-write) is not an ack and is dropped. */
export function parseAcks(text: string): AckLine[] {
  const out: AckLine[] = [];
  // Only newline-terminated lines count: the part after the last newline may be torn.
  for (const line of text.split('\n').slice(0, -1)) {
    const [opId, nodeId, request, result] = line.split('\t');
    if (opId && nodeId && request && result) out.push({ opId, nodeId, request, result });
  }
  return out;
}
