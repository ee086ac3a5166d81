// Two appliances on one PostgreSQL store (scaleOut.postgres: each opens a
// SharedStore over its own SQLite file): what appliance A writes is what
// appliance B's admin page, paged /api/nodes, /metrics and event stream
// show, though B's own SQLite copy never saw it. The routes' auth is the
// usual one (bearer token), unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/lifecycle/machine.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { ADMIN_TOKEN, harness, type Harness } from './harness.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function twoAppliances(db: string): Promise<[Harness, Harness]> {
  const conninfo = pg.createDatabase(db);
  const a = await harness({ openStore: (file) => new SharedStore(file, conninfo) });
  const b = await harness({ openStore: (file) => new SharedStore(file, conninfo) });
  return [a, b];
}

describe('admin readers on a shared store', () => {
  it("B's /api/nodes (paged), /ui and /metrics show a state change, a failure and a reimage request A wrote", async () => {
    const [a, b] = await twoAppliances('readers_views');
    try {
      const sm = new StateMachine(a.store);
      expect(sm.transition('w-1', 'booting', 'served the iPXE script').ok).toBe(true);
      expect(sm.transition('cp-1', 'failed', 'install disk missing').ok).toBe(true);
      a.store.appendEvent({ node: 'w-1', kind: 'reimage', message: 'reimage requested', data: { step: 'requested' } });
      a.store.recordDiscovered({ mac: '52:54:00:aa:00:01', source: 'dhcp', uuid: '11111111-2222-3333-4444-555555555555' });
      // B's own SQLite copy never saw A's writes: what B shows below comes from the shared store.
      expect(b.store.db.prepare("SELECT state FROM nodes WHERE name = 'w-1'").get()).toEqual({ state: 'registered' });

      const page1 = (await b.app.inject({ url: '/api/nodes?pageSize=1', headers: auth })).json();
      expect(page1).toMatchObject({ total: 2, pages: 2, counts: { booting: 1, failed: 1, registered: 0 } });
      expect(page1.nodes.map((n: { name: string }) => n.name)).toEqual(['cp-1']);
      expect(page1.nodes[0]).toMatchObject({ state: 'failed', failedStep: 'registered' });
      const page2 = (await b.app.inject({ url: '/api/nodes?pageSize=1&page=2', headers: auth })).json();
      expect(page2.nodes[0]).toMatchObject({ name: 'w-1', state: 'booting', lastEvent: { kind: 'reimage' } });
      expect(page2.nodes[0].stages.length).toBeGreaterThan(0);
      const filtered = (await b.app.inject({ url: '/api/nodes?state=booting', headers: auth })).json();
      expect(filtered.nodes.map((n: { name: string }) => n.name)).toEqual(['w-1']);

      const ui = await b.app.inject({ url: '/ui', headers: auth });
      expect(ui.statusCode).toBe(200);
      expect(ui.body).toContain('data-node="w-1" data-state="booting"');
      expect(ui.body).toContain('52:54:00:aa:00:01');

      const metrics = (await b.app.inject({ url: '/metrics', headers: auth })).body;
      expect(metrics).toContain('rackboot_nodes{state="booting"} 1');
      expect(metrics).toContain('rackboot_nodes{state="failed"} 1');
      expect(metrics).toContain('rackboot_node_failures_total 1');
      expect(metrics).toContain('rackboot_reimages_total 1');
      expect(metrics).toContain('rackboot_discovered_machines 1');

      // The routes ask for the token as before.
      expect((await b.app.inject({ url: '/api/nodes' })).statusCode).toBe(401);
      expect((await b.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("B's event stream delivers the change A made", async () => {
    const [a, b] = await twoAppliances('readers_stream');
    try {
      await b.app.listen({ host: '127.0.0.1', port: 0 });
      const addr = b.app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      const res = await fetch(`http://127.0.0.1:${port}/api/stream`, { headers: auth });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const nextEvent = async () => {
        while (!text.includes('\n\n')) {
          const { value, done } = await reader.read();
          if (done) throw new Error('stream ended');
          text += decoder.decode(value);
        }
        const [head, ...rest] = text.split('\n\n');
        text = rest.join('\n\n');
        return head!;
      };
      expect(await nextEvent()).toContain('data-node=\\"w-1\\" data-state=\\"registered\\"');
      expect(new StateMachine(a.store).transition('w-1', 'booting', 'served the iPXE script').ok).toBe(true);
      let got = '';
      while (!got.startsWith('event: fragments')) got = await nextEvent();
      expect(got).toContain('data-node=\\"w-1\\" data-state=\\"booting\\"');
      await reader.cancel();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
