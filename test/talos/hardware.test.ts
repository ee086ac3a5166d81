// Hardware facts through the COSI state API, from a fake node in maintenance
// mode that describes a three-disk, two-NIC machine, for every profile.
import { afterEach, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { TalosCallError } from '../../src/talos/errors.js';
import { HardwareFactsError, hardwareFacts, prettySize, readHardwareFacts } from '../../src/talos/hardware.js';
import { PROFILES } from '../../src/lab/fake-talos/profiles.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { THREE_DISKS } from './hardware-fixture.js';
import { FakeEtcd } from '../fakes/talos-cluster.js';
import { makeTestPki } from '../fakes/pki.js';
import { freePort } from './helpers.js';

const FAST = { timeoutMs: 1500, retries: 0, backoffMs: 10, maxBackoffMs: 20 };


let node: FakeTalosNode | undefined;
let client: TalosClient | undefined;
afterEach(async () => {
  client?.close();
  await node?.stop();
  client = node = undefined;
});

async function maintenanceNode(profile: (typeof PROFILES)[number]): Promise<TalosClient> {
  const host = '127.0.0.1';
  const pki = await makeTestPki();
  node = new FakeTalosNode({
    host, port: await freePort(host), hostname: 'm1', etcd: new FakeEtcd(), profile,
    maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]),
    disks: THREE_DISKS,
    machine: {
      system: { manufacturer: 'Rackboot Lab', productName: 'R-1', serialNumber: 'SN-42', uuid: '4c4c4544-0000-0000-0000-000000000042' },
      cpus: { sockets: 2, cores: 4, threads: 2 },
      nics: [{ name: 'enp1s0', mac: '52:54:00:aa:00:01' }, { name: 'enp2s0', mac: '52:54:00:aa:00:02', linkUp: false }],
    },
  });
  await node.start();
  client = await TalosClient.maintenance(node.endpoint, { policy: FAST });
  return client;
}

describe.each([...PROFILES])('hardware facts from a Talos %s node in maintenance', (profile) => {
  it('reads disks, system information, processors, memory, PCI devices and physical links', async () => {
    const facts = await readHardwareFacts(await maintenanceNode(profile));
    expect(facts.disks.map((d) => [d.devPath, d.serial, d.transport, d.rotational, d.size])).toEqual([
      ['/dev/nvme0n1', 'NVME-SYS-1', 'nvme', false, 512e9],
      ['/dev/sda', 'DATA-B', 'scsi', true, 1e12],
      ['/dev/vda', 'DATA-A', 'virtio', true, 2e12],
    ]);
    expect(facts.disks[0]!.wwid).toBe('eui.0000000000000001');
    expect(facts.system).toEqual({ manufacturer: 'Rackboot Lab', productName: 'R-1', version: 'pc-q35-8.2', serialNumber: 'SN-42', uuid: '4c4c4544-0000-0000-0000-000000000042' });
    expect(facts.processors.map((p) => [p.id, p.coreCount, p.threadCount])).toEqual([['CPU-0', 4, 8], ['CPU-1', 4, 8]]);
    expect(facts.memory).toEqual([expect.objectContaining({ id: 'DIMM-0', sizeMiB: 2048 })]);
    expect(facts.pci).toHaveLength(2);
    // lo is a link too, but not a physical one.
    expect(facts.links.map((l) => [l.id, l.permanentAddr, l.linkState, l.operationalState])).toEqual([
      ['enp1s0', '52:54:00:aa:00:01', true, 'up'], ['enp2s0', '52:54:00:aa:00:02', false, 'down']]);
    expect(node!.calls.ResourceList).toBe(6);
  });

  it('is refused a type without a resource definition, as access.go refuses it', async () => {
    const c = await maintenanceNode(profile);
    const err = await c.listResources('runtime', 'NoSuchThings.talos.dev').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TalosCallError);
    expect((err as TalosCallError).details).toBe('resource type "NoSuchThings.talos.dev" is not supported');
    const ns = await c.listResources('nowhere', 'Disks.block.talos.dev').catch((e: unknown) => e);
    expect((ns as TalosCallError).details).toBe('namespace "nowhere" is not supported');
  });
});

describe('hardwareFacts (decoding)', () => {
  const res = (type: string, id: string, yaml: string) => ({ metadata: { namespace: 'x', type, id, version: '1', phase: 'running' }, spec: { yaml_spec: yaml } });
  const empty = { disks: [], system: [], processors: [], memory: [], pci: [], links: [] };

  it('takes upstream key names, including serialnumber in lower case on SystemInformation', () => {
    const f = hardwareFacts({ ...empty, system: [res('SystemInformations.hardware.talos.dev', 'systeminformation', 'manufacturer: Dell Inc.\nproductName: R650\nserialnumber: ABC123\nuuid: 1-2\n')] });
    expect(f.system).toMatchObject({ manufacturer: 'Dell Inc.', productName: 'R650', serialNumber: 'ABC123' });
  });

  it('fills a missing dev_path from the id and ignores fields of the wrong type', () => {
    const f = hardwareFacts({ ...empty, disks: [res('Disks.block.talos.dev', 'sdb', 'size: "big"\nrotational: "yes"\nmodel: 7\n')] });
    expect(f.disks[0]).toMatchObject({ devPath: '/dev/sdb', size: 0, rotational: false, model: '7' });
  });

  it('keeps serials and wwids exactly as written, even when they look like numbers', () => {
    const f = hardwareFacts({ ...empty, disks: [res('Disks.block.talos.dev', 'sdd', 'size: 480103981056\nserial: 0123\nwwid: 0x5000c500a1b2c3d4\nmodel: 1e3\nrotational: true\n')] });
    expect(f.disks[0]).toMatchObject({ size: 480103981056, serial: '0123', wwid: '0x5000c500a1b2c3d4', model: '1e3', rotational: true });
  });

  it('says which resource has a spec that is not a mapping', () => {
    expect(() => hardwareFacts({ ...empty, disks: [res('Disks.block.talos.dev', 'sdc', '- a\n- b\n')] })).toThrow(HardwareFactsError);
    expect(() => hardwareFacts({ ...empty, disks: [res('Disks.block.talos.dev', 'sdc', 'a: [\n')] })).toThrow(/sdc: spec is not YAML/);
  });

  it('prints sizes in decimal units like pretty_size', () => {
    expect(prettySize(512e9)).toBe('512 GB');
    expect(prettySize(2e12)).toBe('2.0 TB');
    expect(prettySize(999)).toBe('999 B');
  });
});
