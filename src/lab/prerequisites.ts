// What `rackboot lab` needs on this host, as doctor findings with the fix.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Finding } from '../cli/doctor.js';
import { firmwarePrerequisites } from './qemu.js';
import { standinPrerequisites } from './standin.js';

export function labFindings(): Finding[] {
  const findings: Finding[] = [];
  const root = process.geteuid?.() === 0;
  findings.push(root
    ? { level: 'ok', check: 'root', detail: 'running as root (network namespaces, taps)' }
    : { level: 'fail', check: 'root', detail: 'the lab creates a network namespace, a bridge and taps', fix: 'run rackboot lab as root (sudo)' });
  for (const p of firmwarePrerequisites()) {
    findings.push(p.present
      ? { level: 'ok', check: p.what, detail: p.path }
      : { level: 'fail', check: p.what, detail: `missing: ${p.path}`, fix: `apt-get install ${p.pkg}` });
  }
  for (const m of standinPrerequisites()) findings.push({ level: 'fail', check: 'Talos stand-in', detail: `missing ${m}`, fix: m.replace(/^.*\((.*)\)$/, '$1') });
  findings.push(existsSync('/usr/bin/apt-get')
    ? { level: 'ok', check: 'stand-in kernel source', detail: 'apt-get download linux-image-…-amd64 (Debian archive, about 70 MB, cached)' }
    : { level: 'fail', check: 'stand-in kernel source', detail: 'no apt-get: the stand-in kernel comes from a Debian package', fix: 'run the lab on Debian or Ubuntu' });
  for (const [what, path, pkg, why] of [
    ['ipmi_sim', '/usr/bin/ipmi_sim', 'openipmi', 'each lab machine\'s BMC'],
    ['ipmitool', '/usr/bin/ipmitool', 'ipmitool', 'rackboot drives IPMI BMCs with it'],
  ] as const) {
    findings.push(existsSync(path)
      ? { level: 'ok', check: what, detail: `${path} (${why})` }
      : { level: 'fail', check: what, detail: `missing: ${path} (${why})`, fix: `apt-get install ${pkg}` });
  }
  findings.push(existsSync('/usr/bin/curl')
    ? { level: 'ok', check: 'curl', detail: 'lab status reads the appliance API inside the namespace with it' }
    : { level: 'fail', check: 'curl', detail: 'missing: /usr/bin/curl', fix: 'apt-get install curl' });
  // DHCP binds to the lab bridge through a native addon built from the repository.
  const addonDir = fileURLToPath(new URL('../../native/bindtodevice/', import.meta.url));
  const addon = `${addonDir}build/Release/bindtodevice.node`;
  if (existsSync(`${addonDir}binding.gyp`)) {
    findings.push(existsSync(addon)
      ? { level: 'ok', check: 'DHCP interface-binding addon', detail: addon }
      : { level: 'fail', check: 'DHCP interface-binding addon', detail: `not built: ${addon}`, fix: 'node-gyp rebuild --nodedir=/usr -C native/bindtodevice (node-gyp ships with npm)' });
  }
  findings.push(existsSync('/dev/net/tun')
    ? { level: 'ok', check: 'tap devices', detail: '/dev/net/tun' }
    : { level: 'fail', check: 'tap devices', detail: 'no /dev/net/tun', fix: 'modprobe tun' });
  return findings;
}
