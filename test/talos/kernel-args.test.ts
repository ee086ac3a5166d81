import { describe, expect, it } from 'vitest';
import { consoleArgs, kernelArgs, schematicArgs, talosDefaultArgs } from '../../src/talos/kernel-args.js';

// Expected values: ../shared/pxe/CLIENTS.md (Talos v1.11 metal defaults; v1.12 adds module.sig_enforce=1),
// upstream pkg/machinery/kernel/kernel.go DefaultArgs with pkg/machinery/imager/quirks/quirks.go
// (v1.13.0 adds proc_mem.force_override=never) and platform/metal/metal.go KernelArgs (arm64 consoles).
const REST = 'init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1';
const V111 = `talos.platform=metal console=tty0 ${REST}`;
const base = { arch: 'amd64' as const, consoles: [] as string[], schematicArgs: [] as string[], settingsArgs: [] as string[] };

describe('Talos defaults per version and arch', () => {
  it('match what the imager builds', () => {
    expect(talosDefaultArgs('v1.11.5').join(' ')).toBe(V111);
    expect(talosDefaultArgs('v1.12.0').join(' ')).toBe(`${V111} module.sig_enforce=1`);
    expect(talosDefaultArgs('v1.13.2').join(' ')).toBe(`${V111} module.sig_enforce=1 proc_mem.force_override=never`);
    expect(talosDefaultArgs('v1.11.5', 'arm64').join(' ')).toBe(`talos.platform=metal console=ttyAMA0 console=tty0 ${REST}`);
  });
});

describe('schematic extraKernelArgs, by the imager\'s rules', () => {
  it('-arg removes a default, so -module.sig_enforce module.sig_enforce=0 leaves only =0', () => {
    const args = schematicArgs('v1.12.0', 'amd64', ['-module.sig_enforce', 'module.sig_enforce=0']);
    expect(args.filter((a) => a.startsWith('module.sig_enforce'))).toEqual(['module.sig_enforce=0']);
    expect(args.at(-1)).toBe('module.sig_enforce=0');
    // Without the removal both stay, as upstream has it (the kernel reads the last).
    expect(schematicArgs('v1.12.0', 'amd64', ['module.sig_enforce=0']).filter((a) => a.startsWith('module.sig_enforce'))).toEqual(['module.sig_enforce=1', 'module.sig_enforce=0']);
  });

  // The example in upstream's install.extraKernelArgs documentation (website/content/v1.12/schemas/v1alpha1_config.schema.json):
  // "-console removes all console=<value> arguments, whereas -console=tty0 removes the console=tty0 default argument".
  it('-console removes every console, -console=tty0 only the default one', () => {
    const withSerial = { ...base, talosVersion: 'v1.11.5', consoles: ['ttyS0'] };
    expect(kernelArgs({ ...withSerial, schematicArgs: ['-console'] }).filter((a) => a.startsWith('console='))).toEqual([]);
    expect(kernelArgs({ ...withSerial, schematicArgs: ['-console=tty0'] }).filter((a) => a.startsWith('console='))).toEqual(['console=ttyS0']);
  });

  it('console= replaces the defaults\' consoles and the settings\' ones, where the consoles stand', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.11.5', consoles: ['ttyS0'], schematicArgs: ['console=ttyS1,115200', 'console=tty0'] });
    expect(args.join(' ')).toBe(`talos.platform=metal console=ttyS1,115200 console=tty0 ${REST}`);
  });

  it('talos.platform= replaces the platform; other args add values', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.11.5', schematicArgs: ['talos.platform=equinixMetal', 'net.ifnames=0', 'pti=off'] });
    expect(args).toContain('talos.platform=equinixMetal');
    expect(args).not.toContain('talos.platform=metal');
    expect(args.filter((a) => a.startsWith('pti='))).toEqual(['pti=on', 'pti=off']);
    expect(args.at(-1)).toBe('net.ifnames=0');
  });
});

describe('kernel command line', () => {
  it('console from the settings beside the default one, schematic args, settings args, then talos.config= for pull nodes', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.11.5', consoles: ['ttyS0,115200'], schematicArgs: ['net.ifnames=0'], settingsArgs: ['talos.dashboard.disabled=1'], configUrl: 'http://10.77.0.1:8080/config?mac=52:54:00:12:34:01' });
    expect(args.join(' ')).toBe(`talos.platform=metal console=tty0 console=ttyS0,115200 ${REST} net.ifnames=0 talos.dashboard.disabled=1 talos.config=http://10.77.0.1:8080/config?mac=52:54:00:12:34:01`);
  });

  it('the settings\' extraKernelArgs follow the same rules', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.12.0', settingsArgs: ['-selinux', '-module.sig_enforce=1'] });
    expect(args.join(' ')).toBe(`talos.platform=metal console=tty0 ${REST.replace(' selinux=1', '')}`);
  });

  it('arm64 serial console is ttyAMA0, last so it is /dev/console; push nodes get no talos.config=', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.11.5', arch: 'arm64', consoles: ['ttyS0'] });
    expect(args.filter((a) => a.startsWith('console='))).toEqual(['console=tty0', 'console=ttyAMA0']);
    expect(args.some((a) => a.startsWith('talos.config='))).toBe(false);
  });

  it('talos.logging.kernel appears once; consoleArgs gives what an installed node keeps', () => {
    const args = kernelArgs({ ...base, talosVersion: 'v1.11.5', consoles: ['ttyS0'], settingsArgs: ['talos.logging.kernel=udp://1.2.3.4:9/'], kernelLogUrl: 'udp://10.77.0.1:5514/' });
    expect(args.filter((a) => a.startsWith('talos.logging.kernel='))).toEqual(['talos.logging.kernel=udp://10.77.0.1:5514/']);
    expect(consoleArgs({ ...base, talosVersion: 'v1.11.5', consoles: ['ttyS0'] })).toEqual(['console=tty0', 'console=ttyS0']);
  });
});
