import { resolve } from 'node:path';
import { formatInventoryError, loadInventoryFile } from '../inventory/load.js';
import type { Settings } from '../settings/settings.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';

export const inventoryCheck: Command = {
  name: ['inventory', 'check'],
  summary: 'validate an inventory file',
  usage: `rackboot inventory check [FILE]

Validates FILE (default: the inventory from the settings) as \`serve\` would:
its shape, the rules across nodes (unique names, MACs, IPs and UUIDs, one
bootstrap control plane) and every node's rendered machine config (each
patch applied). Prints FILE:LINE:COL: message for every problem, in line
order, and exits 1 if there are any.`,
  async run(args, io) {
    let file = args.positionals[0];
    let settings: Settings | undefined;
    if (file === undefined) {
      settings = settingsFor(args, io);
      if (!settings) return EXIT_FAILURE;
      file = settings.inventory;
    }
    const result = loadInventoryFile(resolve(file), settings);
    if (!result.ok) {
      for (const e of result.errors) io.err(formatInventoryError({ ...e, file }));
      io.err(`${result.errors.length} problem${result.errors.length === 1 ? '' : 's'} in ${file}`);
      return EXIT_FAILURE;
    }
    const inv = result.inventory;
    const cps = inv.nodes.filter((n) => n.role === 'controlplane').length;
    io.out(`${file}: ok — cluster ${inv.cluster.name}, ${inv.nodes.length} nodes (${cps} control plane, ${inv.nodes.length - cps} worker), Talos ${inv.cluster.talosVersion}`);
    return EXIT_OK;
  },
};
