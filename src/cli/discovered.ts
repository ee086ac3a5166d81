import { discoveredView, inventorySnippet } from '../lifecycle/discovery.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';
import { printable, printableJson, printTable } from './printable.js';
import { openStoreForCli } from './open-store.js';

const FLAG_WORDS = { 'all-zero': 'ALL-ZERO UUID', duplicate: 'DUPLICATE UUID' } as const;

export const discovered: Command = {
  name: ['discovered'],
  summary: 'list machines that asked to boot but are not in the inventory',
  usage: `rackboot discovered [--json]

Lists unknown MACs seen by DHCP, TFTP or HTTP with what they told us, and
prints inventory entries ready to paste under nodes: (rackboot never edits
the inventory file). A UUID that is all zeros or shared with another
machine is flagged and left out of the snippet: it cannot identify one.
With discovery.commission, a machine whose hardware was read shows it, and
its entry names the cabled NIC and an install-disk selector.`,
  options: { json: { type: 'boolean' } },
  async run(args, io) {
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const store = openStoreForCli(settings, io);
    if (!store) return EXIT_FAILURE;
    try {
      const list = discoveredView(store);
      if (args.values.json) {
        io.out(printableJson(list));
        return EXIT_OK;
      }
      if (list.length === 0) {
        io.out('No unknown machines have asked to boot.');
        return EXIT_OK;
      }
      const rows = [['MAC', 'UUID', 'ARCH', 'VENDOR CLASS', 'RELAY', 'FIRST SEEN', 'LAST SEEN', 'SEEN']];
      for (const d of list) {
        const uuid = d.uuid ? (d.uuidFlag ? `${d.uuid} (${FLAG_WORDS[d.uuidFlag]})` : d.uuid) : '-';
        rows.push([d.mac, uuid, d.archName ?? '-', d.vendorClass ?? '-', d.relay ?? '-', iso(d.firstSeen), iso(d.lastSeen), String(d.seenCount)]);
      }
      printTable(rows, io.out);
      for (const d of list.filter((x) => x.commission)) {
        const c = d.commission!;
        io.out('');
        if (c.state === 'booting') io.out(printable(`${d.mac}: commissioning, not read yet${c.lastError ? ` (${c.lastError})` : ''}`));
        else {
          io.out(printable(`${d.mac}: ${c.summary}`));
          io.out(printable(`  install disk: ${c.installDisk ?? 'none found'}; cabled NIC ${c.cabledMac}; in maintenance mode until adopted`));
        }
      }
      io.out('');
      io.out('# Paste under nodes: in the inventory (choose names and roles):');
      for (const line of inventorySnippet(list).trimEnd().split('\n')) io.out(printable(line));
      return EXIT_OK;
    } finally {
      store.close();
    }
  },
};

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
