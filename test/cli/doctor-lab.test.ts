import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { doctor } from '../../src/cli/doctor.js';
import { parseCommandArgs } from '../../src/cli/command.js';
import { labFindings } from '../../src/lab/prerequisites.js';

describe('doctor --lab', () => {
  it('checks root, QEMU, OVMF, iPXE and the BMC simulator, and each finding agrees with the file system', () => {
    const f = labFindings();
    const by = (check: string) => f.find((x) => x.check === check);
    expect(by('root')?.level).toBe(process.geteuid?.() === 0 ? 'ok' : 'fail');
    expect(by('QEMU')?.level).toBe(existsSync('/usr/bin/qemu-system-x86_64') ? 'ok' : 'fail');
    expect(by('OVMF UEFI firmware')?.level).toBe(existsSync('/usr/share/ovmf/OVMF.fd') ? 'ok' : 'fail');
    expect(by('iPXE UEFI binary')?.level).toBe(existsSync('/usr/lib/ipxe/ipxe.efi') ? 'ok' : 'fail');
    // Every lab machine's BMC is an ipmi_sim, driven by ipmitool.
    expect(by('ipmi_sim')?.level).toBe(existsSync('/usr/bin/ipmi_sim') ? 'ok' : 'fail');
    expect(by('ipmitool')?.level).toBe(existsSync('/usr/bin/ipmitool') ? 'ok' : 'fail');
    for (const x of f.filter((y) => y.level === 'fail')) expect(x.fix, `${x.check} fails without saying how to fix it`).toBeTruthy();
  });

  it('runs only the lab checks and exits by them', async () => {
    const lines: string[] = [];
    const code = await doctor.run(parseCommandArgs(doctor, ['--lab', '--json']), { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const findings = JSON.parse(lines.join('\n')) as { level: string; check: string }[];
    expect(findings.map((x) => x.check)).toContain('QEMU');
    expect(findings.map((x) => x.check)).not.toContain('inventory');
    expect(code).toBe(findings.some((x) => x.level === 'fail') ? 1 : 0);
  });
});
