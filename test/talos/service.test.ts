// The daemon's Talos service: waits for a talosconfig; with one, it runs
// passes in the background (IP:50000 from the store) and stops on close().
import { pbkdf2 } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { createLogger } from '../../src/log.js';
import { loadSettings } from '../../src/settings/settings.js';
import { bootstrapState } from '../../src/talos/bootstrap.js';
import { recordedTalosServiceState, startTalosService, talosInstallingProbe } from '../../src/talos/service.js';
import { ALL_PROFILES, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { waitFor } from './helpers.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

function quietLogger(lines: string[]) {
  return createLogger({ level: 'info', destination: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) });
}

describe('Talos service', () => {
  it('waits without a talosconfig and says so; a file that does not load is reported, a good one starts it', async () => {
    rack = await makeRack([]);
    const lines: string[] = [];
    const settings = loadSettings({ dataDir: rack.dir, config: undefined }, rack.dir);
    const svc = startTalosService({ settings, store: rack.store, states: new StateMachine(rack.store), log: quietLogger(lines), watchIntervalMs: 50 });
    try {
      expect(svc.state().state).toBe('waiting');
      expect(lines.join('')).toContain('off until the talosconfig appears');
      expect(recordedTalosServiceState(rack.store)?.state).toBe('waiting');
      writeFileSync(join(rack.dir, 'talosconfig'), 'context: a\ncontexts: {}\n');
      await waitFor(() => svc.state().state === 'failed', 5000, 'a broken talosconfig reported');
      expect(svc.state().detail).toContain('does not load');
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      writeFileSync(join(rack.dir, 'talosconfig'), stringify({
        context: 'a', contexts: { a: { ca: b64(rack.pki.osCa.crt), crt: b64(rack.pki.admin.crt), key: b64(rack.pki.admin.key) } },
      }));
      await waitFor(() => svc.state().state === 'running', 5000, 'service running');
      expect(recordedTalosServiceState(rack.store)?.state).toBe('running');
    } finally {
      await svc.close();
    }
    expect(recordedTalosServiceState(rack.store)?.state).toBe('stopped');
  });

  it('sees a talosconfig written the moment after start, while the thread pool is still busy', async () => {
    rack = await makeRack([]);
    const settings = loadSettings({ dataDir: rack.dir, config: undefined }, rack.dir);
    // Hold every libuv pool thread so that any stat queued at start runs only after the write below
    // (fs.watchFile took its baseline that way, saw the file as already there, and never fired).
    const poolBusy = Array.from({ length: 8 }, () => new Promise((done) => pbkdf2('x', 'y', 300_000, 32, 'sha256', done)));
    const svc = startTalosService({ settings, store: rack.store, states: new StateMachine(rack.store), log: quietLogger([]), watchIntervalMs: 50 });
    try {
      writeFileSync(join(rack.dir, 'talosconfig'), 'context: a\ncontexts: {}\n');
      await Promise.all(poolBusy);
      await waitFor(() => svc.state().state === 'failed', 5000, 'the talosconfig written at start was seen');
    } finally {
      await svc.close();
    }
  });

  it('with a talosconfig, bootstraps an installed control plane in the background and fetches the kubeconfig', async () => {
    rack = await makeRack(['controlplane'], { hostPrefix: '127.0.67.', firstHost: 1, port: 50000 });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(join(rack.dir, 'talosconfig'), stringify({
      context: 'a', contexts: { a: { ca: b64(rack.pki.osCa.crt), crt: b64(rack.pki.admin.crt), key: b64(rack.pki.admin.key) } },
    }));
    // Config push needs a renderer the daemon does not have yet: install with the test orchestrator.
    rack.fakes.get('cp1')!.faults.status.ServiceList = { code: 14, details: 'not yet', times: 1e6 };
    pxeBooted(rack, 'cp1');
    const orch = rack.orchestrator();
    for (let i = 0; i < 30 && rack.store.getNode('cp1')!.state !== 'installed'; i++) await orch.pass();
    await orch.close();
    rack.fakes.get('cp1')!.faults.status = {};

    const settings = loadSettings({ dataDir: rack.dir }, rack.dir);
    const svc = startTalosService({ settings, store: rack.store, states: new StateMachine(rack.store), log: quietLogger([]), intervalMs: 50 });
    expect(svc?.name).toBe('talos');
    try {
      await waitFor(() => rack!.store.getNode('cp1')!.state === 'ready', 10_000, 'cp1 ready');
    } finally {
      await svc!.close();
    }
    expect(bootstrapState(rack.store)).toBe('bootstrapped');
    expect(existsSync(join(rack.dir, 'kubeconfig'))).toBe(true);
    expect(rack.totalBootstraps()).toBe(1);
  });
});

describe.each(ALL_PROFILES)('the BMC guards\' "Talos reports installing" probe, Talos %s', (profile) => {
  it('counts a node the store has installing as installing while its maintenance API answers, and not once it is gone', async () => {
    rack = await makeRack(['worker'], { profile });
    const fake = rack.fakes.get('w1')!;
    const probe = talosInstallingProbe(rack.store, rack.dir, (n) => rack!.fakes.get(n.name)?.endpoint);
    rack.store.setState('w1', 'installing', 'config applied (test)', { markedForInstall: true });
    // Up to v1.12 the maintenance API answers Version with Unimplemented (profiles.ts): it still answers.
    expect(await probe(rack.store.getNode('w1')!)).toBe(true);
    rack.store.setState('w1', 'booting', 'test');
    expect(await probe(rack.store.getNode('w1')!)).toBe(false);
    rack.store.setState('w1', 'installing', 'test');
    await fake.stop();
    expect(await probe(rack.store.getNode('w1')!)).toBe(false);
  });
});
