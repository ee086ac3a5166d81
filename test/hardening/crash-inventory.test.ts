// kill -9 `rackboot serve` (the built CLI) while it applies inventory edits:
// the inventory flips between a small and a large version as fast as the
// watcher reloads, and after each kill the store holds exactly one of the
// two, never a mix. On both backends: the SQLite file, and with
// `store: postgres://…` the shared database (the server rolls back the
// killed appliance's transaction; its staged slices were only in its
// session's TEMP table).
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { cleanupDir, REPO, tempDir, waitFor, writeConfig } from '../dhcp/netns/harness.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { BACKENDS } from '../store/backends.js';

const mac = (v: number, i: number) => `52:54:0${v}:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
// Disjoint names and MACs, and a shared node whose entry differs: a half-applied edit shows in all three.
const VERSIONS: Array<{ nodes: Array<{ name: string; mac: string; ip?: string }> }> = [
  { nodes: [{ name: 'shared', mac: mac(1, 999), ip: '10.77.0.9' }, ...Array.from({ length: 4 }, (_, i) => ({ name: `small-${i}`, mac: mac(1, i) }))] },
  { nodes: [{ name: 'shared', mac: mac(1, 999), ip: '10.77.0.8' }, ...Array.from({ length: 400 }, (_, i) => ({ name: `large-${i}`, mac: mac(2, i) }))] },
];
const inventoryText = (v: number) => JSON.stringify({
  cluster: { name: 'rbh', controlPlaneEndpoint: 'https://10.77.0.10:6443', talosVersion: 'v1.11.5' },
  nodes: VERSIONS[v]!.nodes.map((n, i) => ({ ...n, role: i === 0 ? 'controlplane' : 'worker', installDisk: '/dev/sda' })),
}, null, 1);

const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const dir of dirs) cleanupDir(dir);
});

/** Which version a live node set is, or a description of the mix. */
function versionOf(live: Array<{ name: string; ip: string | null }>): number | string {
  const key = live.map((n) => `${n.name}=${n.ip ?? ''}`).sort().join(',');
  for (const [v, version] of VERSIONS.entries()) {
    if (key === version.nodes.map((n) => `${n.name}=${n.ip ?? ''}`).sort().join(',')) return v;
  }
  return `${live.length} live nodes: ${key.slice(0, 200)}`;
}

const LIVE = 'SELECT name, ip FROM nodes WHERE in_inventory=1 ORDER BY name';

function sqliteVersion(dataDir: string): number | string {
  const db = new Database(join(dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return versionOf(db.prepare(LIVE).all() as Array<{ name: string; ip: string | null }>);
  } finally {
    db.close();
  }
}

async function pgVersion(conninfo: string): Promise<number | string> {
  const s = new PsqlSession(conninfo);
  try {
    return versionOf(await s.rows<{ name: string; ip: string | null }>(LIVE));
  } finally {
    await s.close();
  }
}

describe.each(BACKENDS)('kill -9 during inventory reloads on %s', (kind) => {
  let pg: PgRig | undefined;
  if (kind === 'postgres') {
    beforeAll(() => { pg = startPostgres(); });
    afterAll(() => pg?.stop());
  }

  it('the store holds the old or the new inventory after every kill, never half', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const conninfo = pg?.createDatabase('crash_inventory');
    // No console receiver: its fixed port would be shared with other daemons tests run beside this one.
    const config = writeConfig(dir, {
      dhcp: { mode: 'off' }, tftp: { enabled: false }, console: { enabled: false }, http: { listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', publicUrl: 'http://127.0.0.1:1' },
      ...(conninfo ? { store: conninfo } : {}),
    }, []);
    const inventory = join(dir, 'cluster.yaml');
    writeFileSync(inventory, inventoryText(0));
    const dataDir = join(dir, 'data');
    const seen: Array<number | string> = [];
    let applied = 0;
    for (let round = 0; round < 5; round++) {
      const p = spawn(process.execPath, [join(REPO, 'dist/cli.js'), 'serve', '--config', config, '--no-tftp'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('rackboot serving'), 20_000, () => `serve did not start: ${out.slice(-500)}`);
      // Editor-style saves, flipping versions just slower than the watcher's 150 ms debounce, so each one is applied.
      let v = 0;
      const editor = setInterval(() => {
        v = 1 - v;
        writeFileSync(`${inventory}.tmp`, inventoryText(v));
        renameSync(`${inventory}.tmp`, inventory);
      }, 190);
      // Kill after this round's own applies (counted, not timed: a loaded machine applies fewer per second),
      // at a different phase of the save/apply cycle each round.
      const loadedLines = () => out.split('\n').filter((l) => l.includes('inventory loaded')).length;
      await waitFor(() => loadedLines() >= 4, 60_000, () => `no reloads applied: ${out.slice(-500)}`);
      await new Promise((r) => setTimeout(r, round * 337));
      p.kill('SIGKILL');
      clearInterval(editor);
      await new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
      applied += loadedLines();
      const s = conninfo ? await pgVersion(conninfo) : sqliteVersion(dataDir);
      seen.push(s);
      expect(typeof s, `round ${round}: ${s}`).toBe('number');
    }
    console.log(`${kind}: versions found after the kills: ${seen.join(', ')}; reloads applied before the kills: ${applied}`);
    // The kills landed among many applies, not before the first one.
    expect(applied).toBeGreaterThan(10);
  }, 300_000);
});
