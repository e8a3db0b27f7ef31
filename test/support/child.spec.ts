/**
 * A child left stopped (SIGSTOP) must not outlive the test runner: when the process that
 * spawned it dies — even by SIGKILL, with no exit hook — the kernel kills the child.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hasSetpriv } from '../../lab/child.js';
import { testIfAvailable } from './real-faults.js';

const TIED = new URL('../../lab/child.ts', import.meta.url).href;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

testIfAvailable({ ok: hasSetpriv(), reason: 'util-linux setpriv is not installed' })(
  'a stopped child dies when the process that spawned it is SIGKILLed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hb-tied-'));
    let grandchild = 0;
    try {
      const script = join(dir, 'parent.mts');
      writeFileSync(script, `import { spawnTied } from ${JSON.stringify(TIED)};
const c = spawnTied(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
console.log(c.pid);
setInterval(() => {}, 1000);
`);
      const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
      grandchild = await new Promise<number>((resolve) => createInterface({ input: parent.stdout! }).once('line', (l) => resolve(Number(l))));
      expect(alive(grandchild)).toBe(true);
      // Stop it only once setpriv has set the death signal and exec'd the program.
      const execd = () => {
        try {
          return readFileSync(`/proc/${grandchild}/cmdline`, 'utf8').includes('setInterval');
        } catch {
          return false;
        }
      };
      for (const until = Date.now() + 5_000; !execd() && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
      expect(execd()).toBe(true);
      process.kill(grandchild, 'SIGSTOP');
      parent.kill('SIGKILL');
      // Dead means gone, or a zombie (killed, not yet reaped by whoever inherited it).
      const state = () => {
        try {
          return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${grandchild}/status`, 'utf8'))?.[1] ?? 'gone';
        } catch {
          return 'gone';
        }
      };
      const deadline = Date.now() + 3_000;
      while (!['gone', 'Z', 'X'].includes(state()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(['gone', 'Z', 'X']).toContain(state());
    } finally {
      if (grandchild && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
