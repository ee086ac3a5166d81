// installDisk as a path or a selector; a bad selector is refused at its line.
import { expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';

const inv = (installDisk: string) => `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.12.0
nodes:
  - name: cp-1
    mac: 52:54:00:00:00:01
    role: controlplane
    installDisk: ${installDisk}
`;

it('takes a path or a selector', () => {
  const path = parseInventory(inv('/dev/nvme0n1'), 'inv.yaml');
  expect(path.ok && path.inventory.nodes[0]!.installDisk).toBe('/dev/nvme0n1');
  const sel = parseInventory(inv('{ transport: nvme, size: ">= 400GB", rotational: false }'), 'inv.yaml');
  expect(sel.ok && sel.inventory.nodes[0]!.installDisk).toEqual({ transport: 'nvme', size: '>= 400GB', rotational: false });
});

it('refuses an unreadable size, an unknown key and an empty selector at the line they are on', () => {
  const bad = (text: string) => {
    const r = parseInventory(text, 'inv.yaml');
    if (r.ok) throw new Error('expected errors');
    return r.errors.map((e) => `${e.line}: ${e.message}`);
  };
  expect(bad(inv('{ size: "about 400GB" }'))).toContain('9: node cp-1: installDisk.size: "about 400GB" is not a valid size condition (">= 400GB", "<= 2TB", "480GB")');
  expect(bad(inv('{ vendor: Dell }'))).toContain('9: node cp-1: installDisk: unknown key "vendor"');
  expect(bad(inv('{}')).some((e) => e.startsWith('9: node cp-1: installDisk: must NOT have fewer than 1 properties'))).toBe(true);
  expect(bad(inv('sda'))).toContain('9: node cp-1: installDisk: "sda" is not a valid disk path (/dev/...)');
});

it('takes wipe.userDisks as a list of selectors and refuses an empty list', () => {
  const withWipe = (wipe: string) => inv('/dev/nvme0n1') + `    wipe: ${wipe}\n`;
  const ok = parseInventory(withWipe('{ userDisks: [{ serial: DATA-A }, { wwid: naa.5000c500a1b2c3d4 }] }'), 'inv.yaml');
  expect(ok.ok && ok.inventory.nodes[0]!.wipe).toEqual({ userDisks: [{ serial: 'DATA-A' }, { wwid: 'naa.5000c500a1b2c3d4' }] });
  const none = parseInventory(withWipe('{}'), 'inv.yaml');
  expect(none.ok ? [] : none.errors.map((e) => `${e.line}: ${e.message}`)).toContain('10: node cp-1: wipe: missing required key "userDisks"');
  const empty = parseInventory(withWipe('{ userDisks: [] }'), 'inv.yaml');
  expect(empty.ok ? [] : empty.errors.map((e) => `${e.line}: ${e.message}`)).toContain('10: node cp-1: wipe.userDisks: must NOT have fewer than 1 items');
});
