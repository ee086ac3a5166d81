// Builds the Talos stand-in: a real Debian kernel (downloaded as a package,
// unpacked, never installed) and a tiny busybox initramfs whose /init is
// standin-init.ts. Real Talos images need the Image Factory on the
// internet; this pair boots through exactly the same rackboot path.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { currentKernelPackage, debianPackageTree, type DebArch } from './debian-package.js';
import { standinInit } from './standin-init.js';

/** Where the Debian kernel package and the built initramfs are kept (override: $RACKBOOT_STANDIN_CACHE). */
export const DEFAULT_STANDIN_CACHE = '/var/cache/rackboot-e2e';
const BUSYBOX = '/bin/busybox';
/** The NIC drivers the lab and tests give their VMs: e1000 (BIOS) and virtio-net (UEFI). */
const NIC_MODULES = ['e1000', 'virtio_pci', 'virtio_net'];
/** arm64: QEMU virt's virtio-net-pci (virtio itself is built in). */
const ARM64_NIC_MODULES = ['virtio_pci', 'virtio_net'];
/** Disk drivers, so the stand-in can report what the kernel sees of a machine's disks (rackboot.hwreport). */
const BLOCK_MODULES = ['nvme', 'virtio_blk', 'virtio_scsi', 'sd_mod'];

export interface StandinFiles {
  kernel: string;
  initramfs: string;
  /** The Debian package the kernel came from, for the record. */
  kernelPackage: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/** Finds or downloads the kernel package for `arch` in `cacheDir` and unpacks it there. Returns the unpacked root. */
export function ensureKernelTree(cacheDir: string, arch: DebArch = 'amd64'): { root: string; pkg: string } {
  mkdirSync(cacheDir, { recursive: true });
  const isKernelDeb = (f: string) => new RegExp(`^linux-image-[0-9.]+-[0-9]+-${arch}_.*_${arch}\\.deb$`).test(f);
  // A cached kernel package is used as it is (no apt-cache, so it works offline).
  const cached = readdirSync(cacheDir).filter(isKernelDeb).sort().pop();
  const pkg = cached ? cached.slice(0, cached.indexOf('_')) : currentKernelPackage(arch);
  return { root: debianPackageTree(cacheDir, pkg, arch, pkg), pkg };
}

function findFiles(dir: string, want: (name: string) => boolean, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findFiles(p, want, out);
    else if (want(e.name)) out.push(p);
  }
  return out;
}

/**
 * The modules to load for `wanted`, dependencies first. The package carries
 * no modules.dep (depmod runs at install time), so dependencies are read
 * from each module's own .modinfo `depends=` string.
 */
export function moduleLoadOrder(modulesRoot: string, wanted: string[]): string[] {
  const byName = new Map(findFiles(modulesRoot, (n) => n.endsWith('.ko')).map((p) => [basename(p, '.ko').replace(/-/g, '_'), p]));
  const order: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (order.includes(name)) return;
    if (path.includes(name)) throw new Error(`module dependency loop: ${[...path, name].join(' → ')}`);
    const file = byName.get(name);
    if (!file) throw new Error(`module ${name} is not in ${modulesRoot}`);
    const m = /depends=([^\0]*)/.exec(readFileSync(file).toString('latin1'));
    for (const dep of (m?.[1] ?? '').split(',').filter(Boolean)) visit(dep.replace(/-/g, '_'), [...path, name]);
    order.push(name);
  };
  for (const w of wanted) visit(w, []);
  return order.map((n) => byName.get(n)!);
}

/**
 * Kernel and initramfs, built once per kernel package and init script and
 * reused. arm64 (the arm64 e2e, on an amd64 host): Debian's arm64 kernel and
 * busybox-static:arm64, and only virtio-net's modules (QEMU virt's NIC).
 */
export function buildStandin(cacheDir = DEFAULT_STANDIN_CACHE, arch: DebArch = 'amd64'): StandinFiles {
  const { root, pkg } = ensureKernelTree(cacheDir, arch);
  const busybox = arch === 'amd64' ? BUSYBOX : join(debianPackageTree(cacheDir, 'busybox-static', arch), 'bin', 'busybox');
  const kernel = readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!kernel) throw new Error(`no vmlinuz in ${root}/boot`);
  const modulesRoot = join(root, 'lib', 'modules');
  const modules = moduleLoadOrder(modulesRoot, arch === 'amd64' ? [...NIC_MODULES, ...BLOCK_MODULES] : ARM64_NIC_MODULES);
  const init = standinInit(modules.map((m) => basename(m)));
  const out = join(cacheDir, `${pkg}-standin-initramfs.xz`);
  const stamp = `${out}.init`;
  const fresh = existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === init && statSync(out).size > 0;
  if (!fresh) {
    const stage = mkdtempSync(join(tmpdir(), 'rackboot-standin-'));
    try {
      mkdirSync(join(stage, 'bin'));
      mkdirSync(join(stage, 'lib', 'modules'), { recursive: true });
      copyFileSync(busybox, join(stage, 'bin', 'busybox'));
      chmodSync(join(stage, 'bin', 'busybox'), 0o755);
      for (const m of modules) copyFileSync(m, join(stage, 'lib', 'modules', basename(m)));
      writeFileSync(join(stage, 'init'), init, { mode: 0o755 });
      // newc cpio, xz with CRC32: the kernel's xz decoder does not do CRC64.
      execFileSync('sh', ['-c', `find . | cpio -o -H newc --quiet | xz --check=crc32 -T1 -6 > "${out}.tmp"`], { cwd: stage, stdio: ['ignore', 'ignore', 'pipe'] });
      run('mv', [`${out}.tmp`, out]);
      writeFileSync(stamp, init);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  return { kernel: join(root, 'boot', kernel), initramfs: out, kernelPackage: pkg };
}

/** Why the stand-in cannot be built here, or undefined. */
export function standinPrerequisites(): string[] {
  const missing: string[] = [];
  for (const [bin, pkg] of [['/bin/busybox', 'busybox-static'], ['/usr/bin/cpio', 'cpio'], ['/usr/bin/xz', 'xz-utils'], ['/usr/bin/dpkg-deb', 'dpkg']] as const) {
    if (!existsSync(bin)) missing.push(`${bin} (apt-get install ${pkg})`);
  }
  return missing;
}
