import { createSocket } from 'node:dgram';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { harness } from '../http/admin/harness.js';
import { startLifecycleServices } from '../../src/lifecycle/service.js';
import { ConsoleReceiver } from '../../src/console/receiver.js';
import { loadSettings, SettingsError } from '../../src/settings/settings.js';
import { DEFAULT_TIMEOUTS } from '../../src/lifecycle/states.js';

describe('lifecycle services in the daemon', () => {
  it('receives console lines, sweeps timeouts and resets CLI-marked reimages', async () => {
    const h = await harness();
    const resets: string[] = [];
    // Port 0: the kernel picks a free port, so parallel test files never collide.
    h.settings.console.port = 0;
    h.settings.lifecycle = { timeouts: { ...DEFAULT_TIMEOUTS, booting: 1 }, sweepSeconds: 1 };
    h.ctx.console = undefined;
    const services = await startLifecycleServices(h.ctx, pino({ level: 'silent' }), { resetter: { reset: async (n) => void resets.push(n) } });
    try {
      expect(services.map((s) => s.name)).toEqual(['console', 'lifecycle-sweeper']);
      const receiver = h.ctx.metricsSources!.find((m) => m instanceof ConsoleReceiver) as ConsoleReceiver;
      const port = receiver.port!;
      const got = new Promise<string>((resolve) => h.ctx.console!.once('line', (node: string) => resolve(node)));
      const c = createSocket('udp4');
      // Loopback belongs to no node; give it to w-1 for this test.
      h.store.db.prepare("UPDATE nodes SET ip='127.0.0.1' WHERE name='w-1'").run();
      c.send('{"msg":"boot"}', port, '127.0.0.1');
      expect(await got).toBe('w-1');
      c.close();

      h.store.setState('w-1', 'booting', 'setup', { markedForInstall: true });
      h.store.db.prepare("UPDATE nodes SET state_since=? WHERE name='w-1'").run(Date.now() - 5000);
      h.store.setState('cp-1', 'ready', 'setup', { markedForInstall: false });
      h.ctx.reimager!.mark('cp-1', 'from the CLI', 'cli');
      await expect.poll(() => h.store.getNode('w-1')!.state, { timeout: 5000 }).toBe('failed');
      expect(h.store.getNode('w-1')!.failedStep).toBe('booting');
      await expect.poll(() => h.store.getNode('cp-1')!.state, { timeout: 5000 }).toBe('wiping');
      expect(resets).toEqual(['cp-1']);
    } finally {
      for (const s of services.reverse()) await s.close();
      await h.close();
    }
  });
});

describe('lifecycle and console settings', () => {
  it('defaults, overrides and rejects bad values with their line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rackboot-lc-settings-'));
    try {
      const file = join(dir, 'rackboot.yaml');
      writeFileSync(file, 'lifecycle: {}\n');
      const d = loadSettings({ config: file });
      expect(d.lifecycle).toEqual({ timeouts: DEFAULT_TIMEOUTS, sweepSeconds: 15 });
      expect(d.console).toEqual({ enabled: true, port: 5514, linesPerNode: 500 });
      writeFileSync(file, 'lifecycle:\n  timeouts:\n    installing: 3600\n    booting: 0\n  sweepSeconds: 5\nconsole:\n  port: 6514\n  linesPerNode: 100\n');
      const s = loadSettings({ config: file });
      expect(s.lifecycle.timeouts).toMatchObject({ installing: 3600, booting: 0, maintenance: 900 });
      expect(s.lifecycle.sweepSeconds).toBe(5);
      expect(s.console).toEqual({ enabled: true, port: 6514, linesPerNode: 100 });
      writeFileSync(file, 'lifecycle:\n  timeouts:\n    ready: 10\n');
      expect(() => loadSettings({ config: file })).toThrow(SettingsError);
      writeFileSync(file, 'console:\n  port: 70000\n');
      try {
        loadSettings({ config: file });
        expect.unreachable();
      } catch (err) {
        expect((err as SettingsError).errors[0]!.line).toBe(2);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
