/**
 * Periodic power sync for a whole fleet with one timer: nodes sit in one-second buckets by due
 * time, with jitter so 100,000 nodes do not all query their BMCs in the same second.
 */
export class SyncScheduler {
  private readonly buckets = new Map<number, Set<string>>();
  private readonly bucketOf = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private nextBucket = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly onDue: (nodeId: string) => void,
    private readonly now: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  get enabled(): boolean {
    return this.intervalMs > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.nextBucket = Math.floor(this.now() / 1000);
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Due within [interval/2, interval) from now, unless already scheduled. */
  schedule(nodeId: string): void {
    if (!this.enabled || this.bucketOf.has(nodeId)) return;
    const due = this.now() + this.intervalMs * (0.5 + this.random() / 2);
    const bucket = Math.floor(due / 1000);
    let set = this.buckets.get(bucket);
    if (!set) this.buckets.set(bucket, (set = new Set()));
    set.add(nodeId);
    this.bucketOf.set(nodeId, bucket);
  }

  unschedule(nodeId: string): void {
    const bucket = this.bucketOf.get(nodeId);
    if (bucket === undefined) return;
    this.bucketOf.delete(nodeId);
    const set = this.buckets.get(bucket);
    set?.delete(nodeId);
    if (set?.size === 0) this.buckets.delete(bucket);
  }

  private tick(): void {
    const current = Math.floor(this.now() / 1000);
    for (let b = this.nextBucket; b <= current; b++) {
      const set = this.buckets.get(b);
      if (!set) continue;
      this.buckets.delete(b);
      for (const id of set) {
        this.bucketOf.delete(id);
        this.onDue(id);
      }
    }
    this.nextBucket = current + 1;
  }
}
