// A server-wide cap on response bytes written to streams and not yet handed to HTTP/2. grpc-js
// copies each response into its own frame and queues it per stream until flow control lets it
// out, so a thousand proxies connecting at once (a few MB of CDS/EDS/RDS each) would otherwise
// hold gigabytes of queued copies. Waiters are served in order; one response larger than the
// budget goes out alone.
export class SendBudget {
  private inFlight = 0;
  private readonly waiting: { bytes: number; go: () => void }[] = [];

  constructor(readonly limitBytes: number) {}

  /** Resolves once `bytes` may be written; undefined when they may be at once. */
  acquire(bytes: number): Promise<void> | undefined {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.inFlight += bytes;
      return undefined;
    }
    return new Promise((go) => this.waiting.push({ bytes, go }));
  }

  release(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const w = this.waiting.shift()!;
      this.inFlight += w.bytes;
      w.go();
    }
  }

  /** Bytes currently written and not yet flushed (for tests and status). */
  get used(): number {
    return this.inFlight;
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.limitBytes;
  }
}
