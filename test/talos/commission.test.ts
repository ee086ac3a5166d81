// Commissioning an unknown machine: rackboot reads its hardware from
// maintenance mode and never sends it a config, a Reset or an installer.
// The unknown machine's fake runs next to an inventory node's, and both see
// the same orchestrator pass: the inventory node gets its config, the
// unknown one gets only resource reads.
import { afterEach, describe, expect, it } from 'vitest';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { THREE_DISKS } from './hardware-fixture.js';
import { freePort } from './helpers.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { Commissioner } from '../../src/talos/commission.js';
import { commissionRecord, recordCommissionBoot } from '../../src/store/discovered-hardware.js';
import { discoveredView } from '../../src/lifecycle/discovery.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { commissionBmcNode } from '../../src/lifecycle/commission-bmc.js';
import type { NodeRecord } from '../../src/store/store.js';

const UNKNOWN_MAC = '52:54:00:c0:ff:ee';
let rack: Rack | undefined;
let unknown: FakeTalosNode | undefined;
afterEach(async () => {
  await unknown?.stop();
  await rack?.close();
  rack = unknown = undefined;
});

const SMBIOS_UUID = '4c4c4544-0042-3510-8052-b4c04f4e4d32';

async function setUp(): Promise<{ rack: Rack; unknown: FakeTalosNode; commissioner: Commissioner }> {
  rack = await makeRack(['worker']);
  const host = '127.0.0.19';
  unknown = new FakeTalosNode({
    host, port: await freePort(host), hostname: 'talos-unknown', etcd: rack.etcd,
    maintenanceCert: await rack.pki.selfSigned([host]), serverCert: await rack.pki.serverCert([host]),
    disks: THREE_DISKS,
    machine: {
      system: { manufacturer: 'Lab', productName: 'R-2', serialNumber: 'CHASSIS-9', uuid: SMBIOS_UUID },
      nics: [
        { name: 'enp1s0', mac: UNKNOWN_MAC, driver: 'virtio_net', linkUp: true, pciAddress: '0000:01:00.0' },
        { name: 'enp2s0', mac: '52:54:00:c0:ff:ef', driver: 'virtio_net', linkUp: false, pciAddress: '0000:02:00.0' },
      ],
    },
  });
  await unknown.start();
  // What the HTTP side records when it serves the commissioning kernel (test/http/boot/commission-ipxe.test.ts).
  new Lifecycle(rack.store).scriptRequested({ mac: UNKNOWN_MAC, source: 'http', arch: 'x86_64' });
  recordCommissionBoot(rack.store.db, UNKNOWN_MAC, Date.now());
  const port = unknown.opts.port;
  const commissioner = new Commissioner({ store: rack.store, addressOf: (mac) => (mac === UNKNOWN_MAC ? host : undefined), port, timeoutMs: 1500 });
  return { rack, unknown, commissioner };
}

it('reads an unknown machine\'s facts and sends it no config, Reset or installer, while the inventory node beside it is configured', async () => {
  const { rack, unknown, commissioner } = await setUp();
  pxeBooted(rack, 'w1');
  const orch = rack.orchestrator();
  try {
    await orch.pass();
    expect(await commissioner.pass()).toEqual([UNKNOWN_MAC]);
    await orch.pass();
  } finally {
    await orch.close();
    await commissioner.close();
  }
  expect(rack.fakes.get('w1')!.applied).toHaveLength(1);
  expect(unknown.applied).toHaveLength(0);
  expect(unknown.resets).toHaveLength(0);
  for (const m of ['ApplyConfiguration', 'Reset', 'Upgrade', 'Bootstrap', 'Reboot']) expect(unknown.calls[m] ?? 0).toBe(0);
  expect(unknown.calls.ResourceList ?? 0).toBeGreaterThan(0);
  expect(unknown.mode).toBe('maintenance');
  expect(['installing', 'installed']).toContain(rack.store.getNode('w1')!.state);
  // No node record appears for it: adopting is the operator's paste.
  expect(rack.store.nodeByMac(UNKNOWN_MAC)).toBeUndefined();
  const rec = commissionRecord(rack.store.db, UNKNOWN_MAC)!;
  expect(rec.state).toBe('read');
  expect(rec.facts?.system?.serialNumber).toBe('CHASSIS-9');
});

it('the discovered list shows the facts and a snippet whose selector names the disk rackboot would pick', async () => {
  const { rack, commissioner } = await setUp();
  await commissioner.pass();
  await commissioner.close();
  const [d] = discoveredView(rack.store);
  expect(d!.commission).toMatchObject({ state: 'read', cabledMac: UNKNOWN_MAC, installDisk: '/dev/nvme0n1 (512 GB, model QEMU NVMe Ctrl, serial NVME-SYS-1, nvme)' });
  expect(d!.commission!.summary).toMatch(/^Lab R-2 \(serial CHASSIS-9\); .*disks: \/dev\/nvme0n1 512 GB nvme, /);
  expect(d!.snippet).toBe(`- name: node-525400c0ffee\n  mac: ${UNKNOWN_MAC}\n  role: worker\n  installDisk:\n    serial: NVME-SYS-1\n`);
});

it('a machine not answering yet is asked again on the next pass, with the reason kept', async () => {
  const { rack, unknown, commissioner } = await setUp();
  await unknown.stop();
  expect(await commissioner.pass()).toEqual([]);
  expect(commissionRecord(rack.store.db, UNKNOWN_MAC)).toMatchObject({ state: 'booting' });
  expect(commissionRecord(rack.store.db, UNKNOWN_MAC)!.lastError).toBeTruthy();
  await unknown.start();
  expect(await commissioner.pass()).toEqual([UNKNOWN_MAC]);
  await commissioner.close();
});

it('a machine with no address known is not asked, and says why', async () => {
  const { rack } = await setUp();
  const c = new Commissioner({ store: rack.store, addressOf: () => undefined });
  expect(await c.pass()).toEqual([]);
  await c.close();
  expect(commissionRecord(rack.store.db, UNKNOWN_MAC)!.lastError).toMatch(/no address known yet/);
});

describe('power off after reading', () => {
  const BMC = { address: 'redfish://10.0.0.9', username: 'admin', bootMode: 'uefi' as const };
  const withUuid = (r: Rack, name: string, uuid: string, bmc = true) =>
    r.store.db.prepare("UPDATE nodes SET uuid=?, spec_json=json_set(spec_json,'$.uuid',?,'$.bmc',json(?)) WHERE name=?").run(uuid, uuid, bmc ? JSON.stringify(BMC) : 'null', name);

  it('through the BMC of the inventory node whose UUID the machine reported', async () => {
    const { rack } = await setUp();
    withUuid(rack, 'w1', SMBIOS_UUID.toUpperCase());
    const off: string[] = [];
    const c = new Commissioner({ store: rack.store, addressOf: () => unknown!.opts.host, port: unknown!.opts.port, powerOff: async (n) => (off.push(n.name), { ok: true, message: 'off' }) });
    expect(await c.pass()).toEqual([UNKNOWN_MAC]);
    await c.close();
    expect(off).toEqual(['w1']);
    expect(rack.store.events({ mac: UNKNOWN_MAC }).map((e) => e.message)).toContain(`commissioning ${UNKNOWN_MAC}: SMBIOS UUID ${SMBIOS_UUID} is w1's; power off through its BMC: done`);
  });

  it('not when no inventory node has that UUID, or that node has no BMC', async () => {
    const { rack } = await setUp();
    const off: string[] = [];
    const powerOff = async (n: { name: string }) => (off.push(n.name), { ok: true, message: 'off' });
    const again = async () => {
      recordCommissionBoot(rack.store.db, UNKNOWN_MAC, Date.now());
      const c = new Commissioner({ store: rack.store, addressOf: () => unknown!.opts.host, port: unknown!.opts.port, powerOff });
      expect(await c.pass()).toEqual([UNKNOWN_MAC]);
      await c.close();
    };
    await again();
    withUuid(rack, 'w1', SMBIOS_UUID, false);
    await again();
    expect(off).toEqual([]);
    expect(rack.store.events({ mac: UNKNOWN_MAC }).map((e) => e.message).filter((m) => m.includes('no BMC is known'))).toHaveLength(2);
  });
});

it('commissionBmcNode: an all-zero or shared UUID ties no node', () => {
  const node = (name: string, uuid: string | null) => ({ name, uuid, inInventory: true, spec: { bmc: { address: 'ipmi://x', username: 'u', bootMode: 'uefi' } } }) as unknown as NodeRecord;
  const facts = (uuid: string) => ({ disks: [], processors: [], memory: [], pci: [], links: [], system: { manufacturer: '', productName: '', version: '', serialNumber: '', uuid } });
  expect(commissionBmcNode([node('a', SMBIOS_UUID)], facts(SMBIOS_UUID))?.name).toBe('a');
  expect(commissionBmcNode([node('a', SMBIOS_UUID), node('b', SMBIOS_UUID)], facts(SMBIOS_UUID))).toBeUndefined();
  expect(commissionBmcNode([node('a', '00000000-0000-0000-0000-000000000000')], facts('00000000-0000-0000-0000-000000000000'))).toBeUndefined();
  expect(commissionBmcNode([node('a', SMBIOS_UUID)], facts(''))).toBeUndefined();
});
