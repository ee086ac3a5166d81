// The daemon reads each BMC's power state every bmc.pollSeconds and the
// admin plane shows it: a machine powered on behind rackboot's back shows
// `on` after the next round, without anyone asking.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadSettings } from '../../src/settings/settings.js';
import { startDaemon } from '../../src/daemon.js';
import { passwordPath, writePassword } from '../../src/bmc/credentials.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { inventoryYaml } from '../http/admin/harness.js';

const TOKEN = 'poller-test-admin-token-0123';

describe('the daemon\'s power poller', () => {
  it('polls every bmc.pollSeconds and the node views follow the machine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-poller-'));
    const f = await new RedfishFake().start();
    writeFileSync(join(dir, 'cluster.yaml'), inventoryYaml(`  - name: rf-1\n    mac: 52:54:00:00:05:01\n    role: worker\n    bmc:\n      address: redfish+http://127.0.0.1:${f.port}\n      username: ${f.username}\n`));
    writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nadminToken: ${TOKEN}\nlogLevel: warn\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nbmc:\n  pollSeconds: 1\n  timeoutSeconds: 2\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1\n`);
    const settings = loadSettings({ config: join(dir, 'rackboot.yaml') });
    expect(settings.bmc).toEqual({ pollSeconds: 1, timeoutSeconds: 2, solSeconds: 600 });
    writePassword(passwordPath(settings.dataDir, 'rf-1'), f.password);
    const daemon = await startDaemon(settings, pino({ level: 'silent' }));
    const pinned = new Agent({ connect: { ca: readFileSync(join(dir, 'data', 'admin-tls', 'cert.pem'), 'utf8') } });
    const powerOf = async () => {
      const res = await request(`https://127.0.0.1:${daemon.adminAddress.port}/api/nodes`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: pinned });
      const { nodes } = (await res.body.json()) as { nodes: { name: string; power: { state: string; readAt: number | null } | null }[] };
      return nodes.find((n) => n.name === 'rf-1')!.power!;
    };
    const waitFor = async (state: string) => {
      for (let i = 0; i < 50; i++) {
        const p = await powerOf();
        if (p.state === state) return p;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`rf-1 never showed power ${state}`);
    };
    try {
      const off = await waitFor('off');
      expect(off.readAt).not.toBeNull();
      f.machine.start('default');
      const on = await waitFor('on');
      expect(on.readAt!).toBeGreaterThan(off.readAt!);
      // Reads are status reads: nothing was powered, nothing audited.
      expect(f.resets).toEqual([]);
      expect(daemon.store.events({ node: 'rf-1', limit: 100 }).filter((e) => e.kind === 'power')).toEqual([]);
    } finally {
      await pinned.close();
      await daemon.close();
      await f.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
