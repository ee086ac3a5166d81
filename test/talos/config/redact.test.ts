import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { nodeConfigText } from '../../../src/talos/config/render.js';
import { REDACTED, redactMachineConfig } from '../../../src/talos/config/redact.js';
import type { SecretsBundle } from '../../../src/talos/secrets.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { defaultSettings, exampleInventory, testSecrets } from '../config-fixtures.js';

describe('redacted machine config', () => {
  let secrets: SecretsBundle;
  let inv: Inventory;
  beforeAll(async () => {
    secrets = await testSecrets();
    inv = exampleInventory();
  }, 60_000);

  it('hides every secret of the bundle and of patches, keeps certificates and the rest', () => {
    const node = { ...inv.nodes.find((n) => n.role === 'controlplane')!, patches: [{ machine: { registries: { config: { 'r.example': { auth: { username: 'bob', password: 'hunter2-registry' } } } } } }] };
    const text = nodeConfigText({ cluster: inv.cluster, node, secrets, settings: defaultSettings() });
    const shown = redactMachineConfig(text);
    const hidden = [secrets.cluster.secret, secrets.secrets.bootstraptoken, secrets.secrets.secretboxencryptionsecret, secrets.trustdinfo.token,
      secrets.certs.etcd.key, secrets.certs.k8s.key, secrets.certs.k8saggregator.key, secrets.certs.k8sserviceaccount.key, secrets.certs.os.key, 'hunter2-registry']
      .filter((s): s is string => !!s);
    expect(hidden.length).toBeGreaterThanOrEqual(9);
    for (const s of hidden) {
      expect(text).toContain(s);
      expect(shown).not.toContain(s);
    }
    expect(shown).toContain(secrets.certs.os.crt);
    expect(shown).toContain('username: bob');
    expect(shown).toContain(`password: ${REDACTED}`);
    expect(shown).toContain(`hostname: ${node.name}`);
    // Still the same documents, each still YAML.
    expect(parseAllDocuments(shown).length).toBe(parseAllDocuments(text).length);
  });
});
