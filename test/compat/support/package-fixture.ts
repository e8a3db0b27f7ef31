import { freePort } from '../../../lab/ports.js';
/**
 * Pack once, install into a fixture app: the one helper behind every compat and example test.
 *
 * - `packOnce()` runs `npm pack` (which builds through `prepare`) once per state of the package
 *   sources and keeps the tarball in the OS temp dir, so the specs of one run (and the next run,
 *   when nothing changed) share it.
 * - `installApp(name)` copies `test/compat/apps/<name>` (its own package.json and tsconfig) plus
 *   the programs of `examples/` into a temp dir and `npm install`s the tarball there, from npm's
 *   cache where it can (`--prefer-offline`): a real install, as a user's app gets it.
 * - `linkPackage()` is the fast path for checks that need no install of their own: the tarball
 *   unpacked into a temp `node_modules`, next to symlinks to this repo's dependencies.
 * - `Program` runs a compiled program and waits for its output lines.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLES = join(ROOT, 'examples');
const APPS = join(ROOT, 'test', 'compat', 'apps');
const CACHE = join(tmpdir(), 'nest-heartbeat-compat');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The environment of a child: without jest's NODE_OPTIONS and npm's per-script variables. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'INIT_CWD') continue;
    if (key.startsWith('npm_') && !/^npm_config_(cache|registry|userconfig)$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion; rejects with its output when it fails. */
export function exec(cmd: string, args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd, env: childEnv(options.env), timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${cmd} ${args.join(' ')} (in ${options.cwd}) failed: ${error.message}\n${stdout}\n${stderr}`.slice(0, 8000)));
      } else {
        resolve({ stdout, stderr, ms: Date.now() - started });
      }
    });
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out.sort();
}

/** Hash of everything `npm pack` reads: a changed source makes a new tarball. */
async function packageHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = [
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'bench/RESULTS.md'].map((f) => join(ROOT, f)),
    ...(await listFiles(join(ROOT, 'src'))),
    ...(await listFiles(join(ROOT, 'docs'))),
    ...(await listFiles(join(ROOT, 'bench', 'analysis'))),
    ...(await listFiles(EXAMPLES)),
  ];
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(await readFile(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The packed package (`npm pack`, which builds dist/ through `prepare`), made once per source state. */
export async function packOnce(): Promise<string> {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const dir = join(CACHE, `pack-${await packageHash()}`);
  const tarball = join(dir, `nest-heartbeat-${version}.tgz`);
  if (await exists(tarball)) return tarball;
  await mkdir(CACHE, { recursive: true });
  const tmp = await mkdtemp(join(CACHE, 'packing-'));
  await exec('npm', ['pack', '--pack-destination', tmp, '--loglevel=error'], { cwd: ROOT });
  // Another run may have packed the same sources meanwhile: either tarball will do.
  await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
  return tarball;
}

/** A temp dir under the compat cache, removed by `cleanUp()`. */
const made: string[] = [];
export async function tempDir(prefix: string): Promise<string> {
  await mkdir(CACHE, { recursive: true });
  const dir = await mkdtemp(join(CACHE, `${prefix}-`));
  made.push(dir);
  return dir;
}

/** Stops every program still running and removes the temp dirs (kept when KEEP_COMPAT_DIRS is set). */
export async function cleanUp(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
  if (!process.env.KEEP_COMPAT_DIRS) await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A fixture app installed in a temp dir. */
export class FixtureApp {
  constructor(readonly name: string, readonly dir: string, readonly installMs: number) {}

  /**
   * `tsc -p` the app with its own TypeScript when it has one (`typescript`, or an npm alias of it
   * such as `typescript-7`), else with this repo's (the fixture then need not download one).
   */
  async compile(typescript = 'typescript', outDir?: string): Promise<ExecResult & { version: string }> {
    const own = join(this.dir, 'node_modules', typescript, 'bin', 'tsc');
    const tsc = (await exists(own)) ? own : TSC;
    const { stdout: version } = await exec(process.execPath, [tsc, '--version'], { cwd: this.dir });
    const result = await exec(process.execPath, [tsc, '-p', this.dir, ...(outDir ? ['--outDir', join(this.dir, outDir)] : [])], { cwd: this.dir });
    return { ...result, version: version.trim().replace(/^Version /, '') };
  }

  /** The TypeScripts the app compiles with: `typescript` (its own, or this repo's), then its `typescript-<n>` aliases. */
  async typescripts(): Promise<string[]> {
    const { devDependencies = {} } = JSON.parse(await readFile(join(this.dir, 'package.json'), 'utf8'));
    return ['typescript', ...Object.keys(devDependencies).filter((d) => /^typescript-\d+$/.test(d)).sort()];
  }

  /** Starts `<outDir>/<program>.js` (default `dist`). */
  start(program: string, env: Record<string, string> = {}, outDir = 'dist'): Program {
    return new Program(program, [join(this.dir, outDir, `${program}.js`)], this.dir, env);
  }

  /** Runs a command in the app dir. */
  exec(cmd: string, args: string[], env?: Record<string, string>): Promise<ExecResult> {
    return exec(cmd, args, { cwd: this.dir, env });
  }
}

/**
 * Installs the packed package into a copy of `test/compat/apps/<name>`, with every program of
 * `examples/` and the examples' tsconfig as `tsconfig.examples.json` (the app's tsconfig extends it).
 */
export async function installApp(name: string): Promise<FixtureApp> {
  const tarball = await packOnce();
  const dir = await tempDir(`app-${name}`);
  await cp(join(APPS, name), dir, { recursive: true });
  for (const file of await readdir(EXAMPLES)) {
    if (file.endsWith('.ts')) await cp(join(EXAMPLES, file), join(dir, file));
  }
  await cp(join(EXAMPLES, 'tsconfig.json'), join(dir, 'tsconfig.examples.json'));
  const { ms } = await exec('npm', ['install', ...NPM_FLAGS, tarball], { cwd: dir });
  return new FixtureApp(name, dir, ms);
}

/**
 * The tarball unpacked as `<dir>/node_modules/nest-heartbeat`, beside symlinks to this repo's
 * dependencies: what an install yields, without running npm.
 */
export async function linkPackage(): Promise<string> {
  const tarball = await packOnce();
  const dir = await tempDir('linked');
  const modules = join(dir, 'node_modules');
  await mkdir(join(modules, 'nest-heartbeat'), { recursive: true });
  await exec('tar', ['xzf', tarball, '-C', join(modules, 'nest-heartbeat'), '--strip-components=1'], { cwd: dir });
  for (const entry of await readdir(join(ROOT, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'nest-heartbeat') continue;
    await symlink(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  return dir;
}

export { freePort };

const running = new Set<Program>();

/** A Node program in a child process, read line by line. */
export class Program {
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order. */
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(readonly name: string, args: string[], cwd: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line: string) => {
      this.lines.push(line);
      for (const wake of this.waiters.splice(0)) wake();
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    createInterface({ input: this.child.stderr! }).on('line', onLine);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        running.delete(this);
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ code, signal });
      });
    });
    running.add(this);
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /** The first line matching `pattern`, already printed or to come; fails on timeout or exit. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      const exited = this.child.exitCode !== null || this.child.signalCode !== null;
      const left = deadline - Date.now();
      if (exited || left <= 0) {
        throw new Error(`${this.name}: no line matching ${pattern} ${exited ? 'before it exited' : `within ${timeoutMs} ms`}. Output:\n${this.output.slice(-4000)}`);
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

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  async stop(): Promise<void> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** An HTTP GET on 127.0.0.1. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/** Polls `probe` until it returns a value that is not undefined; fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
