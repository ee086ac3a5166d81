// Two appliances on one PostgreSQL store: each PgStore is its own process
// (as each appliance is), both move the same node from the same state at
// the same moment. This test holds the node's row lock while both are sent
// off, checks that both are waiting on it, then lets go: exactly one move
// is written, the other is refused as stale, and no move is lost or doubled.
// And what one appliance writes, the other reads.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStore } from '../../../src/store/pg/pg-store.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { REPO } from '../../helpers/cli.js';
import { inventoryOf, node } from '../../dhcp/context.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

/** An appliance process: opens the store, says "ready", and on "go" moves `a` from registered to `to`; prints what happened. */
function appliance(conninfo: string, to: string): { ready: Promise<void>; go(): void; result: Promise<string> } {
  const script = `
    const { PgStore } = await import(${JSON.stringify(join(REPO, 'dist/store/pg/pg-store.js'))});
    const store = new PgStore(${JSON.stringify(conninfo)});
    console.log('ready');
    process.stdin.once('data', () => {
      try {
        const n = store.setState('a', ${JSON.stringify(to)}, 'race', { from: 'registered' });
        console.log('won ' + n.state);
      } catch (err) {
        console.log('refused ' + err.name);
      }
      store.close();
      process.exit(0);
    });`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<string>((resolve) => {
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) onReady();
    });
    p.on('exit', () => resolve(out.replace('ready\n', '').trim()));
  });
  return { ready, go: () => p.stdin.write('go\n'), result };
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('two appliances on one PostgreSQL store', () => {
  it('racing the same state change: exactly one wins, the other is refused, nothing is lost', async () => {
    const conninfo = pg.createDatabase('race');
    const mine = new PgStore(conninfo);
    mine.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
    const holder = new PsqlSession(conninfo);
    try {
      const one = appliance(conninfo, 'booting');
      const two = appliance(conninfo, 'failed');
      await Promise.all([one.ready, two.ready]);
      await holder.exec('BEGIN');
      await holder.rows("SELECT * FROM nodes WHERE name = 'a' FOR UPDATE");
      one.go();
      two.go();
      // Both are inside their transaction, blocked on the row: a real race, not one after the other.
      const waiting = () => holder.rows<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'race'");
      expect(await until(async () => (await waiting())[0]!.n === 2, 30_000)).toBe(true);
      await holder.exec('COMMIT');
      const results = (await Promise.all([one.result, two.result])).sort();
      const won = results.filter((r) => r.startsWith('won '));
      expect(won, results.join(', ')).toHaveLength(1);
      expect(results.filter((r) => r === 'refused StaleStateError')).toHaveLength(1);
      const winner = won[0]!.slice(4);
      expect(mine.getNode('a')!.state).toBe(winner);
      const moves = mine.events({ node: 'a' }).filter((e) => e.kind === 'state');
      expect(moves.map((e) => e.data)).toEqual([{ from: 'registered', to: winner, reason: 'race' }]);
    } finally {
      await holder.close();
      mine.close();
    }
  }, 120_000);

  it('a second appliance sees the node the first moved, its events and what it discovered', () => {
    const conninfo = pg.createDatabase('shared');
    const first = new PgStore(conninfo);
    const second = new PgStore(conninfo);
    try {
      first.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), node('b', '52:54:00:00:00:02')]));
      expect(second.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), node('b', '52:54:00:00:00:02')]))).toEqual({ added: [], updated: [], removed: [] });
      first.setState('b', 'booting', 'served the iPXE script');
      expect(second.nodeByMac('52:54:00:00:00:02')!.state).toBe('booting');
      expect(second.nodesInStates(['booting']).map((n) => n.name)).toEqual(['b']);
      expect(second.events({ node: 'b' }).at(-1)!.message).toBe('registered → booting: served the iPXE script');
      second.setState('b', 'installing', 'config pushed', { from: 'booting' });
      expect(first.getNode('b')!.state).toBe('installing');
      expect(first.recordDiscovered({ mac: '52:54:00:99:00:01', source: 'dhcp' })).toBe(true);
      expect(second.recordDiscovered({ mac: '52:54:00:99:00:01', source: 'tftp' })).toBe(false);
      expect(first.listDiscovered().map((d) => [d.mac, d.seenCount, d.source])).toEqual([['52:54:00:99:00:01', 2, 'tftp']]);
    } finally {
      first.close();
      second.close();
    }
  });
});
