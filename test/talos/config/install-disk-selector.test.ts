// A node whose installDisk is a selector: the config names the disk rackboot
// chose, or, with no disk list to choose from, carries upstream's diskSelector.
import { beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { machineConfigYaml, renderMachineConfig } from '../../../src/talos/config/render.js';
import { SelectorNotExpressible } from '../../../src/talos/disk-selector.js';
import type { SecretsBundle } from '../../../src/talos/secrets.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { compileTalosSchema, missingSchemas, SCHEMA_VERSIONS } from '../schema-helper.js';
import { defaultSettings, exampleInventory, testSecrets } from '../config-fixtures.js';

const noSchema = missingSchemas();
let secrets: SecretsBundle;
const examples: Record<string, Inventory> = {};
beforeAll(async () => {
  secrets = await testSecrets();
  examples['v1.11'] = exampleInventory();
  examples['v1.12'] = exampleInventory('cluster-v1.12.yaml');
}, 60_000);

/** A worker of the example inventory for that Talos minor, with this installDisk. */
const render = (installDisk: Inventory['nodes'][number]['installDisk'], minor: 'v1.11' | 'v1.12', chosenInstallDisk?: string) => {
  const inv = examples[minor]!;
  const node = { ...inv.nodes[3]!, installDisk };
  return renderMachineConfig({ cluster: inv.cluster, node, secrets, settings: defaultSettings(), chosenInstallDisk });
};

it('names the chosen disk by path', () => {
  const doc = render({ transport: 'nvme' }, 'v1.12', '/dev/nvme1n1')[0] as { machine: { install: Record<string, unknown> } };
  expect(doc.machine.install.disk).toBe('/dev/nvme1n1');
  expect(doc.machine.install.diskSelector).toBeUndefined();
});

it.skipIf(noSchema)('without a choice carries diskSelector, valid in the v1.11 and v1.12 schemas', () => {
  for (const v of SCHEMA_VERSIONS) {
    const docs = render({ size: '>= 400GB', model: 'Samsung*', transport: 'nvme' }, v);
    const doc = docs[0] as { machine: { install: Record<string, unknown> } };
    expect(doc.machine.install.disk).toBeUndefined();
    expect(doc.machine.install.diskSelector).toEqual({ size: '>= 400GB', model: 'Samsung*', type: 'nvme' });
    const validate = compileTalosSchema(v);
    const data = parse(machineConfigYaml([doc]));
    expect(validate(data) ? [] : validate.errors, v).toEqual([]);
  }
});

it('refuses to render a selector upstream cannot say when there is no choice', () => {
  expect(() => render({ transport: 'sata' }, 'v1.12')).toThrow(SelectorNotExpressible);
  expect(render({ transport: 'sata' }, 'v1.12', '/dev/sdb')).toBeTruthy();
});
