// The shared lease table's bind statements against a real PostgreSQL 15:
// bindAll makes a whole group in one statement, taking over rows nobody
// holds any more exactly as one bind at a time does, and writes nothing
// when a bind in the group cannot be made that way.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migratePg } from '../../../src/store/pg/migrations.js';
import { PgError, PsqlSession } from '../../../src/store/pg/psql-session.js';
import { bindAll } from '../../../src/store/pg/shared-leases.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

let pg: PgRig;
let n = 0;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());
const open: PsqlSession[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const HOUR = 3_600_000;
const now = Date.now();

/** A fresh database with a lapsed bound row, a lapsed quarantine, a live lease and a MAC about to move. */
async function table(): Promise<PsqlSession> {
  const s = new PsqlSession(pg.createDatabase(`leases_${++n}`));
  open.push(s);
  await migratePg(s);
  await s.exec(`INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES
    ('aa:00:00:00:00:01', '10.0.0.5', 'bound', $1, 0), ('declined:10.0.0.6', '10.0.0.6', 'declined', $1, 0),
    ('aa:00:00:00:00:02', '10.0.0.7', 'bound', $2, 0), ('aa:00:00:00:00:03', '10.0.0.8', 'bound', $2, 0)`, [now - 1, now + HOUR]);
  return s;
}

const rows = (s: PsqlSession) => s.rows<{ mac: string; ip: string; state: string }>('SELECT mac, ip, state FROM leases ORDER BY ip');
const sqlstate = (p: Promise<unknown>) => p.then(() => 'none', (e: unknown) => (e instanceof PgError ? e.sqlstate : String(e)));

describe('shared lease binds', () => {
  it('bindAll takes over lapsed rows of other MACs and moves a MAC, in one statement', async () => {
    const s = await table();
    await bindAll(s, [
      { mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', expiresAt: now + HOUR },
      { mac: 'bb:00:00:00:00:02', ip: '10.0.0.6', expiresAt: now + HOUR, hostname: 'n2' },
      { mac: 'aa:00:00:00:00:03', ip: '10.0.0.9', expiresAt: now + HOUR },
    ], now);
    expect(await rows(s)).toEqual([
      { mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', state: 'bound' },
      { mac: 'bb:00:00:00:00:02', ip: '10.0.0.6', state: 'bound' },
      { mac: 'aa:00:00:00:00:02', ip: '10.0.0.7', state: 'bound' },
      { mac: 'aa:00:00:00:00:03', ip: '10.0.0.9', state: 'bound' },
    ]);
  });

  it('a host name with a NUL in it binds, stored without it (PostgreSQL text cannot hold one)', async () => {
    const s = await table();
    await bindAll(s, [{ mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', expiresAt: now + HOUR, hostname: 'no\0de1' }, { mac: 'bb:00:00:00:00:02', ip: '10.0.0.9', expiresAt: now + HOUR }], now);
    await bindAll(s, [{ mac: 'bb:00:00:00:00:03', ip: '10.0.0.6', expiresAt: now + HOUR, hostname: 'n\0\0ode3' }], now);
    expect(await s.rows('SELECT mac, hostname FROM leases WHERE mac LIKE $1 ORDER BY mac', ['bb:%'])).toEqual([
      { mac: 'bb:00:00:00:00:01', hostname: 'node1' }, { mac: 'bb:00:00:00:00:02', hostname: null }, { mac: 'bb:00:00:00:00:03', hostname: 'node3' },
    ]);
  });

  it('bindAll writes nothing when an address is still held (23505) or a MAC is bound twice (21000); a group of one makes the bind it can', async () => {
    const s = await table();
    const before = await rows(s);
    expect(await sqlstate(bindAll(s, [{ mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', expiresAt: now + HOUR }, { mac: 'bb:00:00:00:00:02', ip: '10.0.0.7', expiresAt: now + HOUR }], now))).toBe('23505');
    expect(await sqlstate(bindAll(s, [{ mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', expiresAt: now + HOUR }, { mac: 'bb:00:00:00:00:01', ip: '10.0.0.9', expiresAt: now + HOUR }], now))).toBe('21000');
    expect(await rows(s)).toEqual(before);
    await bindAll(s, [{ mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', expiresAt: now + HOUR }], now);
    expect(await sqlstate(bindAll(s, [{ mac: 'bb:00:00:00:00:02', ip: '10.0.0.7', expiresAt: now + HOUR }], now))).toBe('23505');
    expect((await rows(s))[0]).toEqual({ mac: 'bb:00:00:00:00:01', ip: '10.0.0.5', state: 'bound' });
  });
});
