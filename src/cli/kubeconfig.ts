// `rackboot kubeconfig`: prints the cluster's kubeconfig, which the daemon
// fetches into DATA_DIR/kubeconfig (0600) once the cluster is healthy.
import { existsSync, readFileSync } from 'node:fs';
import { BOOTSTRAP_NODE_KEY, bootstrapNode, bootstrapState } from '../talos/bootstrap.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { kubeconfigFetchReason, kubeconfigPath, writeSecretFile } from '../talos/health.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';
import { openStore } from './open-store.js';

export const kubeconfig: Command = {
  name: ['kubeconfig'],
  summary: 'print the cluster kubeconfig',
  usage: `rackboot kubeconfig [--fetch] [--talosconfig FILE]

Prints DATA_DIR/kubeconfig. The daemon writes it once the cluster is
healthy. --fetch asks the bootstrap control plane for a fresh copy over
mTLS first (needs a bootstrapped cluster) and stores it with mode 0600.
With a shared store each appliance keeps its own copy, written by its
daemon while it leads the Talos steps (or by --fetch); one fetched before
an etcd loss any appliance recorded is refused as stale.`,
  options: { fetch: { type: 'boolean' }, talosconfig: { type: 'string' } },
  async run(args, io) {
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const file = kubeconfigPath(settings.dataDir);
    if (args.values.fetch) {
      const admin = loadAdminIdentity((args.values.talosconfig as string | undefined) ?? talosconfigPath(settings.dataDir));
      // With scaleOut.postgres: the bootstrap state and node the leading appliance recorded, and the shared nodes.
      const store = openStore(settings);
      try {
        const node = bootstrapNode(store, store.readers.clusterState(BOOTSTRAP_NODE_KEY));
        if (bootstrapState(store) !== 'bootstrapped' || !node) {
          io.err('rackboot kubeconfig: the cluster is not bootstrapped yet');
          return EXIT_FAILURE;
        }
        const ep = storeEndpoints(store)(node);
        if (!ep) {
          io.err(`rackboot kubeconfig: no address known for ${node.name}`);
          return EXIT_FAILURE;
        }
        const client = TalosClient.configured(ep, admin);
        try {
          writeSecretFile(file, await client.kubeconfig());
        } finally {
          client.close();
        }
      } finally {
        store.close();
      }
    }
    const shared = settings.scaleOut?.postgres !== undefined;
    if (!existsSync(file)) {
      const whose = shared ? 'this appliance\'s daemon writes it while it leads the Talos steps' : 'the daemon writes it once the cluster is healthy';
      io.err(`rackboot kubeconfig: ${file} does not exist yet; ${whose} (or use --fetch)`);
      return EXIT_FAILURE;
    }
    // branch pg-local: another appliance may have recorded an etcd loss since this copy was fetched (the cluster it names is gone).
    if (shared && !args.values.fetch) {
      const store = openStore(settings);
      try {
        if (kubeconfigFetchReason(store, file) === 'stale') {
          io.err(`rackboot kubeconfig: ${file} was fetched before the etcd loss an appliance recorded; use --fetch for the current cluster's`);
          return EXIT_FAILURE;
        }
      } finally {
        store.close();
      }
    }
    io.out(readFileSync(file, 'utf8').replace(/\n$/, ''));
    return EXIT_OK;
  },
};
