import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appliancePaths, inventoryYaml, rackbootYaml, writeApplianceFiles, type ApplianceLayout } from '../../src/lab/appliance-files.js';
import { readLabState, writeLabState, type LabState } from '../../src/lab/lab.js';
import { parseInventory } from '../../src/inventory/load.js';
import { loadSettings } from '../../src/settings/settings.js';

const layout = (over: Partial<ApplianceLayout> = {}): ApplianceLayout => ({
  dir: '/tmp/lab', bridge: 'rblabbr', serverAddress: '10.78.0.1', subnet: '10.78.0.0/24',
  pool: { start: '10.78.0.100', end: '10.78.0.199' }, dhcpMode: 'full', httpPort: 8080, talosVersion: 'v1.11.5', adminToken: 'a-lab-token-of-32-characters-xxx',
  nodes: [{ name: 'lab-1', mac: '52:54:00:1a:b0:01', role: 'controlplane' }, { name: 'lab-2', mac: '52:54:00:1a:b0:02', role: 'worker', configMode: 'pull' }],
  ...over,
});

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

describe('appliance files', () => {
  it('rackboot.yaml is accepted by the real settings loader, full mode with a subnet and pool', () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-files-'));
    const p = appliancePaths(dir);
    writeFileSync(p.config, rackbootYaml(layout({ dir }), p));
    const s = loadSettings({ config: p.config });
    expect(s.dhcp).toMatchObject({ mode: 'full', subnet: '10.78.0.0/24', pool: { start: '10.78.0.100', end: '10.78.0.199' } });
    expect(s.interface).toBe('rblabbr');
    expect(s.tftp).toMatchObject({ enabled: true, root: p.tftpRoot });
    expect(s.http.listen).toBe('10.78.0.1:8080');
    expect(s.adminToken).toBe('a-lab-token-of-32-characters-xxx');
  });

  it('proxy mode carries no subnet and the EFI binary choice', () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-files-'));
    const p = appliancePaths(dir);
    writeFileSync(p.config, rackbootYaml(layout({ dir, dhcpMode: 'proxy', efiBinary: 'snponly.efi' }), p));
    const s = loadSettings({ config: p.config });
    expect(s.dhcp.mode).toBe('proxy');
    expect(s.dhcp.subnet).toBeUndefined();
    expect(s.dhcp.efiBinary).toBe('snponly.efi');
  });

  it('the inventory passes the real inventory loader with per-node config modes', () => {
    const r = parseInventory(inventoryYaml(layout()), 'inventory.yaml');
    expect(r.ok, JSON.stringify(r.errors)).toBe(true);
    expect(r.inventory!.nodes.map((n) => [n.name, n.configMode, n.bootstrap])).toEqual([['lab-1', 'push', true], ['lab-2', 'pull', false]]);
    expect(parse(inventoryYaml(layout())).cluster.schematic).toEqual({ extensions: [], extraKernelArgs: [] });
  });
});

describe('files holding the lab admin token', () => {
  it('rackboot.yaml and lab.json are 0600 under umask 022, also when they already existed 0644', () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-files-'));
    const lab = join(dir, 'lab');
    const old = process.umask(0o022);
    try {
      mkdirSync(lab);
      writeFileSync(join(lab, 'rackboot.yaml'), 'old', { mode: 0o644 });
      const p = writeApplianceFiles(layout({ dir: lab }));
      expect(statSync(p.config).mode & 0o777).toBe(0o600);
      expect(readFileSync(p.config, 'utf8')).toContain('a-lab-token-of-32-characters-xxx');
      writeLabState({ dir: lab, adminToken: 'a-lab-token-of-32-characters-xxx' } as LabState);
      expect(statSync(join(lab, 'lab.json')).mode & 0o777).toBe(0o600);
      expect(readLabState(lab)?.adminToken).toBe('a-lab-token-of-32-characters-xxx');
    } finally {
      process.umask(old);
    }
  });
});
