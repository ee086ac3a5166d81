// Debian packages the lab and the e2e stand-ins are built from: downloaded
// from the Debian archive with `apt-get download` (never installed) into a
// cache directory and unpacked there, so a second build downloads nothing.
// A package for another architecture (arm64 on an amd64 host) needs that
// architecture known to dpkg: `dpkg --add-architecture arm64 && apt-get
// update`, which `.ci/setup test` does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type DebArch = 'amd64' | 'arm64';

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** How apt names a package of `arch`: the host's own arch needs no qualifier (and so stays as before on amd64 hosts). */
function aptName(pkg: string, arch: DebArch): string {
  return arch === hostArch() ? pkg : `${pkg}:${arch}`;
}

let host: string | undefined;
function hostArch(): string {
  return (host ??= run('dpkg', ['--print-architecture']).trim());
}

/** The versioned package linux-image-ARCH points at, e.g. linux-image-6.1.0-57-arm64. */
export function currentKernelPackage(arch: DebArch = 'amd64'): string {
  let out = '';
  try {
    out = run('apt-cache', ['depends', aptName(`linux-image-${arch}`, arch)]);
  } catch { /* unknown package: said below */ }
  const m = new RegExp(`Depends:\\s*(linux-image-[0-9.]+-[0-9]+-${arch})\\b`).exec(out);
  if (!m) throw new Error(`apt-cache does not know linux-image-${arch}; ${foreignHint(arch)}run apt-get update`);
  return m[1]!;
}

function foreignHint(arch: DebArch): string {
  return arch === hostArch() ? '' : `run dpkg --add-architecture ${arch} (bash .ci/setup test does), then `;
}

/** The cached .deb of `pkg` for `arch` in `cacheDir`, downloaded first if there is none. */
export function cachedDeb(cacheDir: string, pkg: string, arch: DebArch): string {
  mkdirSync(cacheDir, { recursive: true });
  const isIt = (f: string) => new RegExp(`^${escape(pkg)}_[^_]+_${arch}\\.deb$`).test(f);
  let deb = readdirSync(cacheDir).filter(isIt).sort().pop();
  if (!deb) {
    try {
      run('apt-get', ['download', aptName(pkg, arch)], cacheDir);
    } catch (err) {
      throw new Error(`apt-get download ${aptName(pkg, arch)} failed; ${foreignHint(arch)}check apt's sources: ${(err as { stderr?: string }).stderr ?? String(err)}`);
    }
    deb = readdirSync(cacheDir).filter(isIt).sort().pop();
    if (!deb) throw new Error(`apt-get download left no ${pkg} (${arch}) package in ${cacheDir}`);
  }
  return join(cacheDir, deb);
}

/**
 * `pkg` for `arch` unpacked under `cacheDir` (dpkg-deb -x into a partial
 * directory, renamed when whole). Returns the unpacked root.
 */
export function debianPackageTree(cacheDir: string, pkg: string, arch: DebArch, rootName = arch === 'amd64' ? pkg : `${pkg}_${arch}`): string {
  const deb = cachedDeb(cacheDir, pkg, arch);
  const root = join(cacheDir, rootName);
  if (!existsSync(root)) {
    const partial = `${root}.partial`;
    rmSync(partial, { recursive: true, force: true });
    run('dpkg-deb', ['-x', deb, partial]);
    run('mv', [partial, root]);
  }
  return root;
}
