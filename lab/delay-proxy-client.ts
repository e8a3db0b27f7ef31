/**
 * Drives the lab's delaying TCP proxy (delay-proxy.ts) in its own process, tied to this one.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonLine, LineProcess } from './child.js';
import type { DelayProfile } from './delay-proxy.js';

export type { DelayProfile };

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'delay-proxy.ts');

export class DelayProxy {
  private readonly proc = new LineProcess<Record<string, any>>(SCRIPT, [], { label: 'delay-proxy', parse: jsonLine });
  private nextId = 1;

  /** Resolves once the proxy process is up. */
  static async start(profile: DelayProfile = { kind: 'none' }): Promise<DelayProxy> {
    const proxy = new DelayProxy();
    await proxy.proc.waitFor((m) => m.evt === 'ready', 60_000, 'ready', true);
    await proxy.profile(profile);
    return proxy;
  }

  /** One listener per route, forwarding to 127.0.0.1:<port>; returns each route's listening port (on 0.0.0.0). */
  listen(routes: Array<{ name: string; port: number }>): Promise<Record<string, number>> {
    return this.request('listen', { routes });
  }

  profile(profile: DelayProfile): Promise<void> {
    return this.request('profile', { profile });
  }

  stats(): Promise<{ connections: number; loopDelayMs: { p99: number; max: number } }> {
    return this.request('stats');
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }

  private async request<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.proc.send({ ...args, cmd, id });
    const reply = await this.proc.waitFor((m) => m.re === id, 30_000, `reply to ${cmd}`, true);
    if (reply.error) throw new Error(`delay-proxy ${cmd}: ${reply.error}`);
    return reply.result as T;
  }
}
