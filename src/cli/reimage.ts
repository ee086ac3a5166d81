import { Reimager, ReimageError } from '../lifecycle/reimage.js';
import { StateMachine } from '../lifecycle/machine.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command } from './command.js';
import { openStoreForCli } from './open-store.js';
import { cliActor } from './actor.js';

export const reimage: Command = {
  name: ['reimage'],
  summary: 'mark a node for reimage (or cancel one)',
  usage: `rackboot reimage NODE [--reason TEXT] [--destroy-etcd] [--cancel]

Marks NODE reimage-pending: its next PXE boot installs Talos afresh, wiping
the install disk. Works with or without a running daemon (it writes the
store). A running daemon then asks the node's Talos API to Reset (wipe and
reboot); if that API does not answer, power-cycle the node by hand.
--cancel undoes a reimage that has not started (the node is still
reimage-pending): it goes back to its previous state.
--destroy-etcd confirms reimaging the cluster's last etcd member (no other
control plane is ready): that wipes etcd and every Kubernetes object, and
the cluster is bootstrapped again from the same secrets once NODE is back.
Without it such a reimage is refused.`,
  options: { reason: { type: 'string' }, cancel: { type: 'boolean' }, 'destroy-etcd': { type: 'boolean' } },
  async run(args, io) {
    const [name, ...extra] = args.positionals;
    if (!name || extra.length > 0) throw new UsageError('expected exactly one NODE');
    if (args.values.cancel && args.values.reason !== undefined) throw new UsageError('--reason does not go with --cancel');
    if (args.values.cancel && args.values['destroy-etcd']) throw new UsageError('--destroy-etcd does not go with --cancel');
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const store = openStoreForCli(settings, io);
    if (!store) return EXIT_FAILURE;
    try {
      const reimager = new Reimager(new StateMachine(store));
      if (args.values.cancel) {
        const n = reimager.cancel(name, cliActor());
        io.out(`${name}: reimage cancelled; back to ${n.state}`);
      } else {
        const destroyEtcd = args.values['destroy-etcd'] === true;
        const { etcdDestroyed } = reimager.mark(name, (args.values.reason as string | undefined) ?? 'operator request', cliActor(), { destroyEtcd });
        io.out(`${name}: reimage-pending. Its next PXE boot installs Talos afresh (wiping its install disk).`);
        if (etcdDestroyed) io.out(`etcd goes with it: once ${name} is installed again, the cluster is bootstrapped afresh from the same secrets.`);
        io.out('A running daemon asks its Talos API to reset it; if the node is hung, power-cycle it.');
      }
      return EXIT_OK;
    } catch (err) {
      if (err instanceof ReimageError) {
        io.err(`rackboot reimage: ${err.message}`);
        return EXIT_FAILURE;
      }
      throw err;
    } finally {
      store.close();
    }
  },
};
