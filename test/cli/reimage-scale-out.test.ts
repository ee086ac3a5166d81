// `rackboot reimage` with scaleOut.postgres marks the node in the shared
// store, where the leading appliance's daemon reads it (branch pg-store).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/command.js';
import { reimage } from '../../src/cli/reimage.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { usePgAndTempDir } from '../helpers/postgres.js';

const rig = usePgAndTempDir('rackboot-cli-pg-');

describe('rackboot reimage with scaleOut.postgres', () => {
  it('marks the node in the shared store', async () => {
    const conninfo = rig.pg.createDatabase('cli_reimage');
    writeFileSync(join(rig.dir, 'cluster.yaml'), `cluster:
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
    writeFileSync(join(rig.dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nscaleOut:\n  postgres: "${conninfo}"\n`);
    // Another appliance installed the nodes: the shared store says so, this box's SQLite has never seen them.
    const shared = new PgStore(conninfo);
    try {
      shared.syncInventory(loadInventoryFile(join(rig.dir, 'cluster.yaml')).inventory!);
      for (const n of ['cp-1', 'cp-2']) shared.setState(n, 'ready', 'setup', { markedForInstall: false });
      const err: string[] = [];
      const out: string[] = [];
      const code = await reimage.run(parseCommandArgs(reimage, ['cp-1', '--reason', 'disk swap', '--config', join(rig.dir, 'rackboot.yaml')]), { out: (l) => out.push(l), err: (l) => err.push(l) });
      expect(err.join('\n')).toBe('');
      expect(code).toBe(0);
      expect(shared.getNode('cp-1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    } finally {
      shared.close();
    }
  });
});
