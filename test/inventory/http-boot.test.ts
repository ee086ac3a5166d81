// The per-node HTTP-boot choice (httpBoot / secureBoot) as the loader reads it.
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';

const inv = (node: string, clusterMode = '') => `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.11.5
${clusterMode}nodes:
  - name: n1
    mac: 52:54:00:00:00:01
    role: worker
${node}`;

function nodeOf(text: string) {
  const r = parseInventory(text, 'inv.yaml');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  return r.inventory.nodes[0]!;
}
function errorsOf(text: string) {
  const r = parseInventory(text, 'inv.yaml');
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

describe('inventory: httpBoot and secureBoot', () => {
  it('defaults to iPXE (no field), takes uki, and secureBoot implies uki', () => {
    expect(nodeOf(inv('')).httpBoot).toBeUndefined();
    expect(nodeOf(inv('    httpBoot: ipxe\n')).httpBoot).toBeUndefined();
    expect(nodeOf(inv('    httpBoot: uki\n'))).toMatchObject({ httpBoot: 'uki' });
    expect(nodeOf(inv('    httpBoot: uki\n')).secureBoot).toBeUndefined();
    expect(nodeOf(inv('    secureBoot: true\n'))).toMatchObject({ httpBoot: 'uki', secureBoot: true });
  });

  it('refuses secureBoot with httpBoot: ipxe, and a UKI with pull mode, naming the line', () => {
    const both = errorsOf(inv('    secureBoot: true\n    httpBoot: ipxe\n'));
    expect(both[0]).toMatchObject({ line: 10, message: expect.stringMatching(/node n1: secureBoot: true .*httpBoot: ipxe cannot go with it/) });
    const pull = errorsOf(inv('    httpBoot: uki\n    configMode: pull\n'));
    expect(pull[0]).toMatchObject({ line: 10, message: expect.stringMatching(/talos\.config=.*configMode: push/) });
    // The cluster's default counts too.
    const clusterPull = errorsOf(inv('    secureBoot: true\n', '  configMode: pull\n'));
    expect(clusterPull[0]!.message).toMatch(/use configMode: push/);
  });

  it('refuses an unknown httpBoot value by the schema', () => {
    expect(errorsOf(inv('    httpBoot: pxe\n'))[0]!.message).toMatch(/httpBoot/);
  });
});
