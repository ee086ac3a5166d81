// The node page's power buttons in a real browser (Debian's chromium driven
// by playwright-core) against an in-process appliance and the Redfish fake on
// loopback: the page's own script (no inline script: CSP) sends the action
// with the session's CSRF token, asks before a power cycle, and the power
// state on the page follows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passwordPath, writePassword } from '../../../src/bmc/credentials.js';
import { RedfishFake } from '../../fakes/redfish/service.js';
import { inventoryYaml, sessionActor, type Harness } from './harness.js';
import { chromiumMissing, launchChromium, listening, logIn, tlsHarness, type Chromium } from './browser-rig.js';

describe('power buttons in a real browser', () => {
  it.skipIf(chromiumMissing)('powers on, asks before a cycle, cycles with PXE first, and shows the state', async () => {
    let h: Harness | undefined;
    let browser: Chromium | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'rackboot-web-'));
    const f = await new RedfishFake().start();
    try {
      h = await tlsHarness(dir);
      writeFileSync(join(dir, 'cluster.yaml'), inventoryYaml(`  - name: rf-1\n    mac: 52:54:00:00:06:01\n    role: worker\n    bmc:\n      address: redfish+http://127.0.0.1:${f.port}\n      username: ${f.username}\n`));
      expect(h.watcher.reload()).toBe(true);
      writePassword(passwordPath(h.settings.dataDir, 'rf-1'), f.password);
      const base = await listening(h);

      browser = await launchChromium(null);
      const page = await browser.context.newPage();
      const dialogs: string[] = [];
      let acceptNext = false;
      page.on('dialog', (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        void (acceptNext ? d.accept() : d.dismiss());
      });
      await logIn(page, base, '/ui/nodes/rf-1');
      await expect.poll(() => page.locator('#live').textContent()).toBe('live');
      expect(await page.locator('#node-summary .power-cell').first().innerText()).toBe('not read yet');

      await page.click('button[data-action="power"][data-power="on"]');
      await expect.poll(() => page.locator('#flash').textContent()).toBe('rf-1: power on (now on)');
      expect(f.machine.on).toBe(true);
      // The reading the action made reaches the page through the live feed.
      await expect.poll(() => page.locator('#node-summary .power-cell .power').first().textContent(), { timeout: 10_000 }).toBe('on');

      // Dismissing the confirmation sends nothing.
      await page.check('input[data-power-pxe="rf-1"]');
      await page.click('button[data-action="power"][data-power="cycle"]');
      await expect.poll(() => dialogs.length).toBe(1);
      expect(dialogs[0]).toBe('confirm: Power-cycle rf-1? It stops at once, without shutting down.');
      await new Promise((r) => setTimeout(r, 300));
      expect(f.resets).toEqual(['On']);
      acceptNext = true;
      await page.check('input[data-power-pxe="rf-1"]');
      await page.click('button[data-action="power"][data-power="cycle"]');
      await expect.poll(() => page.locator('#flash').textContent()).toBe('rf-1: power cycle after setting PXE (uefi) once');
      expect(f.resets).toEqual(['On', 'PowerCycle']);
      expect(f.machine.log).toEqual(['start boot=default', 'stop', 'start boot=pxe']);
      expect(h.store.events({ node: 'rf-1', limit: 10 }).filter((e) => e.kind === 'power').map((e) => (e.data as { actor: string }).actor)).toEqual([sessionActor(h), sessionActor(h)]);
    } finally {
      await browser?.close();
      await h?.close();
      await f.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
