// `rackboot bootstrap`: bootstraps etcd by hand, under the same guard as the
// daemon (store record, claim, then the node's own etcd state and every other
// control plane's, src/talos/bootstrap.ts), so it can never be the second
// Bootstrap of a cluster.
import { ClusterBootstrap, type BootstrapOutcome } from '../talos/bootstrap.js';
import { PgCoordination } from '../store/pg/coordination.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, settingsFor, type Command } from './command.js';
import { openStore } from './open-store.js';

export const bootstrap: Command = {
  name: ['bootstrap'],
  summary: 'bootstrap etcd on the first control plane, once',
  usage: `rackboot bootstrap [--talosconfig FILE] [--wait SECONDS]

Bootstraps etcd on the control plane marked bootstrap (the first one in the
inventory unless one says bootstrap: true), over mTLS with the admin
identity from the talosconfig (default DATA_DIR/talosconfig). It sends
Bootstrap only when that node's etcd waits for it (etcd service not started,
no member list) and no other installed control plane runs etcd. It does
nothing if the store records the cluster as bootstrapped or if etcd already
has members anywhere, so running it twice, or alongside the daemon, is safe.
The node must be installed. --wait keeps trying for that many seconds.
With scaleOut.postgres it acts only while no other appliance leads the
Talos steps, and reads the bootstrap state from PostgreSQL.`,
  options: { talosconfig: { type: 'string' }, wait: { type: 'string' } },
  async run(args, io) {
    const wait = args.values.wait === undefined ? 0 : Number(args.values.wait);
    if (!Number.isFinite(wait) || wait < 0) throw new UsageError('--wait must be a number of seconds');
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const admin = loadAdminIdentity((args.values.talosconfig as string | undefined) ?? talosconfigPath(settings.dataDir));
    // Several appliances on one PostgreSQL: this command must lead like a daemon does, and reads the shared nodes and bootstrap state.
    const store = openStore(settings);
    const conninfo = settings.scaleOut?.postgres;
    const shared = conninfo ? new PgCoordination({ conninfo, local: store }) : undefined;
    try {
      const step = new ClusterBootstrap({ store, connect: (ep) => TalosClient.configured(ep, admin), endpointOf: storeEndpoints(store), clusterState: shared });
      const until = Date.now() + wait * 1000;
      for (;;) {
        const out: BootstrapOutcome = shared && !(await shared.lead())
          ? { kind: 'waiting', reason: 'another appliance leads the Talos steps (scaleOut.postgres), and its daemon bootstraps' }
          : await step.step();
        if (out.kind === 'bootstrapped') {
          io.out(out.sent ? `etcd bootstrapped on ${out.node}` : `already bootstrapped${out.node ? ` (${out.node})` : ''}; Bootstrap not sent`);
          return EXIT_OK;
        }
        if (Date.now() >= until) {
          io.err(`rackboot bootstrap: not bootstrapped: ${out.reason}`);
          return EXIT_FAILURE;
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    } finally {
      await shared?.close();
      store.close();
    }
  },
};
