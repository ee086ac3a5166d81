// A secureBoot node's config: the Factory's Secure Boot installer, and no
// install.extraKernelArgs (a UKI carries its command line).
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { ValidateFunction } from 'ajv';
import { machineConfigYaml, renderMachineConfig } from '../../../src/talos/config/render.js';
import type { SecretsBundle } from '../../../src/talos/secrets.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { schematicId } from '../../../src/factory/schematic.js';
import { compileTalosSchema, missingSchemas } from '../schema-helper.js';
import { defaultSettings, exampleInventory, testSecrets } from '../config-fixtures.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Secure Boot machine config', () => {
  let secrets: SecretsBundle;
  let inv: Inventory;
  const validators: Record<string, ValidateFunction> = {};
  const settings = { ...defaultSettings(), dhcp: { ...defaultSettings().dhcp, subnet: '10.77.0.0/24', gateway: '10.77.0.1', dns: ['10.77.0.1'] } };
  beforeAll(async () => {
    secrets = await testSecrets();
    inv = exampleInventory();
    if (!missingSchemas()) for (const v of ['v1.11', 'v1.12']) validators[v] = compileTalosSchema(v as never);
  }, 60_000);

  for (const [talosVersion, schema] of [['v1.11.5', 'v1.11'], ['v1.12.0', 'v1.12']] as const) {
    it(`${talosVersion}: names metal-installer-secureboot, drops install.extraKernelArgs, validates against the ${schema} schema`, () => {
      // A serial console that a GRUB install would keep through install.extraKernelArgs.
      // Each version's own example inventory: v1.11's patches use fields v1.12 removed.
      const base = talosVersion === 'v1.11.5' ? inv : exampleInventory('cluster-v1.12.yaml');
      const cluster = { ...base.cluster, talosVersion, schematic: { extensions: [], extraKernelArgs: ['console=ttyS1,115200'] } };
      const node = { ...base.nodes.find((n) => n.role === 'worker')!, httpBoot: 'uki' as const, secureBoot: true };
      const docs = renderMachineConfig({ cluster, node, secrets, settings }) as Doc[];
      const install = docs[0]!.machine.install;
      expect(install.image).toBe(`factory.talos.dev/metal-installer-secureboot/${schematicId(cluster.schematic)}:${talosVersion}`);
      expect(install).not.toHaveProperty('extraKernelArgs');
      // The same node without Secure Boot keeps the plain installer (and, on v1.11, its console).
      const plain = (renderMachineConfig({ cluster, node: { ...node, secureBoot: undefined }, secrets, settings }) as Doc[])[0]!.machine.install;
      expect(plain.image).toBe(`factory.talos.dev/metal-installer/${schematicId(cluster.schematic)}:${talosVersion}`);
      if (talosVersion === 'v1.11.5') expect(plain.extraKernelArgs).toEqual(['console=ttyS1,115200']);
      if (missingSchemas()) return;
      for (const data of parseAllDocuments(machineConfigYaml(docs)).map((d) => d.toJS())) {
        const ok = validators[schema]!(data);
        expect(ok ? [] : validators[schema]!.errors!.slice(0, 3), `document ${data.kind ?? "v1alpha1"}`).toEqual([]);
      }
    });
  }
});
