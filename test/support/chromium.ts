import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';

/** Debian's `chromium` (installed by .ci/run), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A headless Chromium with a new empty profile, driven by puppeteer-core. As root it needs
 * --no-sandbox; the background-networking flags keep it from calling Google services, which
 * this machine's closed network refuses connection after connection.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (spawnSync(CHROMIUM, ['--version']).status !== 0) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'nest-heartbeat-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A page of the presence page at `url`, once its stream is live. Page errors, console errors and
 * CSP violations are pushed to `errors` (a test expects none).
 */
export async function openDashboardPage(
  target: Browser | BrowserContext, url: string, errors: string[], viewport = { width: 1440, height: 900 }, timeoutMs = 10_000,
): Promise<Page> {
  const page = await target.newPage();
  await page.setViewport(viewport);
  page.on('pageerror', (e) => errors.push(`pageerror: ${(e as Error).message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  // tsx (esbuild, keepNames) wraps named functions in `__name(…)`, which the page does not have.
  await page.evaluateOnNewDocument('globalThis.__name = (fn) => fn;');
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: timeoutMs });
  return page;
}
