import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, inventoryYaml } from './harness.js';
import { Reimager } from '../../../src/lifecycle/reimage.js';
import { actionButton } from '../../../src/http/admin/render.js';
import { nodeDetailView } from '../../../src/http/admin/views.js';
import { schematicId } from '../../../src/factory/schematic.js';
import { BOOTSTRAP_KEY, ETCD_MEMBERS_KEY } from '../../../src/lifecycle/cluster-state.js';
import { FakeNeighbours } from '../../../src/net/neighbours.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('lifecycle JSON API', () => {
  it('reimage with a resetter that succeeds goes wiping; one that fails stays pending; cancel undoes', async () => {
    const h = await harness();
    try {
      h.store.setState('cp-1', 'ready', 'setup', { markedForInstall: false });
      h.store.setState('w-1', 'installed', 'setup', { markedForInstall: false });
      const reset: string[] = [];
      h.ctx.reimager = new Reimager(h.ctx.lifecycle.machine, {
        reset: async (n) => {
          if (n === 'w-1') throw new Error('connect ECONNREFUSED');
          reset.push(n);
        },
      });
      const ok = await h.app.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: auth, payload: { reason: 'new disk' } });
      expect(ok.json()).toEqual({ node: 'cp-1', state: 'wiping', reset: 'sent' });
      expect(reset).toEqual(['cp-1']);
      const down = await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage', headers: auth, payload: {} });
      expect(down.json()).toMatchObject({ node: 'w-1', state: 'reimage-pending', reset: 'failed', error: 'connect ECONNREFUSED' });
      expect(h.store.getNode('w-1')!.markedForInstall).toBe(true);
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage', headers: auth, payload: {} })).statusCode).toBe(409);
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/nope/reimage', headers: auth, payload: {} })).statusCode).toBe(404);
      const cancel = await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage/cancel', headers: auth });
      expect(cancel.json()).toEqual({ node: 'w-1', state: 'installed' });
      expect(h.store.getNode('w-1')!.markedForInstall).toBe(false);
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage/cancel', headers: auth })).statusCode).toBe(409);
    } finally {
      await h.close();
    }
  });

  it('reimaging the last etcd member needs destroyEtcd: true, as the page\'s checkbox sends it', async () => {
    const h = await harness();
    try {
      for (const n of ['cp-1', 'w-1']) h.store.setState(n, 'ready', 'setup', { markedForInstall: false });
      h.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
      h.store.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(['cp-1']));
      h.ctx.reimager = new Reimager(h.ctx.lifecycle.machine);
      // The page offers the checkbox beside a control plane's Reimage button, not a worker's.
      const button = (name: string) => String(actionButton(nodeDetailView(h.ctx, name)!.node));
      expect(button('cp-1')).toMatch(/data-action="reimage" data-node="cp-1">Reimage<\/button> <label [^>]*><input type="checkbox" data-destroy-etcd="cp-1"> destroy etcd<\/label>/);
      expect(button('w-1')).not.toContain('data-destroy-etcd');
      const refused = await h.app.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: auth, payload: { reason: 'x' } });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().message).toMatch(/cp-1 is the last etcd member .*tick "destroy etcd" on the page/);
      // Only a JSON true confirms.
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: auth, payload: { destroyEtcd: 'yes' } })).statusCode).toBe(409);
      const ok = await h.app.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: auth, payload: { destroyEtcd: true } });
      expect(ok.json()).toEqual({ node: 'cp-1', state: 'reimage-pending', reset: 'unavailable', etcdDestroyed: true });
      expect(h.store.getClusterState(BOOTSTRAP_KEY)).toBe('pending');
    } finally {
      await h.close();
    }
  });

  it('nodes list and detail carry state, plain-words failure, last event and console', async () => {
    const h = await harness();
    try {
      h.store.setState('w-1', 'installing', 'setup', { markedForInstall: true });
      h.ctx.lifecycle.observe('w-1', { kind: 'error', detail: 'install disk /dev/sda not found' });
      h.ctx.console!.add('w-1', { at: 1, msg: 'installer: no disk', fields: { msg: 'installer: no disk' } });
      const list = (await h.app.inject({ url: '/api/nodes', headers: auth })).json().nodes;
      const w1 = list.find((n: { name: string }) => n.name === 'w-1');
      expect(w1).toMatchObject({ state: 'failed', failedStep: 'installing', stateReason: 'install disk /dev/sda not found' });
      expect(w1.failedText).toBe('Failed while installing: install disk /dev/sda not found. It is still marked for install: fix the cause (see its console and events), then power-cycle it to try again.');
      expect(w1.lastEvent.message).toBe('installing → failed: install disk /dev/sda not found');
      const detail = (await h.app.inject({ url: '/api/nodes/w-1', headers: auth })).json();
      expect(detail.console).toEqual([{ at: 1, msg: 'installer: no disk' }]);
      expect(detail.events[0].message).toBe('installing → failed: install disk /dev/sda not found');
      expect((await h.app.inject({ url: '/api/nodes/w-1/console', headers: auth })).json()[0].fields).toEqual({ msg: 'installer: no disk' });
      expect((await h.app.inject({ url: '/api/nodes/nope', headers: auth })).statusCode).toBe(404);
    } finally {
      await h.close();
    }
  });

  it('discovered, cluster status with credential downloads, and asset cache status', async () => {
    const h = await harness();
    try {
      h.ctx.lifecycle.sighted({ mac: 'de:ad:00:00:00:09', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000', arch: '7' });
      const d = (await h.app.inject({ url: '/api/discovered', headers: auth })).json();
      expect(d[0]).toMatchObject({ mac: 'de:ad:00:00:00:09', uuidFlag: 'all-zero', archName: 'x64 UEFI' });
      expect((await h.app.inject({ url: '/api/discovered/snippet', headers: auth })).body).toContain('mac: de:ad:00:00:00:09');

      expect((await h.app.inject({ url: '/api/cluster', headers: auth })).json()).toEqual({
        name: 'lab', bootstrap: 'pending', bootstrapped: false, etcdMembers: [], downloads: { kubeconfig: false, talosconfig: false }, talosService: null,
      });
      expect((await h.app.inject({ url: '/api/cluster/kubeconfig', headers: auth })).statusCode).toBe(404);
      writeFileSync(join(h.settings.dataDir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
      h.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
      h.store.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(['cp-1']));
      expect((await h.app.inject({ url: '/api/cluster', headers: auth })).json()).toMatchObject({ bootstrapped: true, etcdMembers: ['cp-1'], downloads: { kubeconfig: true } });
      const kc = await h.app.inject({ url: '/api/cluster/kubeconfig', headers: auth });
      expect(kc.body).toBe('apiVersion: v1\nkind: Config\n');
      expect(kc.headers['content-disposition']).toBe('attachment; filename="kubeconfig"');

      const schematic = schematicId(h.watcher.inventory!.cluster.schematic);
      const dir = join(h.settings.assetsDir, schematic, 'v1.11.5');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'kernel-amd64'), Buffer.alloc(2048));
      const a = (await h.app.inject({ url: '/api/assets', headers: auth })).json();
      expect(a.schematic).toBe(schematic);
      expect(a.files.find((f: { file: string }) => f.file === 'kernel-amd64')).toEqual({ arch: 'amd64', file: 'kernel-amd64', present: true, bytes: 2048, fetch: 'rackboot assets fetch --arch amd64' });
      expect(a.files.find((f: { file: string }) => f.file === 'initramfs-amd64.xz').present).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('lists arm64 assets only when the inventory has an arm64 node, and the page says to fetch them with --arch', async () => {
    const h = await harness();
    try {
      const arches = async () => [...new Set((await h.app.inject({ url: '/api/assets', headers: auth })).json().files.map((f: { arch: string }) => f.arch))];
      expect(await arches()).toEqual(['amd64']);
      expect((await h.app.inject({ url: '/ui', headers: auth })).body).not.toContain('arm64');
      writeFileSync(join(h.dir, 'cluster.yaml'), inventoryYaml('  - name: a-1\n    mac: 52:54:00:00:00:09\n    role: worker\n    arch: arm64\n'));
      expect(h.watcher.reload()).toBe(true);
      expect(await arches()).toEqual(['amd64', 'arm64']);
      expect((await h.app.inject({ url: '/ui', headers: auth })).body).toContain('missing: run rackboot assets fetch --arch arm64');
    } finally {
      await h.close();
    }
  });

  it('the install script streams the kernel log to our console port', async () => {
    const h = await harness();
    try {
      const schematic = schematicId(h.watcher.inventory!.cluster.schematic);
      const dir = join(h.settings.assetsDir, schematic, 'v1.11.5');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'kernel-amd64'), 'k');
      writeFileSync(join(dir, 'initramfs-amd64.xz'), 'i');
      h.ctx.requesterIdentity = new FakeNeighbours({ '10.0.0.12': '52:54:00:00:00:02' });
      const script = (await h.boot.inject({ url: '/ipxe?mac=52:54:00:00:00:02&arch=x86_64', remoteAddress: '10.0.0.12' })).body;
      expect(script).toContain('talos.logging.kernel=udp://10.0.0.1:5514/');
      expect(h.store.getNode('w-1')!.state).toBe('booting');
    } finally {
      await h.close();
    }
  });
});
