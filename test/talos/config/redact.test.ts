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

describe('secrets inside content', () => {
  const manifests = [
    'apiVersion: v1', 'kind: Secret', 'metadata:', '  name: cloud-creds', 'type: Opaque', 'data:', '  access: QUtJQS1zZWNyZXQtZGF0YQ==', 'stringData:', '  token: plain-string-secret',
    '---', 'apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: settings', 'data:', '  region: eu-west-1', '',
  ].join('\n');
  const config = [
    'version: v1alpha1', 'machine:', '  type: worker', '  files:', '    - path: /var/etc/registry-creds.toml', '      op: create', '      permissions: 0o600', '      content: |',
    '        [auth]', '        bearer = "file-content-secret"', '    - path: /var/etc/empty', '      op: create', '      content: ""',
    'cluster:', '  inlineManifests:', '    - name: creds', '      contents: |', ...manifests.split('\n').map((l) => (l ? `        ${l}` : l)),
    '---', 'apiVersion: v1alpha1', 'kind: ExtensionServiceConfig', 'name: tailscale', 'configFiles:', '  - content: TS_AUTHKEY=tskey-ext-secret', '    mountPath: /var/lib/ts.env', '',
  ].join('\n');

  it('hides file contents and the data of inline Secret manifests, keeps the rest of the manifests, and redacts to itself', () => {
    const shown = redactMachineConfig(config);
    for (const s of ['file-content-secret', 'QUtJQS1zZWNyZXQtZGF0YQ==', 'plain-string-secret', 'tskey-ext-secret']) {
      expect(config).toContain(s);
      expect(shown).not.toContain(s);
    }
    const [v1, ext] = parseAllDocuments(shown).map((d) => d.toJS());
    expect(v1.machine.files.map((f: { path: string; content: string }) => [f.path, f.content])).toEqual([['/var/etc/registry-creds.toml', REDACTED], ['/var/etc/empty', '']]);
    const inline = parseAllDocuments(v1.cluster.inlineManifests[0].contents).map((d) => d.toJS());
    expect(inline[0]).toMatchObject({ kind: 'Secret', metadata: { name: 'cloud-creds' }, data: { access: REDACTED }, stringData: { token: REDACTED } });
    // A ConfigMap is no secret: the operator still sees its data.
    expect(inline[1]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { region: 'eu-west-1' } });
    expect(ext.configFiles[0]).toEqual({ content: REDACTED, mountPath: '/var/lib/ts.env' });
    expect(redactMachineConfig(shown)).toBe(shown);
  });

  it('replaces an inline manifest that is not YAML whole', () => {
    const broken = 'version: v1alpha1\ncluster:\n  inlineManifests:\n    - name: x\n      contents: |\n        stringData: [unclosed-secret\n';
    const shown = redactMachineConfig(broken);
    expect(shown).not.toContain('unclosed-secret');
    expect(parseAllDocuments(shown)[0]!.toJS().cluster.inlineManifests[0].contents).toBe(REDACTED);
  });
});
