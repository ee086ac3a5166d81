import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appliancePaths, inventoryYaml, rackbootYaml, type ApplianceLayout } from '../../src/lab/appliance-files.js';
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
