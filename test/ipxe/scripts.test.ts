import { describe, expect, it } from 'vitest';
import { commissionScript, installScript } from '../../src/ipxe/scripts.js';

// The exact text iPXE receives. Both boot scripts share one fetch/retry
// block; these pin every byte so a change to that block shows here.
const input = {
  mac: '52:54:00:12:34:01',
  talosVersion: 'v1.12.0',
  kernelUrl: 'http://10.77.0.1:8080/assets/v1.12.0/abc/vmlinuz-amd64',
  initrdUrl: 'http://10.77.0.1:8080/assets/v1.12.0/abc/initramfs-amd64.xz',
  kernelArgs: ['console=ttyS0', 'talos.platform=metal'],
};

describe('boot scripts', () => {
  it('the install script, byte for byte', () => {
    expect(installScript({ ...input, nodeName: 'cp-1;reboot' })).toBe(`#!ipxe
# rackboot: cp-1_reboot (52:54:00:12:34:01) is marked for install: Talos v1.12.0
echo rackboot: cp-1_reboot boots Talos v1.12.0
:fetch
kernel http://10.77.0.1:8080/assets/v1.12.0/abc/vmlinuz-amd64 initrd=initramfs-amd64.xz console=ttyS0 talos.platform=metal || goto retry
initrd --name initramfs-amd64.xz http://10.77.0.1:8080/assets/v1.12.0/abc/initramfs-amd64.xz || goto retry
boot || goto retry
:retry
echo rackboot: download failed, retrying in 5 seconds
sleep 5
goto fetch
`);
  });

  it('the commissioning script, byte for byte', () => {
    expect(commissionScript(input)).toBe(`#!ipxe
# rackboot: 52:54:00:12:34:01 is not in the inventory; commissioning: Talos v1.12.0 maintenance mode, no config, no install
echo rackboot: commissioning 52:54:00:12:34:01: Talos maintenance mode so its hardware can be read; it is not installed
:fetch
kernel http://10.77.0.1:8080/assets/v1.12.0/abc/vmlinuz-amd64 initrd=initramfs-amd64.xz console=ttyS0 talos.platform=metal || goto retry
initrd --name initramfs-amd64.xz http://10.77.0.1:8080/assets/v1.12.0/abc/initramfs-amd64.xz || goto retry
boot || goto retry
:retry
echo rackboot: download failed, retrying in 5 seconds
sleep 5
goto fetch
`);
  });
});
