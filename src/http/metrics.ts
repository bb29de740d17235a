/**
 * Prometheus metrics in a registry per app instance (never prom-client's global one, so two apps
 * in one process, as in tests, do not collide). The host can be handed the same object to
 * observe commit batches and driver latency.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeView } from '../actors/types.ts';

export interface Metrics {
  readonly registry: Registry;
  /** Power requests by action, origin and result (accepted, coalesced, refused, or a final op state). */
  readonly ops: Counter<'action' | 'origin' | 'result'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly streamClients: Gauge;
  /** Stream messages replaced by a newer change of the same node before a slow client got them. */
  readonly streamCoalesced: Counter;
  readonly streamMessages: Counter;
  /** For the host: transitions per group commit, and how long a commit took. */
  readonly commitBatchSize: Histogram;
  readonly commitSeconds: Histogram;
  /** For the host: how long a driver command took from its send (not its wait for a slot), by driver, command and outcome. */
  readonly driverSeconds: Histogram<'driver' | 'command' | 'outcome'>;
  /** For the host: how long a command waited for its BMC's slot and the global cap before it was sent. */
  readonly slotWaitSeconds: Histogram<'driver' | 'command'>;
  /** Where the in-flight and pending gauges read the fleet at scrape time. */
  setNodeSource(source: () => readonly NodeView[]): void;
  /** Callbacks in the shape of the host's `hooks` dep: commit batches, driver commands and slot waits. */
  hostHooks(): MetricsHostHooks;
}

export interface MetricsHostHooks {
  onCommit(size: number, ms: number, ok: boolean): void;
  onCommand(driver: string, kind: 'step' | 'query', ms: number, outcome: 'ok' | 'error' | 'aborted'): void;
  onSlotWait(driver: string, kind: 'step' | 'query', ms: number): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  let nodes: () => readonly NodeView[] = () => [];

  const ops = new Counter({
    name: 'switchboard_ops_total',
    help: 'Power requests and op outcomes by action, origin and result',
    labelNames: ['action', 'origin', 'result'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const streamClients = new Gauge({ name: 'switchboard_stream_clients', help: 'Open WebSocket stream clients', registers: [registry] });
  const streamCoalesced = new Counter({
    name: 'switchboard_stream_coalesced_total',
    help: 'Stream changes replaced by a newer change of the same node before a slow client received them',
    registers: [registry],
  });
  const streamMessages = new Counter({ name: 'switchboard_stream_messages_total', help: 'Stream messages sent', registers: [registry] });
  const commitBatchSize = new Histogram({
    name: 'switchboard_commit_batch_transitions',
    help: 'Transitions per group commit',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'switchboard_commit_duration_seconds',
    help: 'Time one group commit took',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const driverSeconds = new Histogram({
    name: 'switchboard_driver_command_duration_seconds',
    help:
      'Driver command duration, from its send to its answer (or to its client giving up), by driver, command and outcome; ' +
      'the wait for a BMC slot and the global cap before the send is switchboard_driver_slot_wait_seconds',
    labelNames: ['driver', 'command', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const slotWaitSeconds = new Histogram({
    name: 'switchboard_driver_slot_wait_seconds',
    help: 'Time a driver command waited for its BMC slot (per-BMC limit, minimum interval) and the global concurrency cap before it was sent, by driver and command',
    labelNames: ['driver', 'command'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  new Gauge({
    name: 'switchboard_ops_in_flight',
    help: 'Nodes with an op in flight, now',
    registers: [registry],
    collect() {
      let n = 0;
      for (const node of nodes()) if (node.power.inFlight !== null) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'switchboard_ops_pending',
    help: 'Nodes with an op waiting in the pending slot, now',
    registers: [registry],
    collect() {
      let n = 0;
      for (const node of nodes()) if (node.power.pending !== null) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'switchboard_nodes',
    help: 'Nodes by lifecycle status, now',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const node of nodes()) counts.set(node.status, (counts.get(node.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });

  return {
    registry,
    ops,
    httpDuration,
    streamClients,
    streamCoalesced,
    streamMessages,
    commitBatchSize,
    commitSeconds,
    driverSeconds,
    slotWaitSeconds,
    setNodeSource(source) {
      nodes = source;
    },
    hostHooks() {
      return {
        onCommit(size, ms, ok) {
          if (!ok) return;
          commitBatchSize.observe(size);
          commitSeconds.observe(ms / 1000);
        },
        onCommand(driver, kind, ms, outcome) {
          driverSeconds.observe({ driver, command: kind, outcome }, ms / 1000);
        },
        onSlotWait(driver, kind, ms) {
          slotWaitSeconds.observe({ driver, command: kind }, ms / 1000);
        },
      };
    },
  };
}
