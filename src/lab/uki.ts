// Builds a Unified Kernel Image from a kernel, an initramfs and a command
// line, the way systemd's documentation does it by hand (systemd-stub(7),
// "Unified Kernel Images" with objcopy): the EFI stub from systemd-boot-efi
// gets .osrel, .cmdline, .initrd and .linux sections placed one after the
// other past its own, each at a page-aligned address. The lab and the Secure
// Boot e2e build the Talos stand-in this way, since the Factory's real UKI
// needs the internet; signing is sbsign's (sbsigntool).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const EFI_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
/** The throwaway Secure Boot key Debian's ovmf ships, enrolled in OVMF_VARS_4M.snakeoil.fd. */
export const SNAKEOIL_KEY = '/usr/share/ovmf/PkKek-1-snakeoil.key';
export const SNAKEOIL_CERT = '/usr/share/ovmf/PkKek-1-snakeoil.pem';

const PAGE = 0x1000;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The first address past the stub's last section (objdump -h: size and VMA columns). */
function endOfSections(stub: string, binutils: string): number {
  let end = 0;
  for (const line of execFileSync(`${binutils}objdump`, ['-h', stub], { encoding: 'utf8' }).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 7 && /^\d+$/.test(f[0]!)) end = Math.max(end, parseInt(f[3]!, 16) + parseInt(f[2]!, 16));
  }
  if (!end) throw new Error(`objdump shows no sections in ${stub}`);
  return end;
}

export interface UkiParts {
  kernel: string; initrd: string; cmdline: string; out: string; stub?: string;
  /**
   * Prefix of the binutils that read and write the stub's PE flavour: the
   * host's own for x86-64; an arm64 stub (pei-aarch64-little) needs the cross
   * binutils, AARCH64_BINUTILS (binutils-aarch64-linux-gnu).
   */
  binutils?: string;
}

export const AARCH64_BINUTILS = 'aarch64-linux-gnu-';
/** systemd-boot-efi's arm64 stub, inside that package's tree (apt-get download systemd-boot-efi:arm64). */
export const ARM64_EFI_STUB_IN_PACKAGE = 'usr/lib/systemd/boot/efi/linuxaa64.efi.stub';

export function buildUki(p: UkiParts): string {
  const stub = p.stub ?? EFI_STUB;
  if (!existsSync(stub)) throw new Error(`${stub} is missing (apt-get install systemd-boot-efi)`);
  const tmp = mkdtempSync(join(tmpdir(), 'rackboot-uki-'));
  try {
    const osrel = join(tmp, 'os-release');
    const cmdline = join(tmp, 'cmdline');
    writeFileSync(osrel, 'NAME="rackboot Talos stand-in"\nID=rackboot-standin\n');
    writeFileSync(cmdline, `${p.cmdline}\0`);
    const args: string[] = [];
    const binutils = p.binutils ?? '';
    let at = alignUp(endOfSections(stub, binutils), PAGE);
    for (const [name, file] of [['.osrel', osrel], ['.cmdline', cmdline], ['.initrd', p.initrd], ['.linux', p.kernel]] as const) {
      args.push('--add-section', `${name}=${file}`, '--change-section-vma', `${name}=0x${at.toString(16)}`);
      at = alignUp(at + statSync(file).size, PAGE);
    }
    execFileSync(`${binutils}objcopy`, [...args, stub, p.out], { stdio: ['ignore', 'ignore', 'pipe'] });
    return p.out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Debian's README.Debian for ovmf gives the snakeoil key's passphrase. */
export const SNAKEOIL_PASSPHRASE = 'snakeoil';

/**
 * Signs `input` into `out` for Secure Boot (Authenticode, sbsign). sbsign
 * asks for a key's passphrase on the terminal only, so an encrypted key is
 * first decrypted (openssl) into a 0600 file that is removed at once.
 */
export function signEfi(input: string, out: string, key = SNAKEOIL_KEY, cert = SNAKEOIL_CERT, passphrase: string | undefined = key === SNAKEOIL_KEY ? SNAKEOIL_PASSPHRASE : undefined): string {
  const tmp = mkdtempSync(join(tmpdir(), 'rackboot-sign-'));
  try {
    let plain = key;
    if (passphrase !== undefined) {
      plain = join(tmp, 'key.pem');
      writeFileSync(plain, '', { mode: 0o600 });
      execFileSync('openssl', ['pkey', '-in', key, '-passin', 'stdin', '-out', plain], { input: `${passphrase}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
    }
    execFileSync('sbsign', ['--key', plain, '--cert', cert, '--output', out, input], { stdio: ['ignore', 'ignore', 'pipe'] });
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
