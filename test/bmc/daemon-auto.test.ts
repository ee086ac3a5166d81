// The automatic BMC paths as the daemon wires them: a node stuck booting
// past its timeout is PXE-cycled once through its BMC (the Redfish fake),
// by the daemon's own sweeper, before it is failed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { writePassword } from '../../src/bmc/credentials.js';
import { startDaemon } from '../../src/daemon.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { loadSettings } from '../../src/settings/settings.js';
import { RedfishFake } from '../fakes/redfish/service.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A daemon with one node whose BMC is the Redfish fake; its sweeper runs every second. */
async function daemonWithBmc(extraSettings: string) {
  const bmc = await new RedfishFake().start();
  bmc.machine.start('default');
  cleanups.push(async () => { await bmc.machine.stop(); await bmc.stop(); });
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-daemon-bmc-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cluster.yaml'), `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: v1.11.5
nodes:
  - name: w1
    mac: 52:54:00:00:02:01
    role: worker
    bmc:
      address: redfish+http://127.0.0.1:${bmc.port}
      username: root
`);
  writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nlogLevel: warn\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false
http:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1
lifecycle:\n  sweepSeconds: 1\n  timeouts:\n    booting: 2\n${extraSettings}`);
  writePassword(join(dir, 'data', 'bmc', 'w1.password'), bmc.password);
  const daemon = await startDaemon(loadSettings({ config: join(dir, 'rackboot.yaml') }), pino({ level: 'silent' }));
  cleanups.push(() => daemon.close());
  return { bmc, daemon };
}

describe('the daemon\'s automatic BMC paths', () => {
  it('its sweeper gives a node stuck booting one PXE-once + power-cycle through the BMC, then fails it', async () => {
    const { bmc, daemon } = await daemonWithBmc('');
    daemon.store.setState('w1', 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
    await expect.poll(() => bmc.resets, { timeout: 8000 }).toEqual(['PowerCycle']);
    // The fake records the Reset before it stops and starts the machine.
    await expect.poll(() => bmc.machine.log, { timeout: 5000 }).toEqual(['start boot=default', 'stop', 'start boot=pxe']);
    expect(daemon.store.getNode('w1')!.state).toBe('booting');
    await expect.poll(() => daemon.store.getNode('w1')!.state, { timeout: 8000 }).toBe('failed');
    expect(bmc.resets).toEqual(['PowerCycle']);
    const kinds = daemon.store.events({ node: 'w1' }).map((e) => e.kind).filter((k) => ['stuck-retry', 'power'].includes(k));
    expect(kinds).toEqual(['stuck-retry', 'power']);
  }, 30_000);

  it('falls back to the BMC for a reimage by time, even with no Talos service running (no talosconfig)', async () => {
    const { bmc, daemon } = await daemonWithBmc('power:\n  resetFallbackSeconds: 2\n');
    daemon.store.setState('w1', 'installed', 'installed (test)', { markedForInstall: false });
    new Reimager(new StateMachine(daemon.store)).mark('w1', 'hung node', 'test');
    await expect.poll(() => bmc.resets, { timeout: 8000 }).toEqual(['PowerCycle']);
    // The fake records the Reset before it stops and starts the machine.
    await expect.poll(() => bmc.machine.log, { timeout: 5000 }).toEqual(['start boot=default', 'stop', 'start boot=pxe']);
    expect(daemon.store.getNode('w1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    await expect.poll(() => daemon.store.events({ node: 'w1' }).filter((e) => e.kind === 'reimage').map((e) => (e.data as { step: string }).step), { timeout: 5000 })
      .toEqual(['requested', 'bmc-fallback', 'bmc-cycled']);
  }, 30_000);
});
