/** One short phrase per stream event, joined: what happened to a node in one change. */

export interface StreamEvent {
  at: string;
  kind: string;
  origin: string | null;
  actor: string | null;
  opId: string | null;
  detail: Record<string, unknown>;
}

const text = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

export function describeEvent(e: StreamEvent): string {
  const d = e.detail;
  const by = e.origin !== null && e.origin !== 'user' ? ` (${e.origin})` : '';
  if (e.kind === 'status_changed') return `status ${text(d.from)}→${text(d.to)}`;
  if (e.kind === 'observed_changed') return `observed ${text(d.from)}→${text(d.to)}`;
  if (e.kind === 'desired_changed') return `desired ${text(d.from)}→${text(d.to)}`;
  const op = /^op_(.+)$/.exec(e.kind);
  if (op !== null) {
    const step = d.step !== undefined && d.step !== d.action ? ` step ${text(d.step)}` : '';
    const error = d.error !== undefined ? `: ${text(d.error)}` : '';
    return `${text(d.action)}${step} ${op[1]}${by}${error}`;
  }
  const request = /^(power|lifecycle)_(accepted|coalesced|refused)$/.exec(e.kind);
  if (request !== null) {
    const refusal = d.refusal as { message?: string } | undefined;
    const who = e.actor === null ? '' : ` by ${e.actor}`;
    return `${request[1]} ${text(d.request)} ${request[2]}${who}${refusal?.message ? `: ${refusal.message}` : ''}`;
  }
  return d.message !== undefined ? `${e.kind}: ${text(d.message)}` : e.kind;
}

export function describeEvents(events: readonly StreamEvent[]): string {
  return events.length === 0 ? 'changed' : events.map(describeEvent).join('; ');
}
