/**
 * Stored snapshots of older chart versions, brought up to MACHINE_VERSION one version at a time
 * (the host applies `SNAPSHOT_MIGRATIONS[v]` to a snapshot of version v). Pure JSON in, JSON out.
 */

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}

/**
 * v1 → v2: commands got a start window and a latest end, the node a read fault of its own.
 * A v1 command in flight had no latest end on record; its deadline is the latest instant v1 let
 * it run to, so it stands in for both (a restored node recovers no earlier than that).
 */
function v1ToV2(snapshot: unknown): unknown {
  const s = asObject(snapshot);
  const context = asObject(s?.context);
  if (!s || !context) return snapshot;
  const op = asObject(context.inFlight);
  const inFlight = op
    ? { ...op, startBy: op.deadline ?? 0, latestEnd: op.deadline ?? 0, abandonedUntil: null, recovering: false }
    : context.inFlight;
  return { ...s, context: { ...context, readError: null, inFlight } };
}

export const SNAPSHOT_MIGRATIONS: Readonly<Record<number, (snapshot: unknown) => unknown>> = { 1: v1ToV2 };
