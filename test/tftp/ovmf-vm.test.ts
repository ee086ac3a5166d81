// A real UEFI machine (OVMF's own PXE client in QEMU) loads ipxe.efi from
// rackboot's TFTP. dnsmasq answers DHCP only (--port=0, TFTP off) and
// points the machine at rackboot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';
import { TftpChild } from './netns-lab.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const OVMF = '/usr/share/ovmf/OVMF.fd';
const IPXE_EFI = '/boot/ipxe.efi';
const why = missingPrerequisites([QEMU, OVMF, IPXE_EFI, '/usr/lib/ipxe/snponly.efi', '/usr/lib/ipxe/undionly.kpxe', '/usr/sbin/dnsmasq']);

const sfx = uniqueSuffix();
const bridge = `rbtr${sfx}`;
const tap = `rbtt${sfx}`;
const serverIp = '10.98.63.1';
let dir: string;
let ns: Netns | undefined;
let tftp: TftpChild | undefined;

describe.skipIf(why)('OVMF UEFI PXE loads ipxe.efi from rackboot', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rbt-ovmf-'));
    const root = join(dir, 'root');
    mkdirSync(root);
    copyFileSync(IPXE_EFI, join(root, 'ipxe.efi'));
    copyFileSync('/usr/lib/ipxe/snponly.efi', join(root, 'snponly.efi'));
    copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(root, 'undionly.kpxe'));
    ns = Netns.create(`rbtv${sfx}`);
    ns.addBridge(bridge, `${serverIp}/24`);
    ns.addTap(tap, bridge);
    tftp = await TftpChild.start(ns, serverIp, { root }, sfx);
    ns.spawn('/usr/sbin/dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', `--interface=${bridge}`, '--bind-interfaces',
      '--dhcp-range=10.98.63.50,10.98.63.99,255.255.255.0,1h', `--dhcp-boot=ipxe.efi,,${serverIp}`,
      `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-dhcp', '--log-facility=-',
    ]);
  }, 60_000);

  afterAll(async () => {
    await ns?.destroy();
    tftp?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the whole ipxe.efi to the VM, after its tsize probe', async () => {
    const serial = join(dir, 'vm.serial');
    ns!.spawn(QEMU, [
      '-accel', 'tcg', '-m', '512', '-nographic', '-monitor', 'none', '-no-reboot', '-bios', OVMF,
      '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`,
      '-device', 'virtio-net-pci,netdev=n0,romfile=,bootindex=1,mac=52:54:00:98:63:01',
      '-serial', `file:${serial}`,
    ]);
    const size = statSync(IPXE_EFI).size;
    const deadline = Date.now() + 200_000;
    let served = false;
    let m = await tftp!.metrics();
    while (Date.now() < deadline) {
      m = await tftp!.metrics();
      served = m.clients.some((c) => c.events.some((e) => e.kind === 'served' && e.file === 'ipxe.efi'));
      if (served) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(served, `no complete transfer; metrics ${JSON.stringify(m)}; stderr ${tftp!.stderr}`).toBe(true);
    const vm = m.clients.find((c) => c.events.some((e) => e.kind === 'served'))!;
    expect(vm.ip).toMatch(/^10\.98\.63\./);
    const done = vm.events.find((e) => e.kind === 'served' && e.file === 'ipxe.efi')!;
    expect(done.detail).toContain(`${size} bytes`);
    // CLIENTS.md: OVMF first asks for the size and aborts with ERROR 8.
    expect(vm.counters.probes).toBeGreaterThanOrEqual(1);
    expect(vm.counters).toMatchObject({ timeouts: 0, aborted: 0, denied: 0, notFound: 0 });
    expect(vm.counters.bytesSent).toBeGreaterThanOrEqual(size);
    // The binary it got runs: iPXE announces itself on the console.
    const until = Date.now() + 60_000;
    let text = '';
    while (Date.now() < until && !/iPXE/.test(text)) {
      await new Promise((r) => setTimeout(r, 1000));
      text = readFileSync(serial, 'latin1');
    }
    expect(text).toMatch(/iPXE/);
  }, 300_000);
});
