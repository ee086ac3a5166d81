// `rackboot reimage` with scaleOut.postgres marks the node in the shared
// store, where the leading appliance's daemon reads it (branch pg-store).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/command.js';
import { reimage } from '../../src/cli/reimage.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';

let pg: PgRig;
let dir: string;
beforeAll(() => {
  pg = startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'rackboot-cli-pg-'));
});
afterAll(() => {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('rackboot reimage with scaleOut.postgres', () => {
  it('marks the node in the shared store', async () => {
    const conninfo = pg.createDatabase('cli_reimage');
    writeFileSync(join(dir, 'cluster.yaml'), `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: v1.11.5
nodes:
  - name: cp-1
    mac: 52:54:00:00:00:01
    role: controlplane
  - name: cp-2
    mac: 52:54:00:00:00:02
    role: controlplane
`);
    writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nscaleOut:\n  postgres: "${conninfo}"\n`);
    // Another appliance installed the nodes: the shared store says so, this box's SQLite has never seen them.
    const shared = new PgStore(conninfo);
    try {
      shared.syncInventory(loadInventoryFile(join(dir, 'cluster.yaml')).inventory!);
      for (const n of ['cp-1', 'cp-2']) shared.setState(n, 'ready', 'setup', { markedForInstall: false });
      const err: string[] = [];
      const out: string[] = [];
      const code = await reimage.run(parseCommandArgs(reimage, ['cp-1', '--reason', 'disk swap', '--config', join(dir, 'rackboot.yaml')]), { out: (l) => out.push(l), err: (l) => err.push(l) });
      expect(err.join('\n')).toBe('');
      expect(code).toBe(0);
      expect(shared.getNode('cp-1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    } finally {
      shared.close();
    }
  });
});
