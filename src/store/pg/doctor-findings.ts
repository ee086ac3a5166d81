// What `rackboot doctor` says about the shared PostgreSQL (scaleOut.postgres):
// whether it answers, whether its schema is the one this version expects,
// which instance leads the Talos steps and how recently it showed it is alive,
// and how far this box's clock is from the server's (claim expiries compare
// times written by different appliances). It reads only: no migration, no lock.
import { APPLIANCE_HEARTBEAT_MS, APPLIANCE_LIVE_MS, NO_ADMIN_TOKEN, shortDigest, type ApplianceRow } from './appliances.js';
import { LEADER_LEASE_MS, TALOS_LEADER_LOCK } from './coordination.js';
import { PG_MIGRATIONS } from './migrations.js';
import { lit, PsqlSession } from './psql-session.js';
import { redactConninfo } from '../../settings/conninfo.js';

export interface DbFinding { level: 'ok' | 'warn' | 'fail'; check: string; detail: string; fix?: string }

/** Beyond this a claim's expiry, written by one appliance and read by another, is off by a noticeable part of its 60 s. */
export const SKEW_WARN_MS = 1000;
export const SKEW_FAIL_MS = 10_000;

export interface PostgresCheckOptions {
  /** This box's clock (tests skew it). */
  now?: () => number;
  /** The schema version this rackboot expects; default the number of its PostgreSQL migrations. */
  expectedVersion?: number;
  leaseMs?: number;
}

export async function postgresFindings(conninfo: string, opts: PostgresCheckOptions = {}): Promise<DbFinding[]> {
  const now = opts.now ?? Date.now;
  const expected = opts.expectedVersion ?? PG_MIGRATIONS.length;
  const where = redactConninfo(conninfo);
  const s = new PsqlSession(conninfo);
  const out: DbFinding[] = [];
  try {
    let server: { version: string; at: number } | undefined;
    const sent = now();
    try {
      [server] = await s.rows<{ version: string; at: number }>(
        "SELECT current_setting('server_version') AS version, (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS at");
      if (!server) throw new Error('no answer');
    } catch (err) {
      return [{ level: 'fail', check: 'shared database', detail: `${where}: ${(err as Error).message}`, fix: 'check store (or its older name scaleOut.postgres) in rackboot.yaml and that the server is up and lets this host in (pg_hba.conf)' }];
    }
    const back = now();
    out.push({ level: 'ok', check: 'shared database', detail: `${where}: PostgreSQL ${server.version}` });

    const skew = Math.round(server.at - (sent + back) / 2);
    const skewText = `this box is ${Math.abs(skew)} ms ${skew > 0 ? 'behind' : 'ahead of'} the database server (round trip ${back - sent} ms)`;
    out.push(Math.abs(skew) <= SKEW_WARN_MS
      ? { level: 'ok', check: 'clock skew', detail: skewText }
      : { level: Math.abs(skew) > SKEW_FAIL_MS ? 'fail' : 'warn', check: 'clock skew', detail: skewText, fix: 'synchronise clocks (systemd-timesyncd or chrony) on every appliance and on the database server' });

    const [table] = await s.rows<{ there: boolean }>("SELECT to_regclass('rackboot_schema') IS NOT NULL AS there");
    const [schema] = table?.there ? await s.rows<{ version: number | null }>('SELECT max(version) AS version FROM rackboot_schema') : [];
    const version = schema?.version ?? 0;
    if (version === expected) out.push({ level: 'ok', check: 'database schema', detail: `version ${version}` });
    else if (version < expected) out.push({ level: 'warn', check: 'database schema', detail: `version ${version}, this rackboot expects ${expected}`, fix: 'the first rackboot serve of this version to connect migrates it (or: rackboot store migrate)' });
    else out.push({ level: 'fail', check: 'database schema', detail: `version ${version} is newer than this rackboot knows (${expected})`, fix: 'upgrade rackboot on this appliance to the version the others run' });

    out.push(await leaderFinding(s, opts.leaseMs ?? LEADER_LEASE_MS));
    const [registry] = await s.rows<{ there: boolean }>("SELECT to_regclass('appliances') IS NOT NULL AS there");
    if (registry?.there) out.push(...(await applianceFindings(s, now())));
  } finally {
    await s.close();
  }
  return out;
}

async function leaderFinding(s: PsqlSession, leaseMs: number): Promise<DbFinding> {
  const check = 'Talos leader';
  const rows = await s.rows<{ pid: number; name: string | null; client: string | null; quiet_ms: number | null }>(`
    SELECT l.pid, a.application_name AS name, a.client_addr::text AS client,
      (extract(epoch FROM clock_timestamp() - a.state_change) * 1000)::bigint AS quiet_ms
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = ${lit(TALOS_LEADER_LOCK)}::oid AND l.objsubid = 1 AND l.granted`);
  const leader = rows[0];
  if (!leader) return { level: 'warn', check, detail: 'no appliance leads the Talos steps: nothing pushes configs, bootstraps or resets', fix: 'start rackboot serve (with a talosconfig) on at least one appliance' };
  const who = `${leader.name || 'unnamed session'} (backend pid ${leader.pid}${leader.client ? ` from ${leader.client}` : ''})`;
  const quiet = leader.quiet_ms ?? 0;
  if (quiet > leaseMs) return { level: 'warn', check, detail: `${who}, silent for ${Math.round(quiet / 1000)} s (lease ${leaseMs / 1000} s): it looks hung`, fix: 'the server ends its session once idle_session_timeout passes; if it does not, look at that appliance' };
  return { level: 'ok', check, detail: `${who}, last confirmed ${(quiet / 1000).toFixed(1)} s ago` };
}

/** Names grouped by what they were given, for a finding's detail: "A, B: x; C: y". */
function groups(rows: ApplianceRow[], key: (r: ApplianceRow) => string): string {
  const by = new Map<string, string[]>();
  for (const r of rows) by.set(key(r), [...(by.get(key(r)) ?? []), r.name]);
  return [...by].map(([k, names]) => `${names.join(', ')}: ${k}`).join('; ');
}

/** pg-ops: every live appliance must be given the same adminToken (or none) and the same inventory file (appliances.ts). */
async function applianceFindings(s: PsqlSession, now: number): Promise<DbFinding[]> {
  const live = await s.rows<ApplianceRow>('SELECT * FROM appliances WHERE seen_at > $1 ORDER BY name', [now - APPLIANCE_LIVE_MS]);
  if (live.length === 0) return [{ level: 'ok', check: 'appliances', detail: 'no appliance is serving on this database right now' }];
  const out: DbFinding[] = [{ level: 'ok', check: 'appliances', detail: `${live.length} serving: ${live.map((r) => r.name).join(', ')}` }];
  const tokens = new Map<string, number>();
  for (const r of live) if (!tokens.has(r.admin_token_fp ?? NO_ADMIN_TOKEN)) tokens.set(r.admin_token_fp ?? NO_ADMIN_TOKEN, tokens.size + 1);
  out.push(tokens.size <= 1
    ? { level: 'ok', check: 'adminToken', detail: 'every serving appliance was given the same one' }
    : {
      level: 'fail', check: 'adminToken',
      // Numbered, never the fingerprint: which appliances agree is all an operator needs.
      detail: `appliances were given different adminToken settings (${groups(live, (r) => (r.admin_token_fp ?? NO_ADMIN_TOKEN) === NO_ADMIN_TOKEN ? 'none' : `token #${tokens.get(r.admin_token_fp!)}`)}); the token is shared, so the last to start replaced it on every appliance's page`,
      fix: 'set the same adminToken in every appliance\'s rackboot.yaml (or none on all) and restart the ones that differ',
    });
  const files = live.filter((r) => r.inventory_digest !== null);
  const digests = new Set(files.map((r) => r.inventory_digest));
  out.push(digests.size <= 1
    ? { level: 'ok', check: 'inventory files', detail: files.length === 0 ? 'none loaded yet' : `the same on every serving appliance (${files[0]!.inventory_nodes} nodes, digest ${shortDigest(files[0]!.inventory_digest)})` }
    : {
      level: 'fail', check: 'inventory files',
      detail: `serving appliances have different inventory files (${groups(files, (r) => `${r.inventory_nodes} nodes, digest ${shortDigest(r.inventory_digest)}${r.inventory_applied ? '' : ' (refused)'}`)}); the nodes are shared, so a reload of one file is refused while another appliance has a different one`,
      fix: `copy one inventory file to every appliance (each reloads when its file changes; one refused before loads by itself within ${APPLIANCE_HEARTBEAT_MS / 1000} s once all agree)`,
    });
  return out;
}
