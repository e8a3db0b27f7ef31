import { request, type IncomingMessage } from 'node:http';

/** One Server-Sent Event: its `event:` name and its `data:` parsed as JSON. */
export interface SseEvent {
  type: string;
  data: any;
  receivedAt: number;
}

/**
 * A plain HTTP client of a Server-Sent Events stream (what a browser's EventSource does, minus
 * reconnecting): every event kept in order, waits for one that matches, and a close that
 * drops the connection as a closed tab does.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(readonly response: IncomingMessage, private readonly destroy: () => void) {
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    });
    response.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Opens the stream; resolves once the response headers are in (any status). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
        resolve(new SseClient(response, () => req.destroy()));
      });
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** The first event (already received or to come) of `type` that matches. */
  async next(type: string, match: (data: any) => boolean = () => true, timeoutMs = 5000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.type === type && match(e.data));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new Error(`no "${type}" event matching within ${timeoutMs} ms${this.ended ? ' (stream ended)' : ''}; got: ${this.events.map((e) => e.type).join(', ')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Drops the connection. */
  close(): void {
    this.destroy();
  }

  private parse(block: string): void {
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    this.events.push({ type, data: JSON.parse(data.join('\n')), receivedAt: Date.now() });
    this.wake();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
