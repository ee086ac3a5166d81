// The DHCP service on a shared segment (scaleOut.postgres) whose database
// hangs with its connection open: at most MAX_SHARED_WAITING packets wait
// for it, the rest are dropped and counted (`shared-backlog`), and once the
// database answers again the waiting ones are answered and new ones too.
// The socket shell in-process on loopback (proxy mode, as server.test.ts),
// a real PostgreSQL 15; "hangs" is another session holding the lease table
// in ACCESS EXCLUSIVE mode, so the answerer's per-batch read waits on it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { pino } from 'pino';
import { startDhcpService, type DhcpService } from '../../src/dhcp/server.js';
import { MAX_SHARED_WAITING } from '../../src/dhcp/sharing.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { Store } from '../../src/store/store.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { missingPrerequisites } from '../helpers/netns.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { ovmfProxyRequest } from './fixtures.js';
import { waitFor } from './netns/harness.js';
import { inventoryOf, NODES, settingsWith } from './context.js';

let pg: PgRig | undefined;
let svc: DhcpService | undefined;
let store: Store | undefined;
const sessions: PsqlSession[] = [];
beforeAll(() => {
  pg = startPostgres();
}, 60_000);
afterAll(() => pg?.stop());
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
  await svc?.close();
  store?.close();
  svc = undefined;
});

describe.skipIf(missingPrerequisites([]))('startDhcpService on a shared segment whose database hangs', () => {
  it(`keeps ${MAX_SHARED_WAITING} packets waiting, drops and counts the rest, and answers again once the database does`, async () => {
    const conninfo = pg!.createDatabase('backlog');
    store = new Store(':memory:');
    store.syncInventory(inventoryOf(NODES));
    const base = 40000 + Math.floor(Math.random() * 20000);
    svc = await startDhcpService({
      settings: { ...settingsWith({ mode: 'proxy', subnet: undefined }), scaleOut: { postgres: conninfo, dhcpPollMs: 50 } },
      store, lifecycle: new Lifecycle(store), log: pino({ level: process.env.RBD_DEBUG ? 'debug' : 'silent' }),
      publicUrl: 'http://127.0.0.1:8080', provisioning: { iface: 'lo', address: '127.0.0.1' },
    }, { ports: { dhcp: base, proxy: base + 1 } });
    await waitFor(() => svc!.segment?.answering() === true, 10_000, () => 'the service never took the segment');

    // The waiting batches share one read of the database, so their replies leave in one burst once it answers:
    // more than one socket's default receive buffer holds on loopback (about 166), so four clients share them.
    const clients = Array.from({ length: 4 }, () => dgram.createSocket('udp4'));
    await Promise.all(clients.map((c) => new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()))));
    let replies = 0;
    for (const c of clients) c.on('message', () => replies++);
    const request = ovmfProxyRequest('127.0.0.1', '127.0.0.1');
    const sendAll = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => new Promise((r) => clients[i % clients.length]!.send(request, base + 1, '127.0.0.1', r))));
    try {
      // The answer path works before the hold.
      await sendAll(1);
      await waitFor(() => replies === 1, 10_000, () => `${replies} replies before the hold`);

      const holder = new PsqlSession(conninfo);
      sessions.push(holder);
      await holder.exec('BEGIN');
      await holder.exec('LOCK TABLE leases IN ACCESS EXCLUSIVE MODE');
      const excess = 44;
      await sendAll(MAX_SHARED_WAITING + excess);
      const dropped = () => svc!.metrics().drops['shared-backlog'] ?? 0;
      await waitFor(() => dropped() >= excess, 10_000, () => `dropped ${dropped()} of the ${excess} past the cap`);
      await new Promise((r) => setTimeout(r, 300)); // nothing more is dropped, nothing is answered
      expect(dropped()).toBe(excess);
      expect(replies).toBe(1);
      expect(svc!.metrics().proxyAcks).toBe(1);

      await holder.exec('COMMIT');
      await waitFor(() => replies === 1 + MAX_SHARED_WAITING, 20_000, () => `${replies} replies after the hold`);
      // Room again: a new packet is answered, and nothing more was dropped.
      await sendAll(1);
      await waitFor(() => replies === 2 + MAX_SHARED_WAITING, 10_000, () => `${replies} replies after the hold`);
      const m = svc!.metrics();
      expect(m.received).toBe(2 + MAX_SHARED_WAITING + excess);
      expect(m.proxyAcks).toBe(2 + MAX_SHARED_WAITING);
      expect(m.drops).toEqual({ 'shared-backlog': excess });
    } finally {
      for (const c of clients) c.close();
    }
  }, 60_000);
});
