// Which MACs the shared inventory's nodes answer to (provisioning MACs and
// their extra `macs`), held in memory, so that a packet from a machine no
// node lists costs the event loop no round trip on the synchronous session.
// Unknown machines are the flood case: every PXE client on a proxy segment
// that is not in the inventory, each retransmitting. Asking for such a MAC
// took two statements, 0.4-1.0 ms of the loop at p50 with 5,000 nodes, and
// 500 unknown requests in half a second held a known node's exchange up to
// 155-210 ms (issue 19, the bench's "while 500 unknown machines ask" row
// on PostgreSQL); answered from the set, 10-11 ms.
//
// PostgreSQL keeps the set current: every inventory apply, on any
// appliance or from the CLI, sends NOTIFY on INVENTORY_CHANNEL inside its
// transaction, which the server delivers at COMMIT; this session LISTENs.
// A notification drops the set at once (lookups ask the database again)
// and the set is read anew. Until the first read, while a read is pending,
// while this process applies an inventory itself (`hold`), and once the
// session is lost, `lists` answers "not known" and the store asks
// PostgreSQL as before, so the set can only ever say "no node" for a
// MAC that no committed inventory lists, except in the moment between
// another process's COMMIT and this process receiving the notification; a
// client whose packet falls in it is answered on its retransmission.
import type { Logger } from '../../log.js';
import { NODE_EXTRA_MACS } from './migrations.js';
import { PsqlSession } from './psql-session.js';

/** The channel an inventory apply notifies (pg-inventory-sync.ts, copy-from-sqlite.ts). */
export const INVENTORY_CHANNEL = 'rackboot_inventory';

/** How often a lost listening session is opened again. */
export const RELISTEN_MS = 5_000;

const INVENTORY_MACS = `SELECT mac AS m FROM nodes WHERE in_inventory = 1
  UNION SELECT jsonb_array_elements_text(${NODE_EXTRA_MACS}) FROM nodes WHERE in_inventory = 1 AND jsonb_typeof(${NODE_EXTRA_MACS}) = 'array'`;

export class InventoryMacs {
  private session: PsqlSession | undefined;
  private macs: Set<string> | undefined;
  /** Bumped by every notification: a read that started before one is stale. */
  private generation = 0;
  private reading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private listenFailed = false;
  private holds = 0;

  constructor(private readonly conninfo: string, private readonly log?: Logger) {}

  /** Opens the listening session and reads the set; resolves once the first read is done (or failed). */
  start(): Promise<void> {
    this.timer = setInterval(() => {
      if (!this.session?.alive) void this.listen();
    }, RELISTEN_MS);
    this.timer.unref();
    return this.listen();
  }

  /** true: an inventory node lists `mac`; false: none does; undefined: not known now (ask the database). */
  lists(mac: string): boolean | undefined {
    if (!this.macs || this.holds > 0 || !this.session?.alive) return undefined;
    return this.macs.has(mac);
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const old = this.session;
    this.macs = undefined;
    const s = new PsqlSession(this.conninfo);
    this.session = s;
    await old?.close().catch(() => undefined);
    try {
      await s.listen(INVENTORY_CHANNEL, () => this.changed());
    } catch (err) {
      // Once per outage, not every retry.
      if (!this.listenFailed) this.log?.warn({ err: (err as Error).message }, `cannot listen for inventory changes; MAC lookups ask the database (retried every ${RELISTEN_MS / 1000} s)`);
      this.listenFailed = true;
      return;
    }
    this.listenFailed = false;
    this.changed();
    await this.reading;
  }

  /**
   * While this process applies an inventory, the set is not used (its
   * COMMIT may land before the notification does); on release it is read
   * again. Returns the release.
   */
  hold(): () => void {
    this.holds++;
    return () => {
      this.holds--;
      if (this.session) this.changed();
    };
  }

  private changed(): void {
    this.generation++;
    this.macs = undefined;
    this.reading ??= this.read().finally(() => (this.reading = undefined));
  }

  /** Reads until a read finishes with no notification during it. */
  private async read(): Promise<void> {
    for (;;) {
      const s = this.session;
      const generation = this.generation;
      if (!s?.alive || this.closed) return;
      try {
        const rows = await s.rows<{ m: string }>(INVENTORY_MACS);
        if (generation !== this.generation || s !== this.session) continue;
        this.macs = new Set(rows.map((r) => r.m));
        return;
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, 'cannot read the inventory MACs; lookups ask the database');
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.macs = undefined;
    await this.session?.close();
  }
}
