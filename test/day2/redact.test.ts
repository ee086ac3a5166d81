import { describe, expect, it } from 'vitest';
import { REDACTED, redactConfig, redactDiff } from '../../src/day2/redact.js';
import { nodeConfigText } from '../../src/talos/config/render.js';
import { defaultSettings, exampleInventory, testSecrets } from '../talos/config-fixtures.js';

describe('redactConfig', () => {
  it('keeps no secret of a rendered config, and keeps its shape', async () => {
    const inv = exampleInventory();
    const secrets = await testSecrets();
    const node = inv.nodes.find((n) => n.role === 'controlplane')!;
    const text = nodeConfigText({ cluster: inv.cluster, node, secrets, settings: defaultSettings() });
    const out = redactConfig(text);
    // Every secret of the bundle the config carries (keys, tokens, encryption secrets) is gone.
    const c = secrets.certs;
    const secretValues = [secrets.cluster.secret, secrets.secrets.bootstraptoken, secrets.secrets.secretboxencryptionsecret, secrets.trustdinfo.token,
      c.etcd.key, c.k8s.key, c.k8saggregator.key, c.k8sserviceaccount.key, c.os.key].filter((v): v is string => !!v);
    const carried = secretValues.filter((v) => text.includes(v));
    expect(carried.length).toBeGreaterThanOrEqual(6);
    for (const v of carried) expect(out).not.toContain(v);
    expect(out).toContain(`token: ${REDACTED}`);
    expect(out).toContain(`secretboxEncryptionSecret: ${REDACTED}`);
    // Certificates are public and stay, so does everything else.
    expect(out).toContain(node.name);
    expect(out).toContain('crt: ');
  });

  it('throws on bytes that are not YAML', () => {
    expect(() => redactConfig('a: [\n')).toThrow(/not YAML/);
  });
});

describe('redactDiff', () => {
  it('blanks secret values on added, removed and context lines, keeps the rest of the diff', () => {
    const diff = ['--- a', '+++ b', '@@ -1,6 +1,6 @@', ' machine:', '-  token: old.secrettoken', '+  token: new.secrettoken',
      '   ca:', '     crt: LS0tQ1JU', '     key: LS0tS0VZ', '-  nodeLabels: {a: b}', '+  nodeLabels: {a: c}'].join('\n');
    const out = redactDiff(diff);
    expect(out).not.toMatch(/secrettoken|LS0tS0VZ/);
    expect(out).toContain(`-  token: ${REDACTED}`);
    expect(out).toContain(`+  token: ${REDACTED}`);
    expect(out).toContain(`     key: ${REDACTED}`);
    expect(out).toContain('     crt: LS0tQ1JU');
    expect(out).toContain('+  nodeLabels: {a: c}');
    expect(out.startsWith('--- a\n+++ b\n')).toBe(true);
  });

  it('drops the continuation lines of a secret block scalar', () => {
    const out = redactDiff(['+    privateKey: |', '+      AAAAsecret', '+      BBBBsecret', '+    address: 10.0.0.1'].join('\n'));
    expect(out).not.toMatch(/secret$/m);
    expect(out).toContain('+    address: 10.0.0.1');
  });

  it('hides the content of files and inline manifests, block lines and all', () => {
    const out = redactDiff(['   files:', '-    - content: |', '-        bearer = "old-file-secret"', '+    - content: |', '+        bearer = "new-file-secret"', '       path: /var/etc/creds.toml',
      '   inlineManifests:', '     - name: creds', '-      contents: |-', '-        kind: Secret', '-        stringData: {token: manifest-secret}'].join('\n'));
    expect(out).not.toMatch(/file-secret|manifest-secret/);
    expect(out).toContain(`+    - content: ${REDACTED}`);
    expect(out).toContain(`-      contents: ${REDACTED}`);
    expect(out).toContain('       path: /var/etc/creds.toml');
  });
});
