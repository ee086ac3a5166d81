// The kernel command line a node gets in its iPXE script, composed as
// upstream's imager composes a boot asset's (siderolabs/talos
// pkg/imager/imager.go buildCmdline, v1.11.0–v1.13.x): talos.platform=metal,
// the metal platform's consoles, Talos's default args for the version, then
// the schematic's extraKernelArgs appended with procfs's rules: `console=`
// replaces the consoles so far, `talos.platform=` replaces the platform,
// `-key` removes every value of key and `-key=value` that one value, and
// anything else adds a value to its key. rackboot adds its serial consoles
// before the schematic's args (so a schematic's `console=` replaces them
// too), the settings' extraKernelArgs after them by the same rules, and
// talos.logging.kernel and talos.config last.
import { Cmdline, type AppendOptions } from './cmdline.js';
import { parseTalosVersion } from './config/versions.js';

/** How the imager and the installer append extra args (imager.go buildCmdline; cmd/installer/pkg/install/install.go). */
export const EXTRA_ARGS_RULES: AppendOptions = { overwrite: ['console', 'talos.platform'], deleteNegated: true };

/**
 * Talos's kernel/kernel.go DefaultArgs with the imager quirks of the version
 * (pkg/machinery/imager/quirks/quirks.go): selinux=1 from 1.10,
 * module.sig_enforce=1 from 1.12, proc_mem.force_override=never from 1.13.
 * The IMA args stopped after 1.10, below the supported range.
 */
function defaultArgs(talosVersion: string): string[] {
  const { major, minor } = parseTalosVersion(talosVersion);
  const atLeast = (m: number) => major > 1 || (major === 1 && minor >= m);
  const args = ['init_on_alloc=1', 'slab_nomerge=', 'pti=on', 'consoleblank=0', 'nvme_core.io_timeout=4294967295', 'printk.devkmsg=on'];
  if (atLeast(10)) args.push('selinux=1');
  if (atLeast(12)) args.push('module.sig_enforce=1');
  if (atLeast(13)) args.push('proc_mem.force_override=never');
  return args;
}

/**
 * The metal platform's consoles (internal/app/machined/pkg/runtime/v1alpha1/platform/metal/metal.go
 * KernelArgs): tty0 on amd64 (ttyS0 was dropped in 1.8), ttyAMA0 and tty0 on arm64.
 */
function platformConsoles(arch: 'amd64' | 'arm64'): string[] {
  return arch === 'arm64' ? ['console=ttyAMA0', 'console=tty0'] : ['console=tty0'];
}

function defaults(talosVersion: string, arch: 'amd64' | 'arm64'): Cmdline {
  return new Cmdline(['talos.platform=metal']).setAll(platformConsoles(arch)).appendAll(defaultArgs(talosVersion));
}

/** The command line of a metal boot asset without customization. */
export function talosDefaultArgs(talosVersion: string, arch: 'amd64' | 'arm64' = 'amd64'): string[] {
  return defaults(talosVersion, arch).toArgs();
}

/** The defaults with a schematic's extraKernelArgs applied, as the Image Factory builds the boot asset. */
export function schematicArgs(talosVersion: string, arch: 'amd64' | 'arm64', extra: string[]): string[] {
  return defaults(talosVersion, arch).appendAll(extra, EXTRA_ARGS_RULES).toArgs();
}

export interface KernelArgsInput {
  talosVersion: string;
  arch: 'amd64' | 'arm64';
  /** Serial consoles from the settings (ttyS0 on amd64 becomes ttyAMA0 on arm64). */
  consoles: string[];
  schematicArgs: string[];
  settingsArgs: string[];
  /** Set for pull-mode nodes: Talos GETs this URL for its machine config. */
  configUrl?: string;
  /** Where the node streams its kernel log (talos.logging.kernel). */
  kernelLogUrl?: string;
}

/**
 * talos.logging.kernel (on the PXE command line) and KmsgLogConfig (in the
 * machine config): the host nodes reach us at, on the console receiver's
 * UDP port; undefined while the receiver is off. One function, so the script,
 * the pushed and pulled configs and `rackboot config` all name the same target.
 */
export function kernelLogTarget(console: { enabled: boolean; port: number }, publicUrl: string): string | undefined {
  return console.enabled ? `udp://${new URL(publicUrl).hostname}:${console.port}/` : undefined;
}

function composed(input: KernelArgsInput): Cmdline {
  const c = defaults(input.talosVersion, input.arch);
  for (const raw of input.consoles) {
    const con = input.arch === 'arm64' && raw.startsWith('ttyS0') ? raw.replace('ttyS0', 'ttyAMA0') : raw;
    // Last among the consoles, so the serial console is /dev/console (the kernel takes the last one).
    c.deleteValues('console', [con]).append('console', con);
  }
  c.appendAll(input.schematicArgs, EXTRA_ARGS_RULES).appendAll(input.settingsArgs, EXTRA_ARGS_RULES);
  if (input.kernelLogUrl) c.setAll([`talos.logging.kernel=${input.kernelLogUrl}`]);
  if (input.configUrl) c.setAll([`talos.config=${input.configUrl}`]);
  return c;
}

export function kernelArgs(input: KernelArgsInput): string[] {
  return composed(input).toArgs();
}

/** The `console=` args of the PXE command line, in order: what an installed node should keep. */
export function consoleArgs(input: Omit<KernelArgsInput, 'configUrl' | 'kernelLogUrl'>): string[] {
  return composed(input).values('console').map((v) => `console=${v}`);
}
