// Several appliances on one PostgreSQL store (branch pg-local): each keeps
// its own kubeconfig file (0600; the database holds none), and an etcd loss
// one appliance records makes every appliance's older copy stale: its
// daemon fetches again when it leads, and `rackboot kubeconfig` on it
// refuses to print the old one.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/command.js';
import { kubeconfig } from '../../src/cli/kubeconfig.js';
import { KUBECONFIG_STALE_KEY } from '../../src/lifecycle/cluster-state.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { Store } from '../../src/store/store.js';
import { kubeconfigFetchReason, writeSecretFile } from '../../src/talos/health.js';
import { ADMIN_HEADERS, testAppliance } from '../helpers/appliance.js';
import { usePgAndTempDir } from '../helpers/postgres.js';
import { inventory, nodeSpec } from '../lifecycle/fixtures.js';

const rig = usePgAndTempDir('rb-kubeconfig-shared-');
const opened: Store[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

let n = 0;
/** An appliance's data directory with a kubeconfig fetched ten minutes ago, and its store (shared on `conninfo`). */
function appliance(conninfo?: string): { dataDir: string; file: string; store: Store } {
  const dataDir = join(rig.dir, `app-${++n}`);
  mkdirSync(dataDir, { recursive: true });
  const store = conninfo ? new SharedStore(join(dataDir, 'rackboot.db'), conninfo) : new Store(join(dataDir, 'rackboot.db'));
  opened.push(store);
  const file = join(dataDir, 'kubeconfig');
  writeSecretFile(file, Buffer.from(`kubeconfig of ${dataDir}\n`));
  const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
  utimesSync(file, tenMinutesAgo, tenMinutesAgo);
  return { dataDir, file, store };
}

/**
 * A copy fetched after the etcd loss. The file system stamps mtime from the kernel's coarse clock, up to a
 * tick behind Date.now(), so a write in the same tick as the mark reads as older than it (CI at 09927e1
 * failed so); a real fetch comes after a new Bootstrap, long past the tick.
 */
async function fetchedAfterTheLoss(file: string, text: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
  writeSecretFile(file, Buffer.from(text));
}

describe('kubeconfig with a shared store', () => {
  it('an etcd loss marked on A makes B\'s older copy stale; a copy fetched after it is current', async () => {
    const conninfo = rig.database();
    const a = appliance(conninfo);
    const b = appliance(conninfo);
    expect(kubeconfigFetchReason(b.store, b.file)).toBeUndefined();
    a.store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
    expect(kubeconfigFetchReason(a.store, a.file)).toBe('stale');
    expect(kubeconfigFetchReason(b.store, b.file)).toBe('stale');
    // B leads later and fetches: current again, with nothing to clear on A's side.
    await fetchedAfterTheLoss(b.file, 'fresh\n');
    expect(kubeconfigFetchReason(b.store, b.file)).toBeUndefined();
    expect(kubeconfigFetchReason(b.store, join(b.dataDir, 'absent'))).toBe('missing');
  });

  it('rackboot kubeconfig on B refuses the copy that predates A\'s etcd loss, and prints a current one', async () => {
    const conninfo = rig.database();
    const a = appliance(conninfo);
    const b = appliance(conninfo);
    (a.store as SharedStore).shared.syncInventory(inventory([nodeSpec('cp-1', '52:54:00:00:00:01', 'controlplane')]));
    const config = join(b.dataDir, 'rackboot.yaml');
    writeFileSync(config, `dataDir: ${b.dataDir}\ninventory: ./absent.yaml\nscaleOut:\n  postgres: "${conninfo}"\n`);
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await kubeconfig.run(parseCommandArgs(kubeconfig, ['--config', config]), { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    expect(await run()).toEqual({ code: 0, out: `kubeconfig of ${b.dataDir}`, err: '' });
    a.store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
    expect(await run()).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/was fetched before the etcd loss an appliance recorded; use --fetch/) });
    await fetchedAfterTheLoss(b.file, 'fresh\n');
    expect(await run()).toEqual({ code: 0, out: 'fresh', err: '' });
  });

  it('the admin page\'s download on B refuses the copy that predates A\'s etcd loss (409), and serves a current one', async () => {
    const conninfo = rig.database();
    const a = appliance(conninfo);
    const b = await testAppliance({ openStore: (file) => new SharedStore(file, conninfo), parent: rig.dir });
    try {
      const file = join(b.settings.dataDir, 'kubeconfig');
      writeSecretFile(file, Buffer.from('old\n'));
      const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
      utimesSync(file, tenMinutesAgo, tenMinutesAgo);
      const download = () => b.admin.inject({ url: '/api/cluster/kubeconfig', headers: ADMIN_HEADERS });
      expect((await download()).body).toBe('old\n');
      a.store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
      const refused = await download();
      expect(refused.statusCode).toBe(409);
      expect(refused.json().message).toMatch(/fetched before the last etcd loss/);
      await fetchedAfterTheLoss(file, 'fresh\n');
      expect((await download()).body).toBe('fresh\n');
    } finally {
      await b.close();
    }
  });

  it('one appliance on SQLite: unchanged, only its own flag counts', () => {
    const a = appliance();
    expect(kubeconfigFetchReason(a.store, a.file)).toBeUndefined();
    a.store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
    expect(kubeconfigFetchReason(a.store, a.file)).toBe('stale');
    a.store.setClusterState(KUBECONFIG_STALE_KEY, 'false');
    expect(kubeconfigFetchReason(a.store, a.file)).toBeUndefined();
  });
});
