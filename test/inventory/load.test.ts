import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseInventory } from '../../src/inventory/load.js';
import { normalizeMac } from '../../src/inventory/mac.js';

const example = readFileSync(new URL('../../inventory/cluster.yaml', import.meta.url), 'utf8');

function errorsOf(text: string) {
  const r = parseInventory(text, 'inv.yaml');
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

const minimal = (nodes: string) => `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.11.5
nodes:
${nodes}`;

describe('inventory loader', () => {
  it('loads the bundled example with normalised MACs and a resolved bootstrap node', () => {
    const r = parseInventory(example, 'cluster.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.inventory.nodes.map((n) => n.mac)).toEqual([
      '52:54:00:12:34:01', '52:54:00:12:34:02', '52:54:00:12:34:03', '52:54:00:12:34:11', '52:54:00:12:34:12',
    ]);
    expect(r.inventory.nodes.filter((n) => n.bootstrap).map((n) => n.name)).toEqual(['cp-1']);
    expect(r.inventory.cluster.schematic.extensions).toEqual(['siderolabs/intel-ucode']);
    expect(r.inventory.nodes[3]!.patches).toHaveLength(1);
  });

  it('accepts Talos v1.11.0 – v1.13.x and refuses others at the talosVersion line, naming the range', () => {
    const at = (v: string) => minimal('  - name: cp-1\n    mac: 52:54:00:00:00:01\n    role: controlplane\n').replace('v1.11.5', v);
    for (const v of ['v1.11.0', 'v1.12.11', 'v1.13.0-beta.1', 'v1.13.9']) expect(parseInventory(at(v), 'inv.yaml').ok, v).toBe(true);
    for (const v of ['v1.10.7', 'v1.14.0', 'v2.0.0']) {
      expect(errorsOf(at(v))).toEqual([{ file: 'inv.yaml', line: 4, col: 17, message: `cluster.talosVersion: Talos ${v} is not supported: rackboot supports v1.11.0 – v1.13.x (its configs, kernel arguments and maintenance handling are checked against those releases' source)` }]);
    }
  });

  it('takes patches as objects, JSON patch lists, or patch text as Talos docs print it', () => {
    const r = parseInventory(minimal('  - name: cp-1\n    mac: 52:54:00:00:00:01\n    role: controlplane\n    patches:\n      - machine: {}\n      - [{ op: add, path: /machine/x, value: 1 }]\n      - |\n        machine:\n          env:\n            A: b\n'), 'inv.yaml');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.inventory.nodes[0]!.patches.map((p) => typeof p === 'string' ? 'text' : Array.isArray(p) ? 'json' : 'object')).toEqual(['object', 'json', 'text']);
  });

  it('the v1.12 example loads too', () => {
    const r = parseInventory(readFileSync(new URL('../../inventory/cluster-v1.12.yaml', import.meta.url), 'utf8'), 'cluster-v1.12.yaml');
    expect(r.ok && r.inventory.cluster.talosVersion).toBe('v1.12.0');
  });

  it('reports YAML syntax errors with line and column', () => {
    const errs = errorsOf('cluster:\n  name: [unclosed\nnodes: []\n');
    expect(errs[0]!.line).toBeGreaterThan(1);
    expect(errs[0]!.file).toBe('inv.yaml');
  });

  it('reports a duplicate key at its line', () => {
    const errs = errorsOf(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n    role: controlplane\n'));
    expect(errs[0]!.line).toBe(9);
  });

  it('reports unknown keys at the key, with line and column', () => {
    const errs = errorsOf(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n    colour: red\n'));
    expect(errs).toEqual([{ file: 'inv.yaml', line: 9, col: 5, message: 'node a: unknown key "colour"' }]);
  });

  it('reports bad values where the value is', () => {
    const errs = errorsOf(minimal('  - name: a\n    mac: not-a-mac\n    role: boss\n    ip: 10.0.0.300\n'));
    expect(errs.map((e) => [e.line, e.col])).toEqual([[7, 10], [8, 11], [9, 9]]);
    expect(errs[0]!.message).toContain('"not-a-mac" is not a valid MAC address');
    expect(errs[1]!.message).toContain('must be one of "controlplane", "worker"');
    expect(errs[2]!.message).toContain('IPv4 address');
  });

  it('reports missing required keys at the enclosing map', () => {
    const errs = errorsOf('cluster:\n  name: c1\nnodes: []\n');
    expect(errs.map((e) => e.message)).toEqual([
      'cluster: missing required key "controlPlaneEndpoint"',
      'cluster: missing required key "talosVersion"',
    ]);
    expect(errs[0]!.line).toBe(2);
  });

  it.each([
    ['name', '  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n  - name: a\n    mac: 52:54:00:00:00:02\n    role: worker\n', 9, 'duplicate name a'],
    ['mac in another notation', '  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n  - name: b\n    mac: 5254.0000.0001\n    role: worker\n', 10, 'duplicate mac 52:54:00:00:00:01'],
    ['ip', '  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n    ip: 10.0.0.5\n  - name: b\n    mac: 52:54:00:00:00:02\n    role: worker\n    ip: 10.0.0.5\n', 13, 'duplicate ip 10.0.0.5'],
  ])('rejects a duplicate %s and names the first use', (_what, nodes, line, message) => {
    const errs = errorsOf(minimal(nodes));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.line).toBe(line);
    expect(errs[0]!.message).toContain(message);
    expect(errs[0]!.message).toMatch(/first used by node a on line \d+/);
  });

  it('allows bootstrap only on one control plane', () => {
    const worker = errorsOf(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n    bootstrap: true\n'));
    expect(worker[0]!.message).toContain('only allowed on a node with role: controlplane');
    const two = errorsOf(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: controlplane\n    bootstrap: true\n  - name: b\n    mac: 52:54:00:00:00:02\n    role: controlplane\n    bootstrap: true\n'));
    expect(two[0]!.line).toBe(13);
  });

  it('honours an explicit bootstrap flag over inventory order', () => {
    const r = parseInventory(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: controlplane\n  - name: b\n    mac: 52:54:00:00:00:02\n    role: controlplane\n    bootstrap: true\n'), 'x');
    expect(r.ok && r.inventory.nodes.map((n) => n.bootstrap)).toEqual([false, true]);
  });
});

describe('normalizeMac', () => {
  it.each([
    ['52:54:00:AB:cd:01', '52:54:00:ab:cd:01'],
    ['52-54-00-ab-cd-01', '52:54:00:ab:cd:01'],
    ['5254.00ab.cd01', '52:54:00:ab:cd:01'],
    ['525400ABCD01', '52:54:00:ab:cd:01'],
  ])('%s → %s', (raw, want) => expect(normalizeMac(raw)).toBe(want));

  it.each(['52:54:00:ab:cd', '52:54-00:ab:cd:01', 'zz:54:00:ab:cd:01', '', '52545400abcd01'])('rejects %j', (raw) => {
    expect(normalizeMac(raw)).toBeUndefined();
  });
});

describe('inventory bmc field', () => {
  const node = (bmc: string) => minimal(`  - name: n1
    mac: 52:54:00:00:00:01
    role: controlplane
    bmc:
${bmc}`);

  it('loads a BMC with uefi as the default boot mode, and no password in the spec', () => {
    const r = parseInventory(node('      address: redfish://10.9.0.1/redfish/v1/Systems/1\n      username: admin\n      tlsFingerprint: ' + 'ab'.repeat(32) + '\n'), 'inv.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.inventory.nodes[0]!.bmc).toEqual({ address: 'redfish://10.9.0.1/redfish/v1/Systems/1', username: 'admin', bootMode: 'uefi', tlsFingerprint: 'ab'.repeat(32) });
  });

  it('reports a bad address, a password key and a misplaced fingerprint at their lines', () => {
    expect(errorsOf(node('      address: ipmi://10.9.0.1:99999\n      username: admin\n'))).toEqual([
      { file: 'inv.yaml', line: 10, col: 16, message: 'node n1: bmc.address: port "99999" is not a number from 1 to 65535' },
    ]);
    const pw = errorsOf(node('      address: ipmi://10.9.0.1\n      username: admin\n      password: hunter2\n'));
    expect(pw[0]).toMatchObject({ line: 12, message: expect.stringMatching(/unknown key "password"/) });
    const fp = errorsOf(node('      address: ipmi://10.9.0.1\n      username: admin\n      tlsFingerprint: ' + 'ab'.repeat(32) + '\n'));
    expect(fp[0]).toMatchObject({ line: 12, message: 'node n1: tlsFingerprint only applies to a redfish:// (TLS) address' });
    const scheme = errorsOf(node('      address: http://10.9.0.1\n      username: admin\n'));
    expect(scheme[0]).toMatchObject({ line: 10, message: expect.stringMatching(/is not a valid BMC address/) });
  });
});

describe('inventory check finds everything serve would', () => {
  it('renders every node: a patch to a path that does not exist fails at the patch, naming the node', () => {
    const errs = errorsOf(minimal('  - name: cp-1\n    mac: 52:54:00:00:00:01\n    role: controlplane\n    patches:\n      - - op: add\n          path: /machine/nope/x\n          value: 1\n'));
    expect(errs).toEqual([{ file: 'inv.yaml', line: 10, col: 9, message: 'node cp-1: its config does not render: patch nodes[cp-1].patches[0]: operation 0: path /machine/nope/x does not exist' }]);
  });

  it('reports a cluster-wide patch that breaks every node once, at the patch, with how many more it breaks', () => {
    const text = minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n  - name: b\n    mac: 52:54:00:00:00:02\n    role: worker\n')
      .replace('nodes:\n', '  patches:\n    worker:\n      - [{ op: remove, path: /machine/nope }]\nnodes:\n');
    expect(errorsOf(text)).toEqual([{ file: 'inv.yaml', line: 7, col: 9, message: 'node a: its config does not render: patch cluster.patches.worker[0]: operation 0: path /machine/nope does not exist (and for 1 more node)' }]);
  });

  it('reports schema errors, duplicates, bootstrap rules and patches in one pass, sorted by line, nodes by name, each saying the form it wants', () => {
    const errs = errorsOf(`cluster:
  name: c1
  controlPlaneEndpoint: 10.0.0.1:6443
  talosVersion: v1.11.5
nodes:
  - name: w-2
    mac: 52:54:00:00:00:09
    role: worker
    installDisk: sda
  - name: cp-1
    mac: 52:54:00:00:00:01
    role: controlplane
    patches:
      - [{ op: add, path: /machine/nope/x, value: 1 }]
  - name: w-1
    mac: 52:54:00:00:00:01
    role: worker
    bootstrap: true
`);
    expect(errs.map((e) => [e.line, e.message])).toEqual([
      [3, 'cluster.controlPlaneEndpoint: "10.0.0.1:6443" is not a valid control plane endpoint: wants https://host:port, e.g. https://10.77.0.10:6443'],
      [9, 'node w-2: installDisk: "sda" is not a valid disk path (/dev/...)'],
      [14, 'node cp-1: its config does not render: patch nodes[cp-1].patches[0]: operation 0: path /machine/nope/x does not exist'],
      [16, 'node w-1: duplicate mac 52:54:00:00:00:01 (first used by node cp-1 on line 11): each node needs its own'],
      [18, 'node w-1: bootstrap: true is only allowed on a node with role: controlplane'],
    ]);
  });

  it('says talosVersion wants vX.Y.Z', () => {
    const errs = errorsOf(minimal('  - name: a\n    mac: 52:54:00:00:00:01\n    role: worker\n').replace('v1.11.5', '1.11'));
    expect(errs).toEqual([{ file: 'inv.yaml', line: 4, col: 17, message: 'cluster.talosVersion: 1.11 is not a valid Talos version: wants vX.Y.Z, e.g. v1.11.5' }]);
  });
});
