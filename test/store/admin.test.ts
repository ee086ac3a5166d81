import { randomBytes, scryptSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminRepository, hashToken, isLegacyTokenHash, verifyToken } from '../../src/store/admin.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { Store } from '../../src/store/store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { tempDirs } from '../helpers/tmp.js';

describe('admin token hashes', () => {
  it('a keyed hash: its own random key, the right token matches, a wrong one costs microseconds', () => {
    const token = randomBytes(24).toString('base64url');
    const a = hashToken(token);
    const b = hashToken(token);
    expect(a).toMatch(/^hmac-sha256\$[0-9a-f]{64}\$[0-9a-f]{64}$/);
    expect(a).not.toBe(b); // a fresh key each time: equal tokens do not look equal in two stores
    expect(a).not.toContain(token);
    expect(verifyToken(token, a)).toBe(true);
    expect(verifyToken(token + 'x', a)).toBe(false);
    expect(verifyToken('', a)).toBe(false);
    expect(isLegacyTokenHash(a)).toBe(false);
    const t0 = performance.now();
    for (let i = 0; i < 2_000; i++) verifyToken(`wrong-${i}`, a);
    // 2000 scrypt checks took about 54 s; 2000 keyed hashes take a few milliseconds.
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('still reads a scrypt hash from before, and refuses what it does not know', () => {
    const salt = randomBytes(16);
    const legacy = `scrypt$${salt.toString('hex')}$${scryptSync('old-token-0123456789', salt, 32).toString('hex')}`;
    expect(isLegacyTokenHash(legacy)).toBe(true);
    expect(verifyToken('old-token-0123456789', legacy)).toBe(true);
    expect(verifyToken('old-token-012345678', legacy)).toBe(false);
    for (const bad of ['', 'plain', 'md5$00$00', 'hmac-sha256$zz$zz', 'hmac-sha256$00$']) expect(verifyToken('x', bad)).toBe(false);
  });
});

// The token and sessions on both stores: the appliance's SQLite, and (scaleOut.postgres) the shared PostgreSQL
// through SharedStore, where two appliances see one login.
const shared = sharedPostgres();

describe.each(['sqlite', 'postgres'] as const)('admin token and sessions (%s)', (kind) => {
  const open = (now?: () => number) => (kind === 'sqlite' ? shared.sqlite(now) : shared.store(now));

  it('a session opens with its CSRF token, ends on logout, and lapses at its expiry', () => {
    let t = 1_000_000;
    const repo = new AdminRepository(open(() => t), () => t);
    repo.setTokenHash(hashToken('first-token-0123456789'), 'settings');
    const s = repo.createSession(60_000);
    expect(repo.session(s.id)).toEqual({ csrf: s.csrf, createdAt: t, expiresAt: t + 60_000 });
    expect(repo.session(s.id + 'x')).toBeUndefined();
    const other = repo.createSession(60_000);
    repo.deleteSession(s.id);
    expect(repo.session(s.id)).toBeUndefined();
    t += 60_000;
    expect(repo.session(other.id)).toBeUndefined();
  });

  it('a new token ends every session; upgrading the same token\'s hash keeps them', () => {
    const repo = new AdminRepository(open());
    repo.setTokenHash(hashToken('first-token-0123456789'), 'settings');
    const s = repo.createSession(60_000);
    const upgraded = hashToken('first-token-0123456789');
    repo.upgradeTokenHash(upgraded);
    expect(repo.tokenHash()).toEqual({ hash: upgraded, source: 'settings' });
    expect(repo.session(s.id)).toBeDefined();
    repo.setTokenHash(hashToken('second-token-0123456789'), 'generated');
    expect(repo.tokenHash()!.source).toBe('generated');
    expect(repo.session(s.id)).toBeUndefined();
  });
});

describe('admin sessions across two appliances on one PostgreSQL store', () => {
  it('logged in on one appliance is logged in on the other; a logout or a new token on one ends it on both', () => {
    const [a, b] = shared.twoAppliances();
    const onA = new AdminRepository(a);
    const onB = new AdminRepository(b);
    onA.setTokenHash(hashToken('site-token-0123456789'), 'settings');
    expect(verifyToken('site-token-0123456789', onB.tokenHash()!.hash)).toBe(true);
    const s = onA.createSession(60_000);
    expect(onB.session(s.id)).toEqual(onA.session(s.id));
    onB.deleteSession(s.id);
    expect(onA.session(s.id)).toBeUndefined();
    const again = onB.createSession(60_000);
    expect(onA.session(again.id)!.csrf).toBe(again.csrf);
    onA.setTokenHash(hashToken('rotated-token-0123456789'), 'settings');
    expect(onB.session(again.id)).toBeUndefined();
  });
});

/** Stores for the tests above, closed after each: SQLite in memory; SharedStores on one throwaway PostgreSQL 15, a database per test. */
function sharedPostgres() {
  const tmp = tempDirs('rb-admin-');
  let pg: PgRig | undefined;
  let n = 0;
  const opened: Store[] = [];
  beforeAll(() => { pg = startPostgres(); });
  afterAll(() => pg?.stop());
  afterEach(() => { for (const s of opened.splice(0)) s.close(); });
  const keep = <S extends Store>(s: S): S => (opened.push(s), s);
  return {
    sqlite: (now?: () => number) => keep(new Store(':memory:', { now })),
    store: (now?: () => number) => keep(new SharedStore(join(tmp(), 'rackboot.db'), pg!.createDatabase(`admin_${++n}`), { now })),
    twoAppliances(): [SharedStore, SharedStore] {
      const conninfo = pg!.createDatabase(`admin_${++n}`);
      return [keep(new SharedStore(join(tmp(), 'a.db'), conninfo)), keep(new SharedStore(join(tmp(), 'b.db'), conninfo))];
    },
  };
}
