// The Quick start's order: `serve` first, then `init` and `talosconfig`.
// The daemon's Talos API service starts when the talosconfig appears, the
// page data and `doctor` say what the service is doing, and a reimage asked
// for afterwards reaches the node as a Talos Reset.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { diagnose } from '../../src/cli/doctor.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { maintenanceCert, osCaServerCert } from '../../src/lab/fake-talos/certs.js';
import { FakeEtcd } from '../../src/lab/fake-talos/cluster.js';
import { FakeTalosNode } from '../../src/lab/fake-talos/node.js';
import { NEWEST_PROFILE, profile } from '../../src/lab/fake-talos/profiles.js';
import { loadSettings } from '../../src/settings/settings.js';
import { parseSecrets } from '../../src/talos/secrets.js';

const TOKEN = 'talosconfig-after-serve-token-0123';
// A loopback address of its own: the daemon finds the node at IP:50000.
const NODE_IP = `127.0.73.${10 + (process.pid % 200)}`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serveWithoutTalosconfig(): Promise<{ dir: string; config: string; daemon: Daemon }> {
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-talosconfig-late-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cluster.yaml'), `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: ${profile(NEWEST_PROFILE).versionTag}
nodes:
  - name: w1
    mac: 52:54:00:00:07:01
    role: worker
    ip: ${NODE_IP}
    installDisk: /dev/sda
`);
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ./data\ninventory: ./cluster.yaml\nadminToken: ${TOKEN}\nlogLevel: warn\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false
http:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1\n`);
  const daemon = await startDaemon(loadSettings({ config }), pino({ level: 'silent' }));
  cleanups.push(() => daemon.close());
  return { dir, config, daemon };
}

async function api(daemon: Daemon, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const r = await daemon.admin.inject({ method, url, payload: payload as never, headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json();
}

const quiet = { out: () => undefined, err: () => undefined };

describe('a talosconfig written after serve started', () => {
  it('starts the Talos API service, shows it on /api/cluster and in doctor, and a later reimage resets the node', async () => {
    const { dir, config, daemon } = await serveWithoutTalosconfig();
    const settings = loadSettings({ config });
    expect((await api(daemon, 'GET', '/api/cluster')).talosService).toMatchObject({ state: 'waiting' });
    expect((await diagnose(settings)).find((f) => f.check === 'Talos API service')).toMatchObject({ level: 'warn' });

    expect(await main(['init', '--config', config], quiet)).toBe(0);
    expect(await main(['talosconfig', '--config', config], quiet)).toBe(0);
    await expect.poll(async () => (await api(daemon, 'GET', '/api/cluster')).talosService?.state, { timeout: 5000 }).toBe('running');
    expect((await diagnose(settings)).find((f) => f.check === 'Talos API service')).toMatchObject({ level: 'ok', detail: expect.stringContaining('running since') });

    // The node: a fake Talos in maintenance mode whose server cert the new OS CA signs, as trustd would.
    const secrets = parseSecrets(readFileSync(join(dir, 'data', 'secrets.yaml'), 'utf8'));
    const node = new FakeTalosNode({
      host: NODE_IP, port: 50000, hostname: 'w1', etcd: new FakeEtcd(), profile: NEWEST_PROFILE, installDelayMs: 20,
      maintenanceCert: await maintenanceCert([NODE_IP]), serverCert: await osCaServerCert(secrets, [NODE_IP]),
    });
    await node.start();
    cleanups.push(() => node.stop());

    // What the boot plane does when it hands w1 the Talos kernel; the service pushes its config.
    daemon.store.setState('w1', 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
    await expect.poll(() => daemon.store.getNode('w1')!.state, { timeout: 30_000, interval: 200 }).toMatch(/^(installed|ready)$/);
    expect(node.applied).toHaveLength(1);

    const r = await api(daemon, 'POST', '/api/nodes/w1/reimage', { reason: 'talosconfig-after-serve test' });
    expect(r.state).toBe('reimage-pending');
    await expect.poll(() => node.resets.length, { timeout: 20_000, interval: 200 }).toBe(1);
  }, 60_000);
});
