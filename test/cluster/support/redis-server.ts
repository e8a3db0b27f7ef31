import { freePort } from '../../../lab/ports.js';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { spawnTied } from '../../../lab/child.js';

export { freePort };

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

/**
 * A real redis-server of our own on a free port, without persistence, for one test file. It
 * dies with the test process (killed in afterAll, and tied to our life by lab/child.ts).
 */
export class RedisServer {
  child?: ChildProcess;
  constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // Tied (setpriv --pdeathsig): the server dies with the test process even if jest is killed outright.
    const child = spawnTied('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.stdout!.on('data', (d) => {
        out += String(d);
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
    child.stdout!.resume();
  }

  /** redis-cli against this server; returns stdout. */
  cli(...args: string[]): string {
    const r = spawnSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
