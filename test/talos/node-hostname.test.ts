// The hostname the node itself reports (Talos HostnameStatus), read at first
// contact in maintenance mode and again once it answers installed, kept with
// where and when it was read, and shown by the node view and the page.
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { hostnameFromResources, nodeHostname, readNodeHostname } from '../../src/talos/node-hostname.js';
import type { TalosClient } from '../../src/talos/client.js';
import { ClientClosedError } from '../../src/talos/errors.js';
import { nodeView } from '../../src/http/admin/views.js';
import { nodeSummary } from '../../src/http/admin/render.js';
import { hostnameStatus } from '../../src/lab/fake-talos/hostname.js';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

const res = (id: string, yaml: string) => ({ metadata: { namespace: 'network', type: 'HostnameStatuses.net.talos.dev', id, version: '1', phase: 'running' }, spec: { yaml_spec: yaml } });

describe('reading HostnameStatus', () => {
  it('takes hostname and domainname from the singleton; empty, malformed or missing answers give nothing', () => {
    expect(hostnameFromResources([res('hostname', 'hostname: talos-7kq-2xd\ndomainname: lab.example\n')])).toEqual({ hostname: 'talos-7kq-2xd', domainname: 'lab.example' });
    expect(hostnameFromResources([res('hostname', 'hostname: w1\ndomainname: ""\n')])).toEqual({ hostname: 'w1', domainname: '' });
    expect(hostnameFromResources([res('hostname', 'hostname: 0123\n')])).toEqual({ hostname: '0123', domainname: '' });
    expect(hostnameFromResources([res('hostname', 'hostname: ""\n')])).toBeUndefined();
    expect(hostnameFromResources([res('hostname', '[unclosed')])).toBeUndefined();
    expect(hostnameFromResources([res('hostname', '- a\n- b\n')])).toBeUndefined();
    expect(hostnameFromResources([res('other', 'hostname: x\n')])).toBeUndefined();
    expect(hostnameFromResources([])).toBeUndefined();
  });

  it('the fake holds its own name in maintenance and the config\'s name once configured (both config forms)', () => {
    expect(hostnameStatus('talos-abc-def').spec).toEqual({ hostname: 'talos-abc-def', domainname: '' });
    expect(hostnameStatus('talos-abc-def', Buffer.from('version: v1alpha1\nmachine:\n  network:\n    hostname: w1.rack.example\n')).spec)
      .toEqual({ hostname: 'w1', domainname: 'rack.example' });
    expect(hostnameStatus('talos-abc-def', Buffer.from('version: v1alpha1\nmachine: {}\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp-2\n')).spec)
      .toEqual({ hostname: 'cp-2', domainname: '' });
  });
});

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

describe('the node\'s own hostname, end to end against the fake node', () => {
  it('is read in maintenance mode, then again once installed, and the view and page say where it came from', async () => {
    rack = await makeRack(['worker']);
    const fake = rack.fakes.get('w1')!;
    fake.opts.hostname = 'talos-7kq-2xd';
    rack.store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES (?, '10.0.0.9', 'bound', ?, 'pxe-client', 0)")
      .run(rack.store.getNode('w1')!.mac, Date.now() + 3600_000);
    pxeBooted(rack, 'w1');
    const orch = rack.orchestrator();
    try {
      const before = Date.now();
      await orch.pass();
      expect(rack.store.getNode('w1')!.state).toBe('installing');
      expect(nodeHostname(rack.store, 'w1')).toMatchObject({ hostname: 'talos-7kq-2xd', domainname: '', seenIn: 'maintenance' });
      expect(nodeHostname(rack.store, 'w1')!.readAt).toBeGreaterThanOrEqual(before);
      const inMaintenance = nodeView(rack.store, rack.store.getNode('w1')!);
      expect(inMaintenance).toMatchObject({ hostname: 'talos-7kq-2xd', hostnameFrom: { from: 'talos-api', seenIn: 'maintenance' }, dhcpHostname: 'pxe-client' });
      const page = nodeSummary(inMaintenance).toString();
      expect(page).toContain('<span data-hostname-from="talos-api">talos-7kq-2xd</span>');
      expect(page).toMatch(/as its Talos API reports it \(HostnameStatus, read in maintenance mode, .*\); its config names it w1; its DHCP client sent pxe-client/);

      // Installed: the config names it w1, and the mTLS Version check reads the name again.
      for (let i = 0; i < 100 && rack.store.getNode('w1')!.state === 'installing'; i++) {
        await new Promise((r) => setTimeout(r, 30));
        await orch.pass();
      }
      expect(rack.store.getNode('w1')!.state).not.toBe('installing');
      expect(nodeHostname(rack.store, 'w1')).toMatchObject({ hostname: 'w1', seenIn: 'installed' });
      const installed = nodeView(rack.store, rack.store.getNode('w1')!);
      expect(installed).toMatchObject({ hostname: 'w1', hostnameFrom: { from: 'talos-api', seenIn: 'installed' } });
      expect(nodeSummary(installed).toString()).toMatch(/as its Talos API reports it \(HostnameStatus, read once installed, [^)]*\); its DHCP client sent pxe-client</);
    } finally {
      await orch.close();
    }
  });

  it('a node that refuses the resource keeps DHCP\'s name, shown as such; a closed client still ends the caller', async () => {
    rack = await makeRack(['worker']);
    const store = rack.store;
    store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES (?, '10.0.0.9', 'bound', ?, 'pxe-client', 0)")
      .run(store.getNode('w1')!.mac, Date.now() + 3600_000);
    const refusing = { listResources: async () => { throw Object.assign(new Error('resource type "HostnameStatuses.net.talos.dev" is not supported'), { code: grpc.status.PERMISSION_DENIED }); } } as unknown as TalosClient;
    expect(await readNodeHostname(store, 'w1', refusing, 'maintenance')).toBeUndefined();
    expect(nodeHostname(store, 'w1')).toBeUndefined();
    const v = nodeView(store, store.getNode('w1')!);
    expect(v).toMatchObject({ hostname: 'pxe-client', hostnameFrom: { from: 'dhcp' }, dhcpHostname: 'pxe-client' });
    expect(nodeSummary(v).toString()).toContain('pxe-client <span class="muted small">as its DHCP client reports it; its config names it w1</span>');
    const closed = { listResources: async () => { throw new ClientClosedError('closed'); } } as unknown as TalosClient;
    await expect(readNodeHostname(store, 'w1', closed, 'installed')).rejects.toBeInstanceOf(ClientClosedError);
  });
});
