import { freePort } from '../../../lab/ports.js';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTied } from '../../../lab/child.js';

export { freePort };

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

export interface RedisServerOptions {
  /** More `redis-server` arguments (`--cluster-enabled yes`, `--replicaof …`, `--aclfile …`). */
  args?: string[];
  /** TLS only: the server listens on `--tls-port` with this certificate (and plain TCP is off). */
  tls?: { cert: string; key: string };
  /** Run as a Sentinel with this configuration (the file is written to the server's own directory). */
  sentinelConf?: string;
  /** The line that says the server is ready (default: Redis's own). */
  readyLine?: RegExp;
  /** `redis-cli` arguments for AUTH (e.g. `--user u --pass p`). */
  cliAuth?: string[];
}

/**
 * A real redis-server of our own on a free port, without persistence, for one test file. It
 * dies with the test process (killed in afterAll, and tied to our life by lab/child.ts). Its
 * files (cluster node table, sentinel config, TLS certificate) live in a directory of its own.
 */
export class RedisServer {
  child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'hb-redis-'));
  /** Everything the server printed, for error messages. */
  output = '';

  constructor(readonly port: number, readonly options: RedisServerOptions = {}) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    await server.start();
    return server;
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { tls, sentinelConf } = this.options;
    let args: string[];
    if (sentinelConf !== undefined) {
      const conf = join(this.dir, 'sentinel.conf');
      writeFileSync(conf, `port ${this.port}\nbind 127.0.0.1\ndir ${this.dir}\n${sentinelConf}\n`);
      args = [conf, '--sentinel'];
    } else {
      args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
      if (tls) {
        writeFileSync(join(this.dir, 'cert.pem'), tls.cert);
        writeFileSync(join(this.dir, 'key.pem'), tls.key);
        args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', join(this.dir, 'cert.pem'),
          '--tls-key-file', join(this.dir, 'key.pem'), '--tls-ca-cert-file', join(this.dir, 'cert.pem'), '--tls-auth-clients', 'no');
      } else {
        args.push('--port', String(this.port));
      }
      args.push(...(this.options.args ?? []));
    }
    // Tied (setpriv --pdeathsig): the server dies with the test process even if jest is killed outright.
    const child = spawnTied('redis-server', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    const ready = this.options.readyLine ?? (sentinelConf !== undefined ? /\+monitor master/ : /Ready to accept connections/);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${this.output}`)), 10_000);
      child.stdout!.on('data', (d) => {
        this.output = (this.output + String(d)).slice(-20_000);
        if (ready.test(this.output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${this.output}`)));
    });
  }

  /** redis-cli against this server; returns stdout. */
  cli(...args: string[]): string {
    const tls = this.options.tls ? ['--tls', '--cacert', join(this.dir, 'cert.pem')] : [];
    const r = spawnSync('redis-cli', ['-p', String(this.port), ...tls, ...(this.options.cliAuth ?? []), '--no-auth-warning', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
