// Runs init, config rendering, talosconfig and the pull endpoint with a
// trace-level logger writing into memory, then searches every log line for
// the key material and tokens. Also logs secret-bearing objects the way a
// careless caller might, to prove the redaction paths catch them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { buildBootServer } from '../../src/http/server.js';
import { loadSettings } from '../../src/settings/settings.js';
import { initSecrets, loadSecrets, unb64, type SecretsBundle } from '../../src/talos/secrets.js';
import { adminCredentials, writeTalosconfig } from '../../src/talos/talosconfig.js';
import { machineConfigYaml, renderMachineConfig } from '../../src/talos/config/render.js';
import { exampleInventory } from './config-fixtures.js';
import { FakeNeighbours } from '../../src/net/neighbours.js';
import { issueBootToken } from '../../src/store/boot-tokens.js';

/** Every string that must never appear in a log: blobs as stored, decoded PEM bodies line by line, tokens, secrets. */
function secretNeedles(s: SecretsBundle, extra: string[]): string[] {
  const blobs = [s.certs.os.key, s.certs.etcd.key, s.certs.k8s.key, s.certs.k8saggregator.key, s.certs.k8sserviceaccount.key];
  const pemLines = [...blobs.map(unb64), ...extra].flatMap((pem) => pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
  return [...blobs, ...pemLines, s.secrets.bootstraptoken, s.trustdinfo.token, s.cluster.secret, s.secrets.secretboxencryptionsecret!];
}

describe('no secret in any log line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-nolog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('init, config, talosconfig and GET /config log names and outcomes, never key material', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'trace', destination: new Writable({ write(c, _e, cb) { lines.push(c.toString()); cb(); } }) });
    const dataDir = join(dir, 'data');
    const inv = exampleInventory();
    const settings = loadSettings({ dataDir }, dir);

    await initSecrets(dataDir, { log });
    await initSecrets(dataDir, { log }); // the "left as it was" path too
    const secrets = loadSecrets(dataDir);
    const yaml = machineConfigYaml(renderMachineConfig({ cluster: inv.cluster, node: inv.nodes[0]!, secrets, settings }));
    await writeTalosconfig(join(dataDir, 'talosconfig'), inv, secrets, log);
    const talosconfig = readFileSync(join(dataDir, 'talosconfig'), 'utf8');
    const admin = await adminCredentials(secrets);

    const store = new Store(':memory:');
    store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => ({ ...n, configMode: 'pull' as const })) });
    store.setState('cp-1', 'booting', 'test');
    const requesterIdentity = new FakeNeighbours({ '10.77.0.11': '52:54:00:12:34:01' });
    const app = buildBootServer({ settings, store, lifecycle: new Lifecycle(store), log, publicUrl: 'http://127.0.0.1', inventory: () => inv, inventoryStatus: () => ({ ok: true, file: '', errors: [], loadedAt: 0, checkedAt: 0 }), requesterIdentity });
    const bootToken = issueBootToken(store.db, store.getNode('cp-1')!, '10.77.0.11');
    const served = await app.inject({ method: 'GET', url: `/config?mac=52:54:00:12:34:01&token=${bootToken}`, remoteAddress: '10.77.0.11' });
    expect(served.statusCode).toBe(200);
    expect(served.body).toContain(secrets.trustdinfo.token); // the node does get its secrets…
    await app.inject({ method: 'GET', url: '/config?mac=52:54:00:12:34:02' }); // …a refusal is logged too
    // A careless caller logging whole objects: the redaction paths must catch these.
    log.info({ secrets, key: admin.keyPem, talosconfig, machineConfig: yaml, token: secrets.trustdinfo.token }, 'careless');
    log.info({ node: { key: admin.keyPem, secret: secrets.cluster.secret, ca: secrets.certs.os } }, 'careless nested');
    await app.close();
    store.close();
    log.flush();

    const text = lines.join('');
    expect(text).toContain('secrets bundle written (mode 0600)');
    expect(text).toContain('talosconfig written (mode 0600)');
    expect(text).toContain('machine config served');
    expect(text).toContain('machine config refused');
    expect(text).toContain('[redacted]');
    expect(text).toContain('/config?mac=52:54:00:12:34:01&token=[redacted]'); // the request line keeps its URL, not the boot token
    const needles = [...secretNeedles(secrets, [admin.keyPem]), bootToken];
    expect(needles.length).toBeGreaterThan(30);
    const leaked = needles.filter((n) => text.includes(n));
    expect(leaked).toEqual([]);
  }, 60_000);
});
