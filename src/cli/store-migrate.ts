// `rackboot store migrate`: moves an existing appliance's shared state into
// PostgreSQL, the first step to running several appliances on one store.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CopyRefused, copySqliteToPg } from '../store/pg/copy-from-sqlite.js';
import { redactConninfo } from '../settings/conninfo.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command } from './command.js';

export const storeMigrate: Command = {
  name: ['store', 'migrate'],
  summary: 'copy an appliance\'s shared state from its SQLite store into PostgreSQL',
  usage: `rackboot store migrate --from sqlite://PATH --to postgres://USER@HOST/DB [--force]

Copies the tables the appliances share through PostgreSQL (docs/scale-out.md:
the cluster state, i.e. the bootstrap claim, intent and outcome and the
reimage Reset records; DHCP and DHCPv6 leases; the nodes with their states, marks and
failure reasons; their events, with the same ids; discovered machines) from
the SQLite store at PATH (e.g. sqlite:///var/lib/rackboot/rackboot.db) into
the database, creating its schema first, in one transaction: every row or
none. Keys that describe one appliance (its Talos service state) stay behind.
Refuses a database that already holds rows unless --force (which empties
those tables, events included, in the same transaction), and a database an
appliance is leading on (stop rackboot serve everywhere first). Prints the
rows copied per table. Then set "store: <the same URI>" in rackboot.yaml.`,
  options: { from: { type: 'string' }, to: { type: 'string' }, force: { type: 'boolean' } },
  async run(args, io) {
    const from = args.values.from as string | undefined;
    const to = args.values.to as string | undefined;
    if (!from?.startsWith('sqlite://')) throw new UsageError('--from must be sqlite://PATH');
    if (!to || !/^postgres(ql)?:\/\//.test(to)) throw new UsageError('--to must be a postgres:// (or postgresql://) URI');
    const path = resolve(from.slice('sqlite://'.length));
    if (!existsSync(path)) {
      io.err(`rackboot store migrate: no SQLite store at ${path}`);
      return EXIT_FAILURE;
    }
    try {
      const r = await copySqliteToPg(path, to, { force: args.values.force === true });
      for (const [table, n] of Object.entries(r.copied)) {
        io.out(`${table}: ${n} rows copied${r.replaced[table] ? ` (${r.replaced[table]} replaced)` : ''}`);
      }
      io.out(`copied ${path} to ${redactConninfo(to)}; set "store: <this URI>" in every appliance's rackboot.yaml`);
      return EXIT_OK;
    } catch (err) {
      io.err(`rackboot store migrate: ${err instanceof CopyRefused ? '' : `${redactConninfo(to)}: `}${(err as Error).message}`);
      return EXIT_FAILURE;
    }
  },
};
