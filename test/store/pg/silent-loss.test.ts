// A path to PostgreSQL that dies without a FIN (issue 21, branch pg-dhcp):
// an appliance-side client in one namespace holds a session advisory lock on
// a PostgreSQL 15 in another, across a veth; an nftables rule then drops
// everything on the database's side, silently. The server ends the lock
// holder's session (freeing the lock) and the client notices its session is
// gone, each within the bound src/store/pg/silent-loss.ts documents (about
// 11 s for the server, poll + 10 s for the client) instead of TCP's 15
// minutes. The client is `dist`'s PsqlSession in a child process there.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkNamespaces, missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { buildCli, REPO, tempDir, cleanupDir } from '../../dhcp/netns/harness.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';

const why = missingPrerequisites(['/usr/sbin/nft', '/usr/lib/postgresql/15/bin/initdb']);
const x = uniqueSuffix();
const NS = { db: `rbsd${x}`, app: `rbsa${x}` };
const IF = { db: `rbsd${x}`, app: `rbsa${x}` };
const DB_ADDR = '10.79.0.1';
const LOCK_KEY = 424242;
/** Generous against the documented ~11 s (server) and poll + 10 s (client): a loaded CI box; TCP alone would take ~15 min. */
const NOTICE_BOUND_MS = 40_000;

let db: Netns | undefined;
let app: Netns | undefined;
let pg: PgRig | undefined;
let dir: string | undefined;

const CLIENT = (session: string) => `
import { PsqlSession } from ${JSON.stringify(session)};
const s = new PsqlSession('host=${DB_ADDR} port=5432 user=rackboot dbname=postgres connect_timeout=10');
const [r] = await s.rows('SELECT pg_try_advisory_lock(${LOCK_KEY}) AS got, pg_backend_pid() AS pid');
console.log(JSON.stringify({ ev: 'locked', got: r.got, pid: r.pid }));
// Like every lock holder, it keeps sending something (the DHCP segment's poll).
const poll = setInterval(() => {
  s.rows('SELECT 1').then(() => {
    if (!s.alive) lost('session ended');
  }, (e) => lost(e.message));
}, 500);
function lost(why) {
  clearInterval(poll);
  console.log(JSON.stringify({ ev: 'lost', at: Date.now(), why }));
  process.exit(0);
}
`;

describe.skipIf(why)('a silently lost path to PostgreSQL', () => {
  beforeAll(() => {
    db = Netns.create(NS.db);
    app = Netns.create(NS.app);
    linkNamespaces(db, IF.db, app, IF.app, { aCidr: `${DB_ADDR}/30`, bCidr: '10.79.0.2/30' });
    pg = startPostgres({ netns: NS.db, address: DB_ADDR, trust: '10.79.0.2/32' });
  });
  afterAll(async () => {
    await app?.destroy();
    pg?.stop();
    await db?.destroy();
    if (dir) cleanupDir(dir);
  });

  it('the server ends the lock holder\'s session, and the client notices, within the bound', async () => {
    buildCli(); // dist and the addon are built
    dir = tempDir();
    const script = join(dir, 'client.mjs');
    writeFileSync(script, CLIENT(join(REPO, 'dist/store/pg/psql-session.js')));
    const child = app!.spawn(process.execPath, [script]);
    const events: Array<Record<string, unknown>> = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const until = async (cond: () => boolean, ms: number, what: string) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`${what} (client stderr: ${err})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return Date.now();
    };
    await until(() => events.some((e) => e.ev === 'locked'), 20_000, 'the client never took the lock');
    const locked = events.find((e) => e.ev === 'locked')!;
    expect(locked.got).toBe(true);

    const admin = new PsqlSession(pg!.conninfo()); // over the unix socket, which the drop does not touch
    try {
      const holders = async () => (await admin.rows<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${LOCK_KEY} AND granted`)).map((r) => r.pid);
      expect(await holders()).toEqual([locked.pid]);
      await new Promise((r) => setTimeout(r, 1_000)); // the poll's traffic flows: the path was fine
      expect(events.some((e) => e.ev === 'lost')).toBe(false);

      db!.exec('nft', ['-f', '-'], { input: `table inet rbloss {
  chain in { type filter hook input priority 0; policy accept; iifname "${IF.db}" drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "${IF.db}" drop; }
}
` });
      const droppedAt = Date.now();
      let serverAt = 0;
      while (serverAt === 0) {
        if (Date.now() - droppedAt > NOTICE_BOUND_MS) throw new Error('the server still holds the lost client\'s lock');
        if ((await holders()).length === 0) serverAt = Date.now();
        else await new Promise((r) => setTimeout(r, 200));
      }
      expect((await admin.rows(`SELECT pid FROM pg_stat_activity WHERE pid = ${Number(locked.pid)}`))).toEqual([]);
      const clientAt = await until(() => events.some((e) => e.ev === 'lost'), NOTICE_BOUND_MS - (Date.now() - droppedAt), 'the client never noticed');
      const lost = events.find((e) => e.ev === 'lost')!;
      console.log(`server freed the lock ${serverAt - droppedAt} ms after the drop; the client noticed ${Number(lost.at) - droppedAt} ms after it (${String(lost.why)})`);
      expect(Number(lost.at) - droppedAt).toBeLessThan(NOTICE_BOUND_MS);
      expect(clientAt).toBeGreaterThan(droppedAt);
    } finally {
      await admin.close();
    }
  }, 120_000);
});
