// A leader that hangs while its database connection stays up loses the lock
// within its lease: the leader runs in its own process (real PostgreSQL 15),
// is stopped with SIGSTOP, and the standby here must lead within the bound
// docs/scale-out.md gives (lease + one keepalive + the standby's next pass).
// After SIGCONT the old leader finds its session gone and stands by.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PgCoordination } from '../../../src/store/pg/coordination.js';
import { Store } from '../../../src/store/store.js';
import { REPO } from '../../helpers/cli.js';
import { usePgAndTempDir } from '../../helpers/postgres.js';

const LEASE_MS = 2000;
const KEEPALIVE_MS = 500;
const PASS_MS = 100;

const rig = usePgAndTempDir('rackboot-hung-');

/** A leader in its own process: asks to lead every PASS_MS and prints each change ("leading"/"standby"). */
function leaderProcess(conninfo: string): ChildProcessWithoutNullStreams & { lines: string[] } {
  const script = `
    const { PgCoordination } = await import(${JSON.stringify(join(REPO, 'dist/store/pg/coordination.js'))});
    const { Store } = await import(${JSON.stringify(join(REPO, 'dist/store/store.js'))});
    const c = new PgCoordination({ conninfo: ${JSON.stringify(conninfo)}, local: new Store(${JSON.stringify(join(rig.dir, 'hung.db'))}),
      leaseMs: ${LEASE_MS}, keepaliveMs: ${KEEPALIVE_MS}, instanceName: 'hung-leader' });
    let last;
    for (;;) {
      const now = (await c.lead()) ? 'leading' : 'standby';
      if (now !== last) console.log(now);
      last = now;
      await new Promise((r) => setTimeout(r, ${PASS_MS}));
    }`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  p.stdout.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  return Object.assign(p, { lines });
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, step = PASS_MS): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return false;
}

describe('a hung-but-connected leader', () => {
  it('loses the lock within its lease when its process is stopped, and stands by when it resumes', async () => {
    const conninfo = rig.pg.createDatabase('hung');
    const leader = leaderProcess(conninfo);
    const local = new Store(join(rig.dir, 'standby.db'));
    const standby = new PgCoordination({ conninfo, local, leaseMs: LEASE_MS, keepaliveMs: KEEPALIVE_MS });
    try {
      expect(await until(() => leader.lines.includes('leading'), 15_000)).toBe(true);
      // Healthy: well past the lease, the leader keeps the lock by its keepalive.
      expect(await until(() => standby.lead(), 2 * LEASE_MS)).toBe(false);

      leader.kill('SIGSTOP');
      const stoppedAt = Date.now();
      expect(await until(() => standby.lead(), 4 * LEASE_MS)).toBe(true);
      const takeover = Date.now() - stoppedAt;
      // The bound: the last keepalive at most KEEPALIVE_MS before the stop, the lease, one standby pass (+ slack for a busy box).
      expect(takeover).toBeLessThan(KEEPALIVE_MS + LEASE_MS + PASS_MS + 1500);
      expect(takeover).toBeGreaterThan(LEASE_MS - KEEPALIVE_MS - 200);

      leader.kill('SIGCONT');
      expect(await until(() => leader.lines.at(-1) === 'standby', 10_000)).toBe(true);
      expect(await standby.lead()).toBe(true);
      expect(standby.stats()).toMatchObject({ leading: true, changes: 1 });
    } finally {
      leader.kill('SIGKILL');
      await standby.close();
      local.close();
    }
  }, 60_000);

  it('between passes the keepalive holds the lock past the lease; without it the server ends the session after the lease', async () => {
    const conninfo = rig.pg.createDatabase('keepalive');
    const stores = [0, 1, 2].map((i) => new Store(join(rig.dir, `k${i}.db`)));
    const kept = new PgCoordination({ conninfo, local: stores[0]!, leaseMs: 600, keepaliveMs: 150 });
    const other = new PgCoordination({ conninfo, local: stores[1]!, leaseMs: 600 });
    try {
      expect(await kept.lead()).toBe(true);
      await new Promise((r) => setTimeout(r, 1500)); // no pass: only the keepalive talks
      expect(await other.lead()).toBe(false);
      expect(kept.stats().confirmedAgoMs).toBeLessThan(600);
      await kept.close();
      expect(await until(() => other.lead(), 5000)).toBe(true);
      // The new leader with its keepalive a minute away: after the lease the server ends its session.
      const silent = new PgCoordination({ conninfo, local: stores[2]!, leaseMs: 600, keepaliveMs: 60_000 });
      try {
        await other.close();
        expect(await until(() => silent.lead(), 5000)).toBe(true);
        await new Promise((r) => setTimeout(r, 1200));
        // The server ended its session after the lease; the pg client reports that at once, so the
        // next pass sees leadership lost and takes the (free) lock again on a fresh session.
        expect(await silent.lead()).toBe(true);
        expect(silent.stats().changes).toBe(3);
      } finally {
        await silent.close();
      }
    } finally {
      await kept.close();
      await other.close();
      for (const s of stores) s.close();
    }
  }, 30_000);
});
