/**
 * Child processes that die with the test runner, even when stopped (SIGSTOP) at the time.
 *
 * A stopped child cannot notice that its stdin closed, so watching stdin is not enough. Where
 * util-linux `setpriv` exists the child is started with `--pdeathsig KILL` (prctl
 * PR_SET_PDEATHSIG): the kernel SIGKILLs it when this process dies, and SIGKILL ends a stopped
 * process too. The setting survives `ip netns exec` (which execs, it does not fork).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

let setprivOk: boolean | undefined;

/** Whether `setpriv --pdeathsig` is usable here. Cached. */
export function hasSetpriv(): boolean {
  setprivOk ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
  return setprivOk;
}

/** The argv that runs `cmd args` as a child killed when this process dies (when setpriv exists). */
export function tiedArgv(cmd: string, args: readonly string[]): [string, string[]] {
  return hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', cmd, ...args]] : [cmd, [...args]];
}

/** `spawn`, with the child tied to this process's life; `netns` runs it inside that namespace. */
export function spawnTied(cmd: string, args: readonly string[], options: SpawnOptions & { netns?: string } = {}): ChildProcess {
  const { netns, ...opts } = options;
  const [c, a] = tiedArgv(cmd, args);
  return netns ? spawn('ip', ['netns', 'exec', netns, c, ...a], opts) : spawn(c, a, opts);
}
