import { describe, expect, it } from 'vitest';
import { kernelArgs, talosDefaultArgs } from '../../src/talos/kernel-args.js';

// Expected values: ../shared/pxe/CLIENTS.md (Talos v1.11 metal defaults; v1.12 adds module.sig_enforce=1).
const V111 = 'talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1';

describe('kernel command line', () => {
  it('Talos defaults per version', () => {
    expect(talosDefaultArgs('v1.11.5').join(' ')).toBe(V111);
    expect(talosDefaultArgs('v1.12.0').join(' ')).toBe(`${V111} module.sig_enforce=1`);
    expect(talosDefaultArgs('v1.11.5')).toContain('slab_nomerge');
    expect(talosDefaultArgs('v1.11.5')).toContain('pti=on');
  });

  it('console from the settings, schematic args, settings args, then talos.config= for pull nodes', () => {
    const args = kernelArgs({ talosVersion: 'v1.11.5', arch: 'amd64', consoles: ['ttyS0,115200'], schematicArgs: ['net.ifnames=0'], settingsArgs: ['talos.dashboard.disabled=1'], configUrl: 'http://10.77.0.1:8080/config?mac=52:54:00:12:34:01' });
    expect(args.join(' ')).toBe(`${V111} console=ttyS0,115200 net.ifnames=0 talos.dashboard.disabled=1 talos.config=http://10.77.0.1:8080/config?mac=52:54:00:12:34:01`);
  });

  it('arm64 serial console is ttyAMA0; push nodes get no talos.config=', () => {
    const args = kernelArgs({ talosVersion: 'v1.11.5', arch: 'arm64', consoles: ['ttyS0'], schematicArgs: [], settingsArgs: [] });
    expect(args).toContain('console=ttyAMA0');
    expect(args).not.toContain('console=ttyS0');
    expect(args.some((a) => a.startsWith('talos.config='))).toBe(false);
  });
});
