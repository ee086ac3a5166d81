// `rackboot bmc password NODE` and `rackboot power NODE|--all ACTION`.
import { loadInventoryFile } from '../inventory/load.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { parseBmcAddress } from '../bmc/address.js';
import { passwordPath, writePassword } from '../bmc/credentials.js';
import { IPMI_PASSWORD_MAX } from '../bmc/ipmi.js';
import { operateMany, operateNode, POWER_REQUESTS, type PowerRequest } from '../bmc/operate.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command, type Io, type ParsedArgs } from './command.js';
import { openStoreForCli } from './open-store.js';
import type { Settings } from '../settings/settings.js';

/** BMCs asked at once by `power --all`; each call has its own timeout. */
const PARALLEL = 8;

export const bmcPassword: Command = {
  name: ['bmc', 'password'],
  summary: 'store a node\'s BMC password (read from the terminal or stdin) in a 0600 file',
  usage: `rackboot bmc password NODE

Reads the password for NODE's BMC from the terminal (not echoed) or, when
stdin is not a terminal, from its first line, and writes it to
DATA_DIR/bmc/NODE.password (or the node's bmc.passwordFile) with mode 0600.
The inventory never holds BMC passwords.`,
  async run(args, io) {
    const [name, ...extra] = args.positionals;
    if (!name || extra.length > 0) throw new UsageError('expected exactly one NODE');
    const ctx = load(args, io);
    if (!ctx) return EXIT_FAILURE;
    const node = findNode(ctx.inventory, name);
    if (!node.bmc) {
      io.err(`rackboot bmc password: ${name} has no bmc in the inventory; add bmc: {address, username} first`);
      return EXIT_FAILURE;
    }
    const password = await readSecret(`BMC password for ${name} (${node.bmc.username} at ${node.bmc.address}): `);
    if (parseBmcAddress(node.bmc.address).protocol === 'ipmi' && Buffer.byteLength(password) > IPMI_PASSWORD_MAX) {
      io.err(`rackboot bmc password: IPMI 2.0 passwords are at most ${IPMI_PASSWORD_MAX} bytes; nothing stored`);
      return EXIT_FAILURE;
    }
    const file = passwordPath(ctx.settings.dataDir, name, node.bmc.passwordFile);
    writePassword(file, password);
    io.out(`${name}: BMC password stored in ${file} (mode 0600)`);
    return EXIT_OK;
  },
};

export const power: Command = {
  name: ['power'],
  summary: 'power a node through its BMC, read its power state, or set its next boot to PXE',
  usage: `rackboot power NODE|--all on|off|soft|cycle|status|pxe-once [--pxe] [--timeout-seconds N] [--settle-seconds N]

on, off (hard), soft (ACPI shutdown request), cycle (off then on; on when
off), status, or pxe-once (next boot only from the network, in the node's
bmc.bootMode). --pxe sets PXE-once before an on or cycle. --all acts on every
inventory node that has a bmc, ${PARALLEL} BMCs at a time. Every action and
pxe-once is recorded in the node's events. After on or off the power state
is read until it shows (up to --settle-seconds, default 30): a BMC that
accepts a command and ignores it is a failure. Exit 1 if any node failed.`,
  options: { all: { type: 'boolean' }, pxe: { type: 'boolean' }, 'timeout-seconds': { type: 'string' }, 'settle-seconds': { type: 'string' } },
  async run(args, io) {
    const all = args.values.all === true;
    const pos = args.positionals;
    if (pos.length !== (all ? 1 : 2)) throw new UsageError('expected NODE ACTION, or --all ACTION');
    const name = all ? undefined : pos[0];
    const request = pos[all ? 0 : 1] as PowerRequest;
    if (!request || !POWER_REQUESTS.includes(request)) throw new UsageError(`ACTION must be one of ${POWER_REQUESTS.join(', ')}`);
    if (args.values.pxe && request !== 'on' && request !== 'cycle') throw new UsageError('--pxe goes only with on or cycle');
    const timeoutText = args.values['timeout-seconds'] as string | undefined;
    const timeoutMs = timeoutText === undefined ? undefined : Number(timeoutText) * 1000;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('--timeout-seconds must be a positive number');
    const settleText = args.values['settle-seconds'] as string | undefined;
    const settleMs = settleText === undefined ? undefined : Number(settleText) * 1000;
    if (settleMs !== undefined && !(settleMs >= 0)) throw new UsageError('--settle-seconds must be a number >= 0');
    const ctx = load(args, io);
    if (!ctx) return EXIT_FAILURE;
    const nodes = all ? ctx.inventory.nodes.filter((n) => n.bmc) : [findNode(ctx.inventory, name!)];
    if (nodes.length === 0) {
      io.err('rackboot power: no node in the inventory has a bmc');
      return EXIT_FAILURE;
    }
    const store = request === 'status' ? undefined : openStoreForCli(ctx.settings, io);
    if (request !== 'status' && !store) return EXIT_FAILURE;
    try {
      const opts = { dataDir: ctx.settings.dataDir, actor: 'cli', pxeFirst: args.values.pxe === true, timeoutMs, settleMs, pollMs: 250 };
      const outcomes = await operateMany(nodes, PARALLEL, (n) => operateNode(store, n, request, opts));
      for (const o of outcomes) {
        if (o.ok) io.out(`${o.node}: ${request === 'status' ? o.state : o.message}`);
        else io.err(`${o.node}: ${o.message}`);
      }
      return outcomes.every((o) => o.ok) ? EXIT_OK : EXIT_FAILURE;
    } finally {
      store?.close();
    }
  },
};

export const bmcCommands: Command[] = [bmcPassword, power];

function load(args: ParsedArgs, io: Io): { settings: Settings; inventory: Inventory } | undefined {
  const settings = settingsFor(args, io);
  if (!settings) return undefined;
  const inv = loadInventoryFile(settings.inventory);
  if (!inv.ok) {
    io.err(`rackboot: the inventory ${settings.inventory} is invalid; run rackboot inventory check`);
    return undefined;
  }
  return { settings, inventory: inv.inventory };
}

function findNode(inventory: Inventory, name: string): NodeSpec {
  const node = inventory.nodes.find((n) => n.name === name);
  if (!node) throw new UsageError(`no such node in the inventory: ${name}`);
  return node;
}

/** One line from the terminal without echo, or the first line of a piped stdin. */
async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) {
      text += String(chunk);
      if (text.includes('\n')) break;
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  // Echo goes off before the prompt shows, so nothing typed after seeing it is echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done(() => resolve(text));
          if (ch === '\u0003' || ch === '\u0004') return done(() => reject(new Error('cancelled; nothing stored')));
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else text += ch;
        }
      };
      const done = (f: () => void) => {
        stdin.off('data', onData);
        process.stderr.write('\n');
        f();
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}
