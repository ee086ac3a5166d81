// The admin page in a real browser (Debian's chromium driven by
// playwright-core) against an in-process appliance on loopback: log in, watch
// the nodes table update live, reimage through the button (confirmation and
// CSRF), see an inventory error after a bad edit, follow a node's console.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN, inventoryYaml, type Harness } from './harness.js';
import { chromiumMissing, launchChromium, listening, phoneOverflow, tlsHarness, type Chromium } from './browser-rig.js';

const OUT = join(process.cwd(), 'test-output');

const stateOf = (page: Page, node: string) => page.locator(`#nodes-body tr[data-node="${node}"] .state`);

describe('admin page in a real browser', () => {
  it.skipIf(chromiumMissing)('logs in, updates live, reimages with confirmation and CSRF, shows inventory errors and the console', async () => {
    mkdirSync(OUT, { recursive: true });
    let h: Harness | undefined;
    let dir: string | undefined;
    let browser: Chromium | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'rackboot-web-'));
      h = await tlsHarness(dir, { watch: true });
      h.store.setState('cp-1', 'ready', 'healthy', { markedForInstall: false });
      h.store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES ('52:54:00:00:00:02', '10.0.0.52', 'bound', ?, ?, 0)")
        .run(Date.now() + 3600_000, '<script>alert("host")</script>');
      h.ctx.lifecycle.sighted({ mac: 'de:ad:be:ef:00:07', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000', arch: '7', vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
      const base = await listening(h);

      browser = await launchChromium();
      const page = await browser.context.newPage();
      const dialogs: string[] = [];
      let acceptNext = false;
      page.on('dialog', (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        void (acceptNext ? d.accept() : d.dismiss());
      });

      // Log in.
      await page.goto(`${base}/ui`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.fill('#token', 'wrong-token-wrong-token');
      await page.click('button[type=submit]');
      await expect.poll(() => page.locator('.error-box').textContent()).toContain('not right');
      await page.fill('#token', ADMIN_TOKEN);
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/ui`);
      // Over TLS the session cookie is Secure: it never travels over plain HTTP.
      expect((await browser.context.cookies(base)).find((c) => c.name === 'rackboot_session')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
      await expect.poll(() => page.locator('#live').textContent()).toBe('live');
      expect(await stateOf(page, 'w-1').textContent()).toBe('registered');
      // The hostile hostname is text on the page, and nothing ran.
      expect(await page.locator('tr[data-node="w-1"] td').first().innerText()).toContain('<script>alert("host")</script>');

      // Live update: the state changes in the same in-process server; the page does not reload.
      await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
      h.ctx.lifecycle.installBootServed(h.store.getNode('w-1')!, 'iPXE script: install Talos');
      await expect.poll(() => stateOf(page, 'w-1').textContent(), { timeout: 10_000 }).toBe('booting');
      h.ctx.lifecycle.observe('w-1', { kind: 'error', detail: 'no install disk /dev/sda' });
      await expect.poll(() => stateOf(page, 'w-1').textContent(), { timeout: 10_000 }).toBe('failed');
      expect(await page.locator('tr[data-node="w-1"] .failed-text').textContent()).toContain('Failed while booting: no install disk /dev/sda');
      expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(42);
      await page.screenshot({ path: join(OUT, 'admin-1280.png'), fullPage: true });

      // Reimage through the button: dismissing the confirmation changes nothing...
      await page.click('tr[data-node="cp-1"] button[data-action="reimage"]');
      await expect.poll(() => dialogs.length).toBe(1);
      expect(dialogs[0]).toMatch(/^confirm: Reimage cp-1\?/);
      await new Promise((r) => setTimeout(r, 300));
      expect(h.store.getNode('cp-1')!.state).toBe('ready');
      // ...accepting it marks the node, through a POST that carries the CSRF token.
      acceptNext = true;
      await page.click('tr[data-node="cp-1"] button[data-action="reimage"]');
      await expect.poll(() => h!.store.getNode('cp-1')!.state).toBe('reimage-pending');
      expect(h.store.getNode('cp-1')!.markedForInstall).toBe(true);
      await expect.poll(() => page.locator('#flash').textContent()).toContain('cp-1: marked for reimage');
      await expect.poll(() => stateOf(page, 'cp-1').textContent(), { timeout: 10_000 }).toBe('reimage-pending');
      await expect.poll(() => page.locator('tr[data-node="cp-1"] button[data-action="cancel"]').count()).toBe(1);
      // The same POST from the page's origin without the CSRF header is refused.
      const forged = await page.evaluate(async () => (await fetch('/api/nodes/w-1/reimage', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
      expect(forged).toBe(403);

      // A bad edit of the inventory file appears with its line; the last good inventory stays live.
      writeFileSync(h.settings.inventory, inventoryYaml('  - name: w-2\n    mac: not-a-mac\n    role: worker\n'));
      await expect.poll(() => page.locator('#inventory .error-box').count(), { timeout: 15_000 }).toBe(1);
      const err = await page.locator('#inventory .error-box').innerText();
      expect(err).toMatch(/Line 14, column \d+: node w-2: mac: "not-a-mac" is not a valid MAC address/);
      expect(err).toMatch(/cluster\.yaml:14:\d+/);
      expect(await stateOf(page, 'w-1').count()).toBe(1);
      await page.screenshot({ path: join(OUT, 'admin-inventory-error-1280.png'), fullPage: true });

      // The node's page shows its console live.
      await page.goto(`${base}/ui/nodes/w-1`);
      await expect.poll(() => page.locator('#live').textContent()).toBe('live');
      h.ctx.console!.add('w-1', { at: Date.now(), msg: '[    1.234] <b>talos</b> kernel log line', fields: {} });
      await expect.poll(() => page.locator('#console li').last().textContent(), { timeout: 10_000 }).toBe('[    1.234] <b>talos</b> kernel log line');
      // A line captured over Serial-over-LAN arrives live with its sol tag, as text.
      h.ctx.console!.add('w-1', { at: Date.now(), msg: 'iPXE <i>1.21</i> -- Open Source Network Boot Firmware --', fields: { source: 'sol' } });
      await expect.poll(() => page.locator('#console li.sol').last().textContent(), { timeout: 10_000 }).toBe('sol iPXE <i>1.21</i> -- Open Source Network Boot Firmware --');
      expect(await page.locator('#console li.sol span.src').last().textContent()).toBe('sol');
      await page.screenshot({ path: join(OUT, 'admin-node-1280.png'), fullPage: true });

      // Phone width.
      expect(await phoneOverflow(page, base)).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(OUT, 'admin-phone.png'), fullPage: true });
      expect(dialogs.filter((d) => !d.startsWith('confirm: Reimage'))).toEqual([]);
    } finally {
      await browser?.close();
      await h?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
