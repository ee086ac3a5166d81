// `rackboot bmc password NODE` and `rackboot power NODE|--all ACTION`.
import { loadInventoryFile } from '../inventory/load.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { parseBmcAddress } from '../bmc/address.js';
import { passwordPath, writePassword } from '../bmc/credentials.js';
import { IPMI_PASSWORD_MAX } from '../bmc/ipmi.js';
import { operateMany, operateNode, POWER_REQUESTS, type PowerRequest } from '../bmc/operate.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command, type Io, type ParsedArgs } from './command.js';
import { openStoreForCli } from './open-store.js';
import { cliActor } from './actor.js';
import { powerOnInWaves } from '../bmc/power-service.js';
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
       rackboot power on --registered

on, off (hard), soft (ACPI shutdown request), cycle (off then on; on when
off), status, or pxe-once (next boot only from the network, in the node's
bmc.bootMode). --pxe sets PXE-once before an on or cycle. --all acts on every
inventory node that has a bmc, ${PARALLEL} BMCs at a time. Every action and
pxe-once is recorded in the node's events. After on or off the power state
is read until it shows (up to --settle-seconds, default 30): a BMC that
accepts a command and ignores it is a failure. Exit 1 if any node failed.

on --registered powers on, PXE first, every node the store still has as
registered (never seen on the network), power.waveSize at a time with
power.waveIntervalSeconds between waves, so a rack does not draw its inrush
current at once. A registered node without a bmc is named, to power by hand.`,
  options: { all: { type: 'boolean' }, registered: { type: 'boolean' }, pxe: { type: 'boolean' }, 'timeout-seconds': { type: 'string' }, 'settle-seconds': { type: 'string' } },
  async run(args, io) {
    if (args.values.registered === true) return powerOnRegistered(args, io);
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
      const opts = { dataDir: ctx.settings.dataDir, actor: cliActor(), pxeFirst: args.values.pxe === true, timeoutMs, settleMs, pollMs: 250 };
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

/** `rackboot power on --registered`: PXE-once + on for every node still registered, in waves. */
async function powerOnRegistered(args: ParsedArgs, io: Io): Promise<number> {
  if (args.values.all === true || args.positionals.join(' ') !== 'on') throw new UsageError('--registered goes only with on, and no NODE or --all');
  const ctx = load(args, io);
  if (!ctx) return EXIT_FAILURE;
  const store = openStoreForCli(ctx.settings, io);
  if (!store) return EXIT_FAILURE;
  try {
    const registered = new Set(store.listNodes().filter((n) => n.state === 'registered').map((n) => n.name));
    const nodes = ctx.inventory.nodes.filter((n) => registered.has(n.name));
    const byHand = nodes.filter((n) => !n.bmc);
    for (const n of byHand) io.err(`${n.name}: registered, but no bmc in the inventory; power it on by hand`);
    const withBmc = nodes.filter((n) => n.bmc);
    if (nodes.length === 0) {
      io.out('no node is still registered; nothing to power on');
      return EXIT_OK;
    }
    const { waveSize, waveIntervalSeconds, bmcTimeoutSeconds } = ctx.settings.power;
    const opts = { dataDir: ctx.settings.dataDir, actor: cliActor(), pxeFirst: true, timeoutMs: bmcTimeoutSeconds * 1000, pollMs: 250 };
    const outcomes = await powerOnInWaves(withBmc, { waveSize, intervalMs: waveIntervalSeconds * 1000 }, (n) => operateNode(store, n, 'on', opts));
    for (const o of outcomes) {
      if (o.ok) io.out(`${o.node}: ${o.message}`);
      else io.err(`${o.node}: ${o.message}`);
    }
    return byHand.length === 0 && outcomes.every((o) => o.ok) ? EXIT_OK : EXIT_FAILURE;
  } finally {
    store.close();
  }
}

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
