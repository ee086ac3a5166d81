import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { schematicId } from '../../src/factory/schematic.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-doctor-');

interface Finding { level: string; check: string; detail: string; fix?: string }
const doctor = (args: string[]) => {
  const r = runCli(['doctor', '--json', ...args]);
  return { code: r.code, findings: JSON.parse(r.stdout || '[]') as Finding[], stderr: r.stderr };
};

describe('rackboot doctor', () => {
  it('names every problem with a fix, and exits 1', () => {
    const dir = tmp();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `interface: rb-no-such-if0\ntftp:\n  root: ${dir}/ipxe\n  port: 16969\nhttp:\n  listen: 127.0.0.1:0\ndhcp:\n  mode: off\ninventory: ${process.cwd()}/inventory/cluster.yaml\nassetsDir: ${dir}/assets\n`);
    const { code, findings } = doctor(['--config', cfg]);
    expect(code).toBe(1);
    const byCheck = (c: string) => findings.find((f) => f.check === c);
    expect(byCheck('provisioning interface')).toMatchObject({ level: 'fail', detail: expect.stringContaining('rb-no-such-if0 does not exist') });
    expect(byCheck('iPXE binary undionly.kpxe')).toMatchObject({ level: 'fail', fix: expect.stringContaining('apt-get install ipxe') });
    expect(byCheck('boot assets amd64')).toMatchObject({ level: 'fail', fix: expect.stringContaining('rackboot assets fetch --version v1.11.5') });
    expect(byCheck('inventory')).toMatchObject({ level: 'ok' });
    expect(byCheck('cluster secrets')).toMatchObject({ level: 'warn', fix: expect.stringContaining('rackboot init') });
    expect(byCheck('talosconfig')).toMatchObject({ level: 'warn', fix: 'rackboot talosconfig' });
    for (const f of findings.filter((x) => x.level === 'fail')) expect(f.fix, f.check).toBeTruthy();
  });

  it('reports a port in use and an invalid inventory', async () => {
    const dir = tmp();
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      writeFileSync(join(dir, 'inv.yaml'), 'cluster: {}\nnodes: []\n');
      const cfg = join(dir, 'rackboot.yaml');
      writeFileSync(cfg, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:${port}\ninventory: inv.yaml\n`);
      const { code, findings } = doctor(['--config', cfg]);
      expect(code).toBe(1);
      expect(findings.find((f) => f.check === `HTTP port tcp/${port}`)).toMatchObject({ level: 'fail', detail: 'in use by another program', fix: expect.stringContaining('ss -tlnp') });
      expect(findings.find((f) => f.check === 'inventory')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/inv\.yaml:1:\d+: cluster: missing required key/) });
    } finally {
      busy.close();
    }
  });

  it('exits 0 when nothing stops the appliance', () => {
    const dir = tmp();
    const assets = join(dir, 'assets', schematicId({ extensions: ['siderolabs/intel-ucode'], extraKernelArgs: [] }), 'v1.11.5');
    mkdirSync(assets, { recursive: true });
    writeFileSync(join(assets, 'kernel-amd64'), 'k');
    writeFileSync(join(assets, 'initramfs-amd64.xz'), 'i');
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `serverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\ninventory: ${process.cwd()}/inventory/cluster.yaml\nassetsDir: assets\n`);
    const { code, findings } = doctor(['--config', cfg]);
    expect(findings.filter((f) => f.level === 'fail')).toEqual([]);
    expect(code).toBe(0);
  });
});
