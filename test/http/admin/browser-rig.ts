// What the admin page's browser tests share: Debian's chromium driven by
// playwright-core, an appliance listening on loopback with the admin TLS
// material a first start makes, the login form, and the phone-width check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { missingPrerequisites } from '../../helpers/netns.js';
import { adminTlsMaterial } from '../../../src/http/admin/tls.js';
import { ADMIN_TOKEN, harness, type Harness } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
/** Why the browser tests cannot run here, or undefined. */
export const chromiumMissing = missingPrerequisites([CHROMIUM]);

export interface Chromium { context: BrowserContext; close(): Promise<void> }

/** A headless chromium with a throwaway profile; it accepts the admin listener's self-signed certificate. */
export async function launchChromium(viewport: { width: number; height: number } | null = { width: 1280, height: 900 }): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'rackboot-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, ignoreHTTPSErrors: true, ...(viewport ? { viewport } : {}),
    args: ['--ignore-certificate-errors', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }).catch((err: unknown) => {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A harness in `dir` whose admin plane serves HTTPS with the material a first start writes there. */
export async function tlsHarness(dir: string, opts: Omit<Parameters<typeof harness>[0], 'dir' | 'tls'> = {}): Promise<Harness> {
  const probe = await harness({ dir });
  const tls = await adminTlsMaterial(probe.settings);
  await probe.close({ keepDir: true });
  return harness({ ...opts, dir, tls });
}

/** Starts the admin plane on a loopback port; returns its base URL. */
export async function listening(h: Harness): Promise<string> {
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  return `https://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
}

/** Logs in through the form and lands on `next`. */
export async function logIn(page: Page, base: string, next = '/ui'): Promise<void> {
  await page.goto(next === '/ui' ? `${base}/login` : `${base}/login?next=${next}`);
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}${next}`);
}

/** Opens the overview at a phone's width (390 px) once it is live; returns how far it scrolls sideways (0: it fits). */
export async function phoneOverflow(page: Page, base: string): Promise<number> {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/ui`);
  await expect.poll(() => page.locator('#live').textContent()).toBe('live');
  return page.evaluate(() => {
    const el = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return el.scrollWidth - el.clientWidth;
  });
}
