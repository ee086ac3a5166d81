// `rackboot remove NODE [--force]`: takes a node out of the cluster for good (src/day2/remove.ts).
import { removeNode, RemoveError } from '../day2/remove.js';
import { TalosClient, talosAnswers } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command } from './command.js';
import { openStoreForCli } from './open-store.js';

export const remove: Command = {
  name: ['remove'],
  summary: 'take a node out of the cluster for good (etcd, reset, forget)',
  usage: `rackboot remove NODE [--force] [--talosconfig FILE] [--wait SECONDS]

Delete NODE from the inventory first: that alone never wipes it. Then this
checks that etcd keeps a healthy majority without NODE; for a control plane
NODE hands over etcd leadership and leaves etcd; NODE is reset (graceful,
wiping STATE and EPHEMERAL, reboot), rackboot waits until it answers in
maintenance mode (--wait, default 600 s) and forgets it. Run it again to
continue after an interruption.
--force is for a dead node: its etcd member is removed by ID through a
healthy control plane, nothing is sent to NODE, and rackboot forgets it.`,
  options: { force: { type: 'boolean' }, talosconfig: { type: 'string' }, wait: { type: 'string' } },
  async run(args, io) {
    const [name, ...extra] = args.positionals;
    if (!name || extra.length) throw new UsageError('expected exactly one NODE');
    const wait = args.values.wait === undefined ? 600 : Number(args.values.wait);
    if (!Number.isFinite(wait) || wait < 0) throw new UsageError('--wait must be a number of seconds');
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const store = openStoreForCli(settings, io);
    if (!store) return EXIT_FAILURE;
    try {
      const admin = loadAdminIdentity((args.values.talosconfig as string | undefined) ?? talosconfigPath(settings.dataDir));
      const endpoints = storeEndpoints(store);
      const steps = await removeNode({
        store, connect: (ep) => TalosClient.configured(ep, admin, { policy: { timeoutMs: 60_000 } }),
        endpointOf: (n) => { const r = store.getNode(n); return r ? endpoints(r) : undefined; },
        inMaintenance: (ep) => talosAnswers(() => TalosClient.maintenance(ep, { policy: { timeoutMs: 3000, retries: 0 } }), (c) => c.disks()),
        maintenanceTimeoutMs: wait * 1000, pollMs: 2000,
      }, name, { force: args.values.force === true });
      for (const s of steps) io.out(s);
      return EXIT_OK;
    } catch (err) {
      io.err(`rackboot remove: ${err instanceof RemoveError ? err.message : (err as Error).message}`);
      return EXIT_FAILURE;
    } finally {
      store.close();
    }
  },
};
