/**
 * Inbound: a link's drain handshake with its peer (PROTOCOL.md "Drain"): `unsupported` (a stock
 * client, or one that did not list `drain` in its hello), `supported`, `told` (we sent `drain`),
 * `acknowledged` (it answered `drained`: nothing new will follow on the link).
 */
export class DrainHandshake {
  private state: 'unsupported' | 'supported' | 'told' | 'acknowledged' = 'unsupported';

  /** The peer's hello listed `drain`. */
  supported(): void {
    this.state = 'supported';
  }

  /** Our server begins to drain: whether to send the peer a `drain` frame. */
  tell(): boolean {
    if (this.state !== 'supported') return false;
    this.state = 'told';
    return true;
  }

  /** The peer answered `drained`; false when nobody asked it to (a protocol error). */
  acknowledge(): boolean {
    if (this.state !== 'told') return false;
    this.state = 'acknowledged';
    return true;
  }

  /** Told, and not answered yet: requests may still be on their way. */
  get awaited(): boolean {
    return this.state === 'told';
  }
}
