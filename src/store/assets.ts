// The boot-asset cache's ledger: for each file under
// assets/<schematic>/<version>/, its size and sha256 when it was cached and
// where it came from (a factory URL or an import directory).
import type Database from 'better-sqlite3';

export interface AssetRecord {
  schematic: string;
  version: string;
  name: string;
  size: number;
  sha256: string;
  source: string;
  recordedAt: number;
}

export function recordAsset(db: Database.Database, a: Omit<AssetRecord, 'recordedAt'>, now = Date.now()): void {
  db.prepare(
    `INSERT INTO assets (schematic, version, name, size, sha256, source, recorded_at) VALUES (@schematic, @version, @name, @size, @sha256, @source, @now)
     ON CONFLICT(schematic, version, name) DO UPDATE SET size=excluded.size, sha256=excluded.sha256, source=excluded.source, recorded_at=excluded.recorded_at`,
  ).run({ ...a, now });
}

export function getAsset(db: Database.Database, schematic: string, version: string, name: string): AssetRecord | undefined {
  const r = db.prepare('SELECT * FROM assets WHERE schematic=? AND version=? AND name=?').get(schematic, version, name) as Record<string, unknown> | undefined;
  return r && toRecord(r);
}

export function listAssets(db: Database.Database): AssetRecord[] {
  return (db.prepare('SELECT * FROM assets ORDER BY schematic, version, name').all() as Record<string, unknown>[]).map(toRecord);
}

function toRecord(r: Record<string, unknown>): AssetRecord {
  return {
    schematic: r.schematic as string, version: r.version as string, name: r.name as string, size: r.size as number,
    sha256: r.sha256 as string, source: r.source as string, recordedAt: r.recorded_at as number,
  };
}
