// `rackboot nodes` and `rackboot kubeconfig --fetch` with scaleOut.postgres
// read what another appliance wrote in the shared store (its node states,
// the bootstrap state and node its leader recorded), though this box's own
// SQLite has never seen any of it.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, type Command } from '../../src/cli/command.js';
import { kubeconfig } from '../../src/cli/kubeconfig.js';
import { nodes } from '../../src/cli/nodes.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../../src/lifecycle/cluster-state.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { usePgAndTempDir } from '../helpers/postgres.js';
import { inventory, nodeSpec } from '../lifecycle/fixtures.js';

const rig = usePgAndTempDir('rackboot-cli-readers-');

async function run(cmd: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.run(parseCommandArgs(cmd, argv), { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** This appliance's settings on `db`, and the other appliance's handle on the shared store with the inventory loaded. */
function setup(db: string): { config: string; other: PgStore } {
  const conninfo = rig.pg.createDatabase(db);
  const base = join(rig.dir, db);
  rmSync(base, { recursive: true, force: true });
  const config = join(rig.dir, `${db}.yaml`);
  writeFileSync(config, `dataDir: ./${db}\ninventory: ./absent.yaml\nscaleOut:\n  postgres: "${conninfo}"\n`);
  const other = new PgStore(conninfo);
  // The shared store holds the nodes already, so the CLI never reads an inventory file here.
  other.syncInventory(inventory([nodeSpec('cp-1', '52:54:00:00:00:01', 'controlplane'), nodeSpec('w-1', '52:54:00:00:00:02')]));
  return { config, other };
}

describe('CLI readers with scaleOut.postgres', () => {
  it('rackboot nodes lists the states another appliance moved the nodes to', async () => {
    const { config, other } = setup('cli_nodes');
    try {
      other.setState('cp-1', 'installed', 'installed on /dev/sda');
      other.setState('w-1', 'failed', 'no install disk', { failedStep: 'installing' });
      const r = await run(nodes, ['--json', '--config', config]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).map((n: { name: string; state: string }) => [n.name, n.state])).toEqual([['cp-1', 'installed'], ['w-1', 'failed']]);
    } finally {
      other.close();
    }
  });

  it('rackboot kubeconfig --fetch goes by the bootstrap state and node the leader recorded in the shared store', async () => {
    const { config, other } = setup('cli_kubeconfig');
    const talosconfig = join(rig.dir, 'talosconfig');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(talosconfig, `context: a\ncontexts:\n  a:\n    ca: ${b64('ca')}\n    crt: ${b64('crt')}\n    key: ${b64('key')}\n`);
    try {
      const args = ['--fetch', '--talosconfig', talosconfig, '--config', config];
      expect(await run(kubeconfig, args)).toMatchObject({ code: 1, err: 'rackboot kubeconfig: the cluster is not bootstrapped yet' });
      other.setState('w-1', 'installed', 'installed'); // not the pinned node
      other.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
      other.setClusterState(BOOTSTRAP_NODE_KEY, 'cp-1');
      // Past the bootstrap check to the pinned node (which has no address here: nothing is dialled).
      expect(await run(kubeconfig, args)).toMatchObject({ code: 1, err: 'rackboot kubeconfig: no address known for cp-1' });
    } finally {
      other.close();
    }
  });
});
