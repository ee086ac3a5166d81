// The kernel command line a node gets in its iPXE script. Talos's own
// defaults for the version come first (slab_nomerge and pti=on are required),
// then the serial consoles from the settings, the schematic's extra args,
// and for pull-mode nodes the talos.config= URL.

/** Talos's metal defaults (v1.11); later versions add to them. */
const BASE_V1_11 = [
  'talos.platform=metal',
  'console=tty0',
  'init_on_alloc=1',
  'slab_nomerge',
  'pti=on',
  'consoleblank=0',
  'nvme_core.io_timeout=4294967295',
  'printk.devkmsg=on',
  'selinux=1',
];

export function talosDefaultArgs(talosVersion: string): string[] {
  const [major = 1, minor = 0] = talosVersion.replace(/^v/, '').split('.').map(Number);
  const args = [...BASE_V1_11];
  if (major > 1 || minor >= 12) args.push('module.sig_enforce=1');
  return args;
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

export function kernelArgs(input: KernelArgsInput): string[] {
  const consoles = input.consoles.map((c) => (input.arch === 'arm64' && c.startsWith('ttyS0') ? c.replace('ttyS0', 'ttyAMA0') : c));
  const args = [...talosDefaultArgs(input.talosVersion), ...consoles.map((c) => `console=${c}`), ...input.schematicArgs, ...input.settingsArgs];
  if (input.kernelLogUrl) args.push(`talos.logging.kernel=${input.kernelLogUrl}`);
  if (input.configUrl) args.push(`talos.config=${input.configUrl}`);
  return args;
}
