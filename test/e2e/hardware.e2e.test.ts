// Hardware facts end to end (issue 17): a QEMU machine with three disks of
// three transports, two NICs and SMBIOS values boots the Talos stand-in,
// which prints what the kernel sees. The fake Talos node that takes over
// serves exactly that as its resources; commissioning reads them and
// suggests an install-disk selector. Proof point: the selector, applied to
// the kernel's own disk list, resolves to the disk the test meant (the NVMe
// disk with serial NVME-SYS-1), and each test-written selector finds its disk.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { parseHardwareReport } from '../../src/lab/standin-init.js';
import { selectDisk, type DiskSelector } from '../../src/talos/disk-selector.js';
import { discoveredView } from '../../src/lifecycle/discovery.js';
import { Commissioner } from '../../src/talos/commission.js';
import { commissionRecord, recordCommissionBoot } from '../../src/store/discovered-hardware.js';
import { Store } from '../../src/store/store.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { FakeEtcd } from '../fakes/talos-cluster.js';
import { makeTestPki } from '../fakes/pki.js';
import { freePort } from '../talos/helpers.js';
import { HW_MACHINE, hardwareMachineArgs, reportedDisks } from './hardware-machine.js';

const why = missingPrerequisites(['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/bin/busybox', '/usr/bin/cpio']);

describe.skipIf(why)('e2e, hardware facts of a three-disk, two-NIC machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-e2e-hw-'));
  let node: FakeTalosNode | undefined;
  let store: Store | undefined;
  afterAll(async () => {
    await node?.stop();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the kernel sees the serials, models, wwid and SMBIOS values the test gave, and selectors resolve to the disks meant', async () => {
    const standin = inject('standin');
    const images = { nvme: join(dir, 'nvme.img'), virtio: join(dir, 'virtio.img'), scsi: join(dir, 'scsi.img') };
    for (const [k, f] of Object.entries(images)) execFileSync('qemu-img', ['create', '-q', '-f', 'raw', f, `${HW_MACHINE.disks[k as keyof typeof images].sizeMiB}M`]);
    const serialFile = join(dir, 'serial.txt');
    execFileSync('/usr/bin/qemu-system-x86_64', hardwareMachineArgs({ kernel: standin.kernel, initramfs: standin.initramfs, serialFile, images }), { timeout: 150_000, stdio: 'ignore' });
    const report = parseHardwareReport(readFileSync(serialFile, 'latin1'));

    expect(report.dmi).toMatchObject({ sys_vendor: 'Lab', product_name: 'R-17', product_serial: 'CHASSIS-17' });
    expect(Object.values(report.nics).sort()).toEqual([...HW_MACHINE.nics]);
    const disks = reportedDisks(report);
    const byName = Object.fromEntries(disks.map((d) => [d.device_name, d]));
    expect(byName.nvme0n1).toMatchObject({ serial: 'NVME-SYS-1', model: 'QEMU NVMe Ctrl', transport: 'nvme', size: 64 * 2 ** 20, rotational: false });
    expect(byName.vda).toMatchObject({ serial: 'DATA-A', transport: 'virtio', size: 128 * 2 ** 20 });
    expect(byName.sda).toMatchObject({ serial: 'DATA-B', model: 'SLOWDISK', wwid: 'naa.5000c50015ea71ac', transport: 'scsi', rotational: true });

    // The fake Talos node takes over from the stand-in with exactly what the kernel saw; commissioning reads it.
    const host = '127.0.0.23';
    const pki = await makeTestPki();
    node = new FakeTalosNode({
      host, port: await freePort(host), hostname: 'talos-hw', etcd: new FakeEtcd(),
      maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]), disks,
      machine: { system: HW_MACHINE.system, nics: Object.entries(report.nics).map(([name, mac], i) => ({ name, mac, driver: 'virtio_net', linkUp: i === 0 })) },
    });
    await node.start();
    store = new Store(join(dir, 'rackboot.db'));
    const mac = HW_MACHINE.nics[0];
    store.recordDiscovered({ mac, source: 'http', arch: 'x86_64' });
    recordCommissionBoot(store.db, mac, Date.now());
    const commissioner = new Commissioner({ store, addressOf: () => host, port: node.opts.port });
    expect(await commissioner.pass()).toEqual([mac]);
    await commissioner.close();
    expect(node.applied).toHaveLength(0);
    const facts = commissionRecord(store.db, mac)!.facts!;
    expect(facts.system).toMatchObject({ manufacturer: 'Lab', productName: 'R-17', serialNumber: 'CHASSIS-17' });

    const meant: [DiskSelector, string][] = [
      [{ serial: 'NVME-SYS-1' }, '/dev/nvme0n1'], [{ serial: 'DATA-A' }, '/dev/vda'], [{ model: 'SLOW*' }, '/dev/sda'],
      [{ wwid: 'naa.5000c50015ea71ac' }, '/dev/sda'], [{ transport: 'nvme' }, '/dev/nvme0n1'], [{ rotational: true, size: '>= 120MiB' }, '/dev/vda'],
    ];
    for (const [s, path] of meant) {
      const m = selectDisk(s, facts.disks);
      expect(m.kind === 'one' ? m.disk.devPath : m, JSON.stringify(s)).toBe(path);
    }
    // The snippet's selector, applied to the kernel's own disk list, names the NVMe disk.
    const [view] = discoveredView(store);
    expect(view!.snippet).toContain(`mac: ${mac}\n  role: worker\n  installDisk:\n    serial: NVME-SYS-1\n`);
    const back = selectDisk({ serial: 'NVME-SYS-1' }, disks.map((d) => ({ id: d.device_name, devPath: `/dev/${d.device_name}`, size: d.size, model: d.model, serial: d.serial ?? '', wwid: d.wwid ?? '', transport: d.transport ?? '', rotational: !!d.rotational, readonly: false, cdrom: false, busPath: '' })));
    expect(back.kind === 'one' && back.disk.devPath).toBe('/dev/nvme0n1');
  });
});
