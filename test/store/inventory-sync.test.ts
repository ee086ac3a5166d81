// Storing a large inventory edit in slices (src/store/inventory-sync.ts,
// src/store/pg/pg-inventory-sync.ts), on both store backends: the same end
// state and events as one transaction, the event loop turns between slices,
// and no MAC is ever owned by two inventory nodes at once.
import { describe, expect, it, vi } from 'vitest';
import { InventorySyncBusy, syncStatements } from '../../src/store/inventory-sync.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { BACKENDS, useBackend } from './backends.js';
import { Store } from '../../src/store/store.js';

const node = (name: string, mac: string, extra: Partial<NodeSpec> = {}): NodeSpec =>
  ({ name, mac, role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [], ...extra });
const inv = (nodes: NodeSpec[]): Inventory => ({ cluster: { name: 't' } as Inventory['cluster'], nodes });
const macOf = (i: number) => `52:54:02:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const bulk = (from: number, to: number, extra: Partial<NodeSpec> = {}) => Array.from({ length: to - from }, (_, k) => node(`bulk-${from + k}`, macOf(from + k), extra));

/** Both stores take a slice size (the interface's default is STAGE_SLICE); small slices make many turns. */
const inSlices = (s: StateStore, i: Inventory) => (s as StateStore & { syncInventoryInSlices(i: Inventory, slice?: number): Promise<unknown> })
  .syncInventoryInSlices(i, 50) as ReturnType<StateStore['syncInventoryInSlices']>;

/** What a reader sees: the nodes' inventory columns and the events, without ids and times. */
function snapshot(s: StateStore) {
  return {
    nodes: s.listNodes({ includeRemoved: true }).map(({ name, mac, role, ip, uuid, spec, inInventory, state }) => ({ name, mac, role, ip, uuid, spec, inInventory, state }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    events: s.events({ limit: 5000 }).sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.id - b.id)
      .map(({ node: n, mac, kind, message }) => ({ node: n, mac, kind, message })),
  };
}

// From two nodes to 600 (a MAC swap between the two), then to 300 of them changed, then back to one.
const steps = [
  inv([node('a', '52:54:00:00:00:0a'), node('b', '52:54:00:00:00:0b')]),
  inv([node('a', '52:54:00:00:00:0b'), node('b', '52:54:00:00:00:0a'), ...bulk(0, 600)]),
  inv([node('a', '52:54:00:00:00:0b'), ...bulk(0, 300, { installDisk: '/dev/vda' })]),
  inv([node('b', '52:54:00:00:00:0a')]),
];

describe.each(BACKENDS)('inventory sync in slices on %s', (kind) => {
  const backend = useBackend(kind);

  it('ends where one transaction ends, with the same events, and the loop turns between slices', async () => {
    const whole = backend.open();
    const sliced = backend.open();
    for (const [i, step] of steps.entries()) {
      const expected = whole.syncInventory(step);
      let turns = 0;
      let done = false;
      const spin = () => { if (!done) { turns++; setImmediate(spin); } };
      setImmediate(spin);
      const got = await inSlices(sliced, step);
      done = true;
      expect(got, `step ${i}`).toEqual(expected);
      expect(snapshot(sliced), `step ${i}`).toEqual(snapshot(whole));
      if (i === 1) expect(turns).toBeGreaterThan(12);
    }
  });

  it('never lets two inventory nodes own one MAC, or a moved MAC be half swapped, while it runs', async () => {
    const store = backend.open();
    store.syncInventory(inv([node('a', '52:54:00:00:00:0a'), ...bulk(0, 600), node('b', '52:54:00:00:00:0b')]));
    const clashes: unknown[] = [];
    let checks = 0;
    let done = false;
    const check = () => {
      if (done) return;
      checks++;
      const owners = new Map<string, string>();
      for (const n of store.listNodes()) {
        if (owners.has(n.mac)) clashes.push({ mac: n.mac, nodes: [owners.get(n.mac), n.name] });
        owners.set(n.mac, n.name);
      }
      const a = store.getNode('a')!.mac;
      const b = store.getNode('b')!.mac;
      if (a === b) clashes.push({ a, b });
      setImmediate(check);
    };
    setImmediate(check);
    // a and b swap MACs, 600 changed nodes apart in the file (12 slices).
    await inSlices(store, inv([node('a', '52:54:00:00:00:0b'), ...bulk(0, 600, { installDisk: '/dev/vda' }), node('b', '52:54:00:00:00:0a')]));
    // Node c takes b's MAC while b takes a new one.
    await inSlices(store, inv([node('c', '52:54:00:00:00:0a'), node('a', '52:54:00:00:00:0b'), ...bulk(0, 600, { installDisk: '/dev/vdb' }), node('b', '52:54:00:00:00:0c')]));
    done = true;
    expect(checks).toBeGreaterThan(20);
    expect(clashes).toEqual([]);
    expect(store.getNode('c')!.mac).toBe('52:54:00:00:00:0a');
  });

  it('refuses a second load on the same store while one is being stored', async () => {
    const store = backend.open();
    const first = inSlices(store, inv(bulk(0, 500)));
    expect(() => store.syncInventory(inv(bulk(0, 10)))).toThrow(InventorySyncBusy);
    await expect(inSlices(store, inv(bulk(0, 10)))).rejects.toThrow(InventorySyncBusy);
    expect((await first).added).toHaveLength(500);
    expect(store.syncInventory(inv(bulk(0, 10))).removed).toHaveLength(490);
  });

  // PostgreSQL: the apply runs on a session of its own, every statement awaited, so the loop runs on while the server works.
  if (kind === 'postgres') {
    it('waits for another appliance\'s load (the inventory lock) without holding the event loop, then applies', async () => {
      const store = backend.open();
      const other = new PsqlSession(backend.location(store));
      try {
        await other.exec('BEGIN');
        await other.exec("SELECT pg_advisory_xact_lock(hashtext('rackboot.inventory'))");
        let finished = false;
        const load = inSlices(store, inv(bulk(0, 100))).finally(() => { finished = true; });
        let ticks = 0;
        const ticker = setInterval(() => ticks++, 10);
        await new Promise((r) => setTimeout(r, 500));
        clearInterval(ticker);
        expect(finished).toBe(false);
        expect(ticks).toBeGreaterThan(10);
        await other.exec('COMMIT');
        expect((await load).added).toHaveLength(100);
        expect(store.listNodes()).toHaveLength(100);
      } finally {
        await other.close();
      }
    });
  }

  // SQLite's own scratch space: pages left on the temp database's free list stay dirty in its cache, where neither shrink_memory nor malloc_trim reaches (258 here before, 302 in the daemon).
  if (kind === 'sqlite') {
    it('gives the scratch pages of a large load back: the temp database shrinks when the stage is emptied', async () => {
      const store = backend.open() as Store;
      await inSlices(store, inv(bulk(0, 5000)));
      await inSlices(store, inv(bulk(0, 5)));
      expect(store.db.pragma('temp.freelist_count', { simple: true })).toBe(0);
      expect(store.db.pragma('temp.page_count', { simple: true })).toBeLessThan(20);
    });

    // A write whose SELECT or subquery reads the node table again has SQLite copy what that read finds into a
    // scratch (ephemeral) table first: for 5,000 new nodes, 40% of the INSERT's time. An UPDATE keeps one, its list of rows.
    it('writes the node table without reading it a second time: no scratch copy beyond an UPDATE\'s own row list', async () => {
      const store = backend.open() as Store;
      await inSlices(store, inv(bulk(0, 5)));
      const writes = syncStatements({ main: 'main.', temp: 'temp.', at: '@at' }).apply.filter((sql) => /^\s*(INSERT INTO|UPDATE) main\.nodes /.test(sql));
      expect(writes).toHaveLength(4);
      const copies = writes.map((sql) => (store.db.prepare(`EXPLAIN ${sql}`).all({ at: 1 }) as Array<{ opcode: string }>).filter((op) => op.opcode === 'OpenEphemeral').length);
      expect(copies).toEqual(writes.map((sql) => (sql.trimStart().startsWith('UPDATE') ? 1 : 0)));
    });

    it('commits a reload while serving without the fdatasync or the WAL checkpoint on the loop, and resolves once it is on disk', async () => {
      const store = backend.open() as Store;
      const autocheckpoint = store.db.pragma('wal_autocheckpoint', { simple: true });
      const flush = store.commitThenFlush.bind(store);
      const seen: Array<{ autocheckpoint: unknown; synchronous: unknown }> = [];
      let durable = 0;
      const spy = vi.spyOn(store, 'commitThenFlush').mockImplementation(async (write) => {
        const result = await flush(() => {
          const written = write();
          // As the commit will find them: after the apply's statements, before COMMIT.
          seen.push({ autocheckpoint: store.db.pragma('wal_autocheckpoint', { simple: true }), synchronous: store.db.pragma('synchronous', { simple: true }) });
          return written;
        });
        durable++;
        return result;
      });
      const done = await inSlices(store, inv(bulk(0, 600)));
      // SQLite's synchronous: 1 is NORMAL (no fdatasync in the commit); the flush after it is commitThenFlush's.
      expect(seen).toEqual([{ autocheckpoint: 0, synchronous: 1 }]);
      expect(durable).toBe(1);
      expect(done.added).toHaveLength(600);
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(autocheckpoint);
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      // The first load and the CLI store in one FULL commit, without it.
      store.syncInventory(inv(bulk(0, 5)));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(store.listNodes()).toHaveLength(5);
    });

    it('runs no checkpoint on the loop after a large reload when the connection\'s checkpoints are elsewhere (the daemon\'s worker)', async () => {
      const store = backend.open() as Store;
      // What checkpointOffLoop does to the daemon's connection.
      store.db.pragma('wal_autocheckpoint = 0');
      const pragma = vi.spyOn(store.db, 'pragma');
      const done = await inSlices(store, inv(bulk(0, 600)));
      expect(done.added).toHaveLength(600);
      expect(pragma.mock.calls.map(([sql]) => sql).filter((sql) => /wal_checkpoint|wal_autocheckpoint\s*=/.test(sql))).toEqual([]);
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    });

    it('leaves a small reload while serving to SQLite\'s own checkpoint: no explicit one, the automatic one left on', async () => {
      const store = backend.open() as Store;
      store.syncInventory(inv(bulk(0, 600)));
      const autocheckpoint = store.db.pragma('wal_autocheckpoint', { simple: true });
      expect(autocheckpoint).toBeGreaterThan(0);
      const flush = store.commitThenFlush.bind(store);
      const atCommit: unknown[] = [];
      vi.spyOn(store, 'commitThenFlush').mockImplementation((write) => flush(() => {
        const written = write();
        atCommit.push(store.db.pragma('wal_autocheckpoint', { simple: true }));
        return written;
      }));
      const pragma = vi.spyOn(store.db, 'pragma');
      const done = await inSlices(store, inv([...bulk(0, 597), node('bulk-597', macOf(597), { ip: '10.0.0.7' })]));
      expect(done).toEqual({ added: [], updated: ['bulk-597'], removed: ['bulk-598', 'bulk-599'] });
      expect(atCommit).toEqual([autocheckpoint]);
      // Neither a checkpoint nor a change to the automatic one (reading it is fine).
      expect(pragma.mock.calls.map(([sql]) => sql).filter((sql) => /wal_checkpoint|wal_autocheckpoint\s*=/.test(sql))).toEqual([]);
    });
  }
});
