#!/usr/bin/env node
// rackboot's command line. Exit codes: 0 ok, 1 failure, 2 bad usage.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMON_OPTIONS, COMMON_USAGE, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseCommandArgs, UsageError, type Command, type Io } from './cli/command.js';
import { serve } from './cli/serve.js';
import { inventoryCheck } from './cli/inventory-check.js';
import { nodes } from './cli/nodes.js';
import { doctor } from './cli/doctor.js';
import { bootstrap } from './cli/bootstrap.js';
import { kubeconfig } from './cli/kubeconfig.js';
import { reimage } from './cli/reimage.js';
import { discovered } from './cli/discovered.js';
import { init } from './cli/init.js';
import { config } from './cli/config.js';
import { talosconfig } from './cli/talosconfig.js';
import { schematic } from './cli/schematic.js';
import { assetsFetch, assetsImport } from './cli/assets.js';
import { labCommands } from './cli/lab.js';
import { bmcCommands } from './cli/bmc.js';
import { upgrade } from './cli/upgrade.js'; // day2-rollout
import { remove } from './cli/remove.js'; // day2-rollout
import { imagesCommands } from './cli/images.js';
// day2-config
import { apply, plan } from './cli/day2.js';
import { BUSY_TIMEOUT_MS } from './store/store.js';
import { storeMigrate } from './cli/store-migrate.js'; // pg-ops

export const commands: Command[] = [
  serve, inventoryCheck, nodes, doctor,
  init, config, talosconfig, schematic, assetsFetch, assetsImport,
  bootstrap, kubeconfig, reimage, discovered,
  ...labCommands,
  ...bmcCommands,
  upgrade, remove, // day2-rollout
  ...imagesCommands,
  // day2-config
  plan, apply,
  storeMigrate, // pg-ops
];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length));
  return [
    'rackboot: bare-metal provisioning for Talos Linux clusters',
    '',
    'Usage: rackboot [common options] COMMAND [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    COMMON_USAGE,
    '',
    'Run rackboot COMMAND --help for a command\'s own options.',
  ].join('\n');
}

/** Finds the command whose name is the longest prefix of argv. */
function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  const matches = commands.filter((c) => c.name.every((w, i) => argv[i] === w)).sort((a, b) => b.name.length - a.name.length);
  const cmd = matches[0];
  return cmd ? { cmd, rest: argv.slice(cmd.name.length) } : undefined;
}

/**
 * `rackboot --config F inventory check`: the common options may come before
 * the command too. They are moved behind it, where each command parses them.
 */
export function hoistGlobalOptions(argv: string[]): string[] {
  const hoisted: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const m = /^--([a-z-]+)(=.*)?$/.exec(argv[i]!);
    const name = m?.[1];
    if (!m || name === 'help' || !name || !(name in COMMON_OPTIONS)) break;
    if (m[2] !== undefined) hoisted.push(argv[i]!);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      hoisted.push(argv[i]!, argv[++i]!);
    }
  }
  return [...argv.slice(i), ...hoisted];
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    argv = hoistGlobalOptions(argv);
  } catch (err) {
    io.err(`rackboot: ${(err as Error).message}`);
    return EXIT_USAGE;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.err : io.out)(topHelp());
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = commands.filter((c) => c.name[0] === argv[0] && c.name.length > 1);
    io.err(group.length > 0
      ? `rackboot ${argv[0]}: expected one of: ${group.map((c) => c.name.slice(1).join(' ')).join(', ')}`
      : `rackboot: unknown command ${JSON.stringify(argv[0])}; run rackboot --help`);
    return EXIT_USAGE;
  }
  const { cmd, rest } = found;
  try {
    const args = parseCommandArgs(cmd, rest);
    if (args.values.help) {
      io.out(`Usage: ${cmd.usage}\n\n${COMMON_USAGE}`);
      return EXIT_OK;
    }
    return await cmd.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`rackboot ${cmd.name.join(' ')}: ${err.message}`);
      io.err(`Usage: ${cmd.usage.split('\n')[0]}`);
      return EXIT_USAGE;
    }
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      // The transaction that waited out BUSY_TIMEOUT_MS changed nothing.
      io.err(`rackboot ${cmd.name.join(' ')}: the store stayed locked by another writer (a running daemon?) for ${BUSY_TIMEOUT_MS / 1000} s, so the write that waited was not made; try again`);
      return EXIT_FAILURE;
    }
    io.err(`rackboot ${cmd.name.join(' ')}: ${(err as Error).message}`);
    return EXIT_FAILURE;
  }
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  // `rackboot nodes | head` closes the pipe early: that is the reader's choice, not a failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? EXIT_OK);
  });
  const io: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`rackboot: ${(err as Error).stack ?? err}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
