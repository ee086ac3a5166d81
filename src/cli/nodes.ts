import { openStoreForCli } from './open-store.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command } from './command.js';
import { printableJson, printTable } from './printable.js';
import { printNodeHardware } from './nodes-hardware.js';

export const nodes: Command = {
  name: ['nodes'],
  summary: 'list nodes and their states',
  usage: `rackboot nodes [--json]
rackboot nodes NODE --hardware [--json]

Lists the nodes in the store with their state (with scaleOut.postgres, the
shared store's). Works whether or not the daemon is running. Before the daemon has ever run, the inventory is loaded
into the store first, so every node shows as registered.
With NODE --hardware: the disks, NICs and system facts last read from the
node while it ran Talos in maintenance mode, and when they were read.`,
  options: { json: { type: 'boolean' }, hardware: { type: 'boolean' } },
  async run(args, io) {
    const [nodeName, ...extra] = args.positionals;
    if (extra.length > 0 || (nodeName !== undefined) !== (args.values.hardware === true)) throw new UsageError('usage: rackboot nodes [--json] | rackboot nodes NODE --hardware [--json]');
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    // With scaleOut.postgres: the nodes as every appliance's daemon moved them.
    const store = openStoreForCli(settings, io);
    if (!store) return EXIT_FAILURE;
    try {
      if (nodeName !== undefined) return printNodeHardware(store, nodeName, args.values.json === true, io);
      const list = store.listNodes();
      if (args.values.json) {
        io.out(printableJson(list.map((n) => ({ name: n.name, mac: n.mac, role: n.role, state: n.state, ip: n.ip, uuid: n.uuid, lastSeen: n.lastSeen, stateReason: n.stateReason, markedForInstall: n.markedForInstall }))));
        return EXIT_OK;
      }
      const rows = [['NAME', 'ROLE', 'STATE', 'MAC', 'IP', 'LAST SEEN', 'REASON']];
      for (const n of list) {
        rows.push([n.name, n.role, n.state, n.mac, n.ip ?? '-', n.lastSeen ? new Date(n.lastSeen).toISOString() : 'never', n.stateReason || '-']);
      }
      printTable(rows, io.out);
      return EXIT_OK;
    } finally {
      store.close();
    }
  },
};
