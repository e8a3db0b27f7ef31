/**
 * In CI as root the real faults must run: a missing namespace capability (or `setpriv`, which
 * the privilege and child-tie tests need) is then a failure, not a skip. Elsewhere the skips
 * stay, with their reasons.
 */
export function realFaultsRequired(): boolean {
  return Boolean(process.env.CI) && process.getuid?.() === 0;
}

/** `test` when `available`; else a failing test in CI as root, a skip with the reason elsewhere. */
export function testIfAvailable(available: { ok: boolean; reason?: string }) {
  return (name: string, fn: () => unknown, timeout?: number): void => {
    if (available.ok) return test(name, fn as never, timeout);
    if (realFaultsRequired()) {
      return test(`${name} — REQUIRED in CI as root`, () => {
        throw new Error(`CI is set and this process is root, but the real fault cannot run: ${available.reason}`);
      });
    }
    return test.skip(`${name} — SKIPPED: ${available.reason}`, fn as never, timeout);
  };
}
