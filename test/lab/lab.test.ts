import { describe, expect, it } from 'vitest';
import { labMachines, standinNotice } from '../../src/lab/lab.js';

describe('lab machines', () => {
  it('alternates BIOS and UEFI, one control plane first, every third pulls its config, names fit Linux interface limits', () => {
    const ms = labMachines(6, '/tmp/lab');
    expect(ms.map((m) => m.firmware)).toEqual(['bios', 'uefi', 'bios', 'uefi', 'bios', 'uefi']);
    expect(ms.map((m) => m.role)).toEqual(['controlplane', 'worker', 'worker', 'worker', 'worker', 'worker']);
    expect(ms.filter((m) => m.configMode === 'pull').map((m) => m.name)).toEqual(['lab-3', 'lab-6']);
    expect(new Set(ms.map((m) => m.mac)).size).toBe(6);
    for (const m of ms) expect(m.tap.length).toBeLessThanOrEqual(15);
    expect(ms.map((m) => m.ip)).toEqual(['10.78.0.21', '10.78.0.22', '10.78.0.23', '10.78.0.24', '10.78.0.25', '10.78.0.26']);
    expect(labMachines(20, '/tmp/lab')[19]!.mac).toBe('52:54:00:1a:b0:14');
  });

  it('says plainly which parts are stand-ins: the kernel/initramfs and the fake Talos API', () => {
    const text = standinNotice({ kernel: 'k', initramfs: 'i', kernelPackage: 'linux-image-6.1.0-56-amd64' }).join('\n');
    expect(text).toMatch(/STAND-IN/);
    expect(text).toContain('linux-image-6.1.0-56-amd64');
    expect(text).toMatch(/FAKE Talos API/);
    expect(text).toMatch(/not Talos/);
    expect(standinNotice({ kernel: 'k', initramfs: 'i', kernelPackage: 'p' }, false).join('\n')).toMatch(/NO VMs/);
  });
});
