// Which inventory node lists a MAC among its extra `macs` (a second NIC that
// may PXE-boot). Asking SQLite for that parsed every node's spec for every
// MAC the nodes table did not know by its indexed provisioning MAC: every
// packet from an unknown machine, and every packet from a second NIC. With
// 5,000 nodes that was 1.6 ms on the event loop per lookup (issue 19).
// Here the answer comes from a map read once per inventory version.
import type Database from 'better-sqlite3';

type Stmt = (sql: string) => Database.Statement;

export class ExtraMacOwners {
  /** The map and the inventory version it was read at. */
  private read: { owners: Map<string, string>; generation: number; dataVersion: number } | undefined;
  /** Bumped when this connection changes the inventory; other connections' commits show in data_version. */
  private generation = 0;

  constructor(private readonly stmt: Stmt) {}

  /** This connection wrote the nodes table's specs or inventory flags (inventory-sync.ts is the only writer). */
  inventoryChanged(): void {
    this.generation++;
  }

  /** The name of the inventory node whose `macs` lists `mac`, the first by row order if several do. */
  ownerOf(mac: string): string | undefined {
    // PRAGMA data_version changes when another connection (a second appliance process, the CLI) commits.
    const dataVersion = this.stmt('PRAGMA data_version').pluck().get() as number;
    let read = this.read;
    if (!read || read.generation !== this.generation || read.dataVersion !== dataVersion) {
      const owners = new Map<string, string>();
      const rows = this.stmt("SELECT j.value AS mac, n.name AS name FROM nodes n, json_each(n.spec_json, '$.macs') j WHERE n.in_inventory = 1 ORDER BY n.rowid")
        .all() as Array<{ mac: unknown; name: string }>;
      for (const r of rows) if (typeof r.mac === 'string' && !owners.has(r.mac)) owners.set(r.mac, r.name);
      read = this.read = { owners, generation: this.generation, dataVersion };
    }
    return read.owners.get(mac);
  }
}
