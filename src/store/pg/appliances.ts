// What each appliance on one shared database was given, so that two given
// different things are seen rather than fighting (issue 21, operations):
// - its adminToken, as a keyed fingerprint: the token row is shared, so the
//   last appliance to start with another token replaces it on every page;
// - its inventory file, as a digest: the nodes are shared, so a reload of
//   file X on A and of file Y on B would each replace the other's nodes.
// A row per appliance, refreshed by a heartbeat; an appliance is live while
// its row is fresher than APPLIANCE_LIVE_MS. Reached on a session of its own
// (async), never on the store's synchronous bridge, so the loop never waits.
import { createHmac } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../../log.js';
import { PsqlSession } from './psql-session.js';

export const APPLIANCE_HEARTBEAT_MS = 10_000;
/** Three missed heartbeats: a stopped appliance no longer counts after this. */
export const APPLIANCE_LIVE_MS = 30_000;

/** The fingerprint recorded for "no adminToken given" (a generated one is shared through the token row). */
export const NO_ADMIN_TOKEN = 'none';

export interface ApplianceRow {
  name: string;
  admin_token_fp: string | null;
  inventory_digest: string | null;
  inventory_nodes: number | null;
  inventory_applied: number;
  inventory_at: number | null;
  seen_at: number;
}

/**
 * A fingerprint of an adminToken that can be compared across appliances. It
 * is an HMAC under a fixed key, so it is as hard to reverse as the token is
 * to guess (the token row beside it, hash and key, is no harder).
 */
export function adminTokenFingerprint(token: string | undefined): string {
  return token ? createHmac('sha256', 'rackboot appliances: adminToken fingerprint').update(token).digest('hex') : NO_ADMIN_TOKEN;
}

/** Stable across restarts (a restart is the same appliance), distinct for two daemons on one host (their data dirs differ). */
export function applianceName(dataDir: string): string {
  return `${hostname()}:${dataDir}`;
}

export const shortDigest = (d: string | null) => (d ? d.slice(0, 12) : '(none)');

export function describeOther(r: ApplianceRow, now: number): string {
  return `${r.name} (${r.inventory_nodes ?? '?'} nodes, digest ${shortDigest(r.inventory_digest)}${r.inventory_applied ? '' : ', refused there'}, seen ${Math.round((now - r.seen_at) / 1000)} s ago)`;
}

const LIVE_OTHERS = 'SELECT * FROM appliances WHERE name <> $1 AND seen_at > $2 ORDER BY name';

export class ApplianceRegistry {
  private session: PsqlSession | undefined;
  private beat: NodeJS.Timeout | undefined;
  /** The digest of this appliance's file when its last load was refused for another appliance's file. */
  private refused: string | undefined;
  private reloadWhenAgreed: (() => void) | undefined;

  constructor(
    private readonly conninfo: string,
    readonly name: string,
    private readonly now: () => number = Date.now,
  ) {}

  private db(): PsqlSession {
    if (!this.session?.alive) this.session = new PsqlSession(this.conninfo);
    return this.session;
  }

  private liveOthers(): Promise<ApplianceRow[]> {
    const now = this.now();
    return this.db().rows<ApplianceRow>(LIVE_OTHERS, [this.name, now - APPLIANCE_LIVE_MS]);
  }

  /**
   * Records this appliance's adminToken fingerprint and starts its
   * heartbeat. Returns the live appliances given another token (or none
   * where this one has one): the caller says so loudly.
   */
  async announce(adminToken: string | undefined): Promise<ApplianceRow[]> {
    const fp = adminTokenFingerprint(adminToken);
    await this.db().exec(`INSERT INTO appliances (name, admin_token_fp, seen_at) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO UPDATE SET admin_token_fp=excluded.admin_token_fp, seen_at=excluded.seen_at`, [this.name, fp, this.now()]);
    this.beat ??= setInterval(() => {
      this.db().exec('UPDATE appliances SET seen_at=$2 WHERE name=$1', [this.name, this.now()])
        .then(() => this.retryRefused()).catch(() => undefined);
    }, APPLIANCE_HEARTBEAT_MS);
    this.beat.unref();
    return (await this.liveOthers()).filter((r) => r.admin_token_fp !== fp);
  }

  /**
   * Records that this appliance's file has `digest`, then refuses (returns
   * why) when a live appliance's file is different: the nodes are shared, so
   * loading it would replace that appliance's. The attempt is recorded even
   * when refused, so once every file is the same, a reload anywhere loads.
   */
  async claimInventory(digest: string, nodes: number): Promise<string | undefined> {
    await this.db().exec(`INSERT INTO appliances (name, inventory_digest, inventory_nodes, inventory_applied, inventory_at, seen_at) VALUES ($1, $2, $3, 0, $4, $4)
      ON CONFLICT (name) DO UPDATE SET inventory_digest=excluded.inventory_digest, inventory_nodes=excluded.inventory_nodes,
        inventory_applied=CASE WHEN appliances.inventory_digest = excluded.inventory_digest THEN appliances.inventory_applied ELSE 0 END,
        inventory_at=excluded.inventory_at, seen_at=excluded.seen_at`, [this.name, digest, nodes, this.now()]);
    const differ = await this.othersWithout(digest);
    this.refused = differ.length > 0 ? digest : undefined;
    if (differ.length === 0) return undefined;
    const now = this.now();
    return `refused: another appliance on this database has a different inventory file: ${differ.map((r) => describeOther(r, now)).join('; ')}. `
      + `The appliances share their nodes, so each would replace the other's. Make the file the same on every appliance (each one refused loads it by itself within ${APPLIANCE_HEARTBEAT_MS / 1000} s once they all agree) or stop the other one; `
      + `this file's digest is ${shortDigest(digest)}`;
  }

  private async othersWithout(digest: string): Promise<ApplianceRow[]> {
    return (await this.liveOthers()).filter((r) => r.inventory_digest !== null && r.inventory_digest !== digest);
  }

  /**
   * `reload` runs (from the heartbeat) once the file this appliance was
   * refused is every live appliance's: the operator copied one file to each
   * appliance in turn, and the ones refused before the last copy load it
   * without a second reload by hand.
   */
  whenFilesAgree(reload: () => void): void {
    this.reloadWhenAgreed = reload;
  }

  /** The heartbeat's check: true when the refused file now agrees and `reload` was started. */
  async retryRefused(): Promise<boolean> {
    const digest = this.refused;
    if (!digest || !this.reloadWhenAgreed) return false;
    if ((await this.othersWithout(digest)).length > 0 || this.refused !== digest) return false;
    this.refused = undefined;
    this.reloadWhenAgreed();
    return true;
  }

  async inventoryApplied(digest: string): Promise<void> {
    await this.db().exec('UPDATE appliances SET inventory_applied=1, seen_at=$3 WHERE name=$1 AND inventory_digest=$2', [this.name, digest, this.now()]);
  }

  async close(): Promise<void> {
    if (this.beat) clearInterval(this.beat);
    this.beat = undefined;
    await this.session?.close().catch(() => undefined);
    this.session = undefined;
  }
}

/**
 * The daemon's start on a shared database: records what this appliance was
 * given and says loudly when another live one was given another adminToken.
 * It starts anyway: refusing would make a rolling token change (restart the
 * appliances one by one with the new token) impossible without stopping PXE
 * everywhere; `rackboot doctor` fails until they agree.
 */
export async function joinAppliances(conninfo: string, dataDir: string, adminToken: string | undefined, log: Logger): Promise<ApplianceRegistry> {
  const registry = new ApplianceRegistry(conninfo, applianceName(dataDir));
  const others = await registry.announce(adminToken);
  if (others.length > 0) {
    log.error({ appliance: registry.name, others: others.map((r) => r.name) },
      'another live appliance on this database was given a different adminToken (or none): the token is shared, so this start replaced it on every appliance and ended their sessions; give every appliance the same adminToken (rackboot doctor checks)');
  }
  return registry;
}
