import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { schematicId } from '../../src/factory/schematic.js';
import { plannedListeners } from '../../src/cli/doctor.js';
import { loadSettings } from '../../src/settings/settings.js';
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
      expect(findings.find((f) => f.check === `HTTP port tcp/${port}`)).toMatchObject({ level: 'fail', detail: 'in use by another program on 127.0.0.1', fix: expect.stringContaining('ss -tlnp') });
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
    writeFileSync(cfg, `serverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\nconsole:\n  port: ${20000 + Math.floor(Math.random() * 20000)}\ninventory: ${process.cwd()}/inventory/cluster.yaml\nassetsDir: assets\n`);
    const { code, findings } = doctor(['--config', cfg]);
    expect(findings.filter((f) => f.level === 'fail')).toEqual([]);
    expect(code).toBe(0);
  });

  it('checks the ports the settings and the serve flags name, on the addresses serve would bind', async () => {
    const dir = tmp();
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const httpPort = (tcp.address() as { port: number }).port;
    const udp = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((r) => udp.bind({ port: 0, address: '127.0.0.1', exclusive: true }, r));
    const consolePort = udp.address().port;
    try {
      const cfg = join(dir, 'rackboot.yaml');
      // The file says HTTP on a free port; the flag moves it onto the busy one, as it would for serve.
      writeFileSync(cfg, `serverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  port: 16970\nhttp:\n  listen: 127.0.0.1:0\nconsole:\n  port: ${consolePort}\ninventory: ${process.cwd()}/inventory/cluster.yaml\n`);
      const { code, findings } = doctor(['--config', cfg, '--http-listen', `127.0.0.1:${httpPort}`, '--no-dhcp', '--no-tftp']);
      expect(code).toBe(1);
      expect(findings.find((f) => f.check === `HTTP port tcp/${httpPort}`)).toMatchObject({ level: 'fail', detail: 'in use by another program on 127.0.0.1' });
      expect(findings.find((f) => f.check === `console port udp/${consolePort}`)).toMatchObject({ level: 'fail', detail: 'in use by another program on 127.0.0.1', fix: expect.stringContaining('ss -ulnp') });
      // --no-tftp: no TFTP port is checked; without it, the configured one on the provisioning address.
      expect(findings.filter((f) => /^TFTP port/.test(f.check))).toEqual([]);
      const withFile = doctor(['--config', cfg]);
      expect(withFile.findings.find((f) => f.check === 'TFTP port udp/16970')).toMatchObject({ detail: expect.stringMatching(/ on 127\.0\.0\.1$/) });
      expect(withFile.findings.find((f) => f.check === 'HTTP port tcp/0')).toMatchObject({ level: 'ok' });
    } finally {
      tcp.close();
      udp.close();
    }
  });

  it('plans every listener serve would open: DHCP ports by mode, console on serverAddress', () => {
    const dir = tmp();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `serverAddress: 10.9.0.1\ndhcp:\n  mode: proxy\ntftp:\n  port: 1069\nhttp:\n  listen: 10.9.0.1:8081\nconsole:\n  port: 5515\n`);
    const s = loadSettings({ config: cfg });
    expect(plannedListeners(s, '10.9.0.1')).toEqual([
      { service: 'DHCP', proto: 'udp', host: '0.0.0.0', port: 67 },
      { service: 'proxyDHCP', proto: 'udp', host: '0.0.0.0', port: 4011 },
      { service: 'TFTP', proto: 'udp', host: '10.9.0.1', port: 1069 },
      { service: 'HTTP', proto: 'tcp', host: '10.9.0.1', port: 8081 },
      { service: 'admin HTTPS', proto: 'tcp', host: '127.0.0.1', port: 8443 },
      { service: 'console', proto: 'udp', host: '10.9.0.1', port: 5515 },
    ]);
    expect(plannedListeners(loadSettings({ config: cfg, noDhcp: true, noTftp: true }), '10.9.0.1').map((l) => l.service)).toEqual(['HTTP', 'admin HTTPS', 'console']);
  });
});
