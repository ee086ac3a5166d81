import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { ValidateFunction } from 'ajv';
import { machineConfigYaml, renderMachineConfig } from '../../../src/talos/config/render.js';
import { registryMirrorTarget } from '../../../src/talos/config/registry-mirrors.js';
import type { SecretsBundle } from '../../../src/talos/secrets.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { compileTalosSchema, missingSchemas, SCHEMA_VERSIONS } from '../schema-helper.js';
import { defaultSettings, exampleInventory, testSecrets } from '../config-fixtures.js';

const noSchema = missingSchemas();
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const URL_ = 'http://10.77.0.1:8080';
const HOSTS = ['factory.talos.dev', 'docker.io', 'gcr.io', 'ghcr.io', 'registry.k8s.io'];

describe('registry mirrors in generated configs', () => {
  let secrets: SecretsBundle;
  let inv: Inventory;
  let v112: Inventory;
  const validators: Record<string, ValidateFunction> = {};
  const settings = defaultSettings();
  beforeAll(async () => {
    secrets = await testSecrets();
    inv = exampleInventory();
    v112 = exampleInventory('cluster-v1.12.yaml');
    if (!noSchema) for (const v of SCHEMA_VERSIONS) validators[v] = compileTalosSchema(v);
  }, 60_000);

  const render = (i: Inventory, offline: boolean, node = 0) => renderMachineConfig({
    cluster: i.cluster, node: i.nodes[node]!, secrets, settings,
    registryMirror: registryMirrorTarget({ mirror: true, offline }, settings.factory.url, URL_),
  }) as Doc[];
  const expectValid = (docs: Doc[], v: string) => {
    for (const data of parseAllDocuments(machineConfigYaml(docs)).map((d) => d.toJS())) {
      const ok = validators[v]!(data);
      expect(ok ? [] : validators[v]!.errors, `schema ${v}, document ${data.kind ?? 'v1alpha1'}`).toEqual([]);
    }
  };

  it('is off by default: no registries, no mirror documents', () => {
    expect(registryMirrorTarget(settings.registry, settings.factory.url, URL_)).toBeUndefined();
    const docs = renderMachineConfig({ cluster: inv.cluster, node: inv.nodes[0]!, secrets, settings }) as Doc[];
    // talosctl gen config's own empty `registries: {}`.
    expect(docs[0]!.machine.registries).toEqual({});
  });

  it.skipIf(noSchema)('Talos v1.11: machine.registries.mirrors for every registry, pointing at the boot URL, valid against the v1.11 schema', () => {
    for (const offline of [false, true]) {
      for (const node of [0, 3]) {
        const docs = render(inv, offline, node);
        const mirrors = docs[0]!.machine.registries.mirrors as Record<string, { endpoints: string[]; skipFallback?: boolean }>;
        expect(Object.keys(mirrors).sort()).toEqual([...HOSTS].sort());
        for (const m of Object.values(mirrors)) expect(m).toEqual(offline ? { endpoints: [URL_], skipFallback: true } : { endpoints: [URL_] });
        expectValid(docs, 'v1.11');
      }
    }
  });

  it.skipIf(noSchema)('Talos v1.12: one RegistryMirrorConfig document per registry, valid against the v1.12 schema (which has no machine.registries)', () => {
    const docs = render(v112, true);
    expect(docs[0]!.machine.registries).toBeUndefined();
    const mirrors = docs.filter((d) => d.kind === 'RegistryMirrorConfig');
    expect(mirrors.map((d) => d.name).sort()).toEqual([...HOSTS].sort());
    for (const m of mirrors) expect(m).toEqual({ apiVersion: 'v1alpha1', kind: 'RegistryMirrorConfig', name: m.name, endpoints: [{ url: URL_ }], skipFallback: true });
    expectValid(docs, 'v1.12');
    expect(render(v112, false).find((d) => d.kind === 'RegistryMirrorConfig')).not.toHaveProperty('skipFallback');
  });

  it('the factory host follows settings.factory.url', () => {
    expect(registryMirrorTarget({ mirror: true, offline: false }, 'https://factory.example.net:8443/x', URL_)?.factoryHost).toBe('factory.example.net:8443');
  });
});
