// `rackboot upgrade` on an appliance with scaleOut.postgres: the rollout is
// recorded in the shared database and left to the appliance leading the
// Talos steps (day2/rollout-service.ts); the CLI process itself sends no
// upgrade, and every appliance's `--status` shows the same rollout.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { upgrade } from '../../src/cli/upgrade.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { PgRollouts } from '../../src/store/pg/pg-rollouts.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { makeEtcdRack } from '../day2/etcd-rack.js';
import { rackNodes, upgradeCounts, writeRackTalosconfig } from '../day2/upgrade-rig.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { runCommand } from './run-command.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

it('records the rollout in the shared store and sends nothing itself; --status on another appliance shows it; a second one is refused', async () => {
  const rack = await makeEtcdRack(0, 2, { firstHost: 216, port: 50000 });
  const dir = mkdtempSync(join(tmpdir(), 'rb-upgrade-pg-'));
  const conninfo = pg.createDatabase('upgrade_shared');
  const shared = new PgStore(conninfo);
  try {
    const nodes = [...rack.fakes].map(([name, f], i) => `  - name: ${name}\n    mac: 52:54:00:00:02:${(0x10 + i).toString(16)}\n    role: worker\n    ip: ${f.opts.host}\n    installDisk: /dev/sda\n`).join('');
    writeFileSync(join(dir, 'inventory.yaml'), `cluster:\n  name: rack\n  controlPlaneEndpoint: https://127.0.0.1:6443\n  talosVersion: v1.13.3\n  schematic:\n    extensions: []\n  cni: flannel\n  configMode: push\nnodes:\n${nodes}`);
    const inv = loadInventoryFile(join(dir, 'inventory.yaml'));
    if (!inv.ok) throw new Error('inventory invalid');
    shared.syncInventory(inv.inventory);
    for (const n of rack.fakes.keys()) shared.setState(n, 'installed', 'test');
    const appliance = (name: string) => {
      const dataDir = join(dir, name);
      mkdirSync(dataDir);
      writeRackTalosconfig(rack, dataDir);
      const config = join(dir, `${name}.yaml`);
      writeFileSync(config, `dataDir: ${dataDir}\ninventory: ${join(dir, 'inventory.yaml')}\nassetsDir: ${join(dataDir, 'assets')}\nscaleOut:\n  postgres: "${conninfo}"\n`);
      return config;
    };
    const [a, b] = [appliance('a'), appliance('b')];

    const r = await runCommand(upgrade, ['--config', a, '--all']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rollout 1 is recorded in the shared store; the appliance leading the Talos steps runs it/);
    expect(upgradeCounts(rack)).toEqual({ w1: 0, w2: 0 });
    const rollouts = new PgRollouts(shared);
    expect(rollouts.active()).toMatchObject({ id: 1, state: 'running', targetVersion: 'v1.13.3' });
    expect(rollouts.nodes(1).map((n) => [n.node, n.state])).toEqual(rackNodes(rack).map((n) => [n.name, 'pending']));

    const status = await runCommand(upgrade, ['--config', b, '--status']);
    expect(status.out).toMatch(/^rollout 1: Talos v1.13.3 .* running/);
    const again = await runCommand(upgrade, ['--config', b, '--all']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/rollout 1 is running; continue it with --resume/);
  } finally {
    shared.close();
    await rack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
