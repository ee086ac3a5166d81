// The rack overview and /api/nodes: counts per state, filter, search and
// pagination, so a big inventory is one small page; stage progress per row.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, inventoryYaml, rackNodes, type Harness } from './harness.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function rack(count: number): Promise<Harness> {
  const h = await harness();
  writeFileSync(h.settings.inventory, inventoryYaml(rackNodes(count)));
  h.watcher.reload();
  return h;
}

describe('rack overview', () => {
  it('/api/nodes gives one page with the total and counts per state, and pages through the rest', async () => {
    const h = await rack(120);
    try {
      h.store.setState('rack-00007', 'booting', 'pxe');
      const first = (await h.app.inject({ url: '/api/nodes', headers: auth })).json();
      expect(first).toMatchObject({ total: 122, page: 1, pageSize: 50, pages: 3 });
      expect(first.nodes).toHaveLength(50);
      expect(first.counts).toMatchObject({ registered: 121, booting: 1, ready: 0 });
      const last = (await h.app.inject({ url: '/api/nodes?page=3', headers: auth })).json();
      expect(last.nodes.map((n: { name: string }) => n.name)).toEqual(Array.from({ length: 22 }, (_, i) => `rack-${String(99 + i).padStart(5, '0')}`));
      expect((await h.app.inject({ url: '/api/nodes?pageSize=500', headers: auth })).json().nodes).toHaveLength(122);
      for (const bad of ['page=0', 'page=x', 'pageSize=501', 'state=nope', `q=${'x'.repeat(201)}`]) {
        const res = await h.app.inject({ url: `/api/nodes?${bad}`, headers: auth });
        expect(res.statusCode, bad).toBe(400);
      }
    } finally {
      await h.close();
    }
  });

  it('filters by state and searches by name, MAC (with or without colons), IP and leased hostname', async () => {
    const h = await rack(30);
    try {
      h.store.setState('rack-00003', 'booting', 'pxe');
      h.store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES ('52:54:01:00:00:1e', '10.9.9.9', 'bound', ?, 'talos-abc', 0)").run(Date.now() + 3600_000);
      const names = async (qs: string) => (await h.app.inject({ url: `/api/nodes?${qs}`, headers: auth })).json().nodes.map((n: { name: string }) => n.name);
      expect(await names('state=booting')).toEqual(['rack-00003']);
      expect(await names('q=RACK-0001')).toEqual(Array.from({ length: 10 }, (_, i) => `rack-000${10 + i}`));
      expect(await names('q=52:54:01:00:00:0a')).toEqual(['rack-00010']);
      expect(await names('q=5254010000' + '0b')).toEqual(['rack-00011']);
      expect(await names('q=10.1.0.12')).toEqual(['rack-00012']);
      expect(await names('q=talos-abc')).toEqual(['rack-00030']);
      expect(await names('q=rack-0000&state=booting')).toEqual(['rack-00003']);
    } finally {
      await h.close();
    }
  });

  it('lists only the 50 most recently seen unknown machines on the page; the API has all of them', async () => {
    const h = await harness();
    try {
      for (let i = 0; i < 300; i++) h.ctx.lifecycle.sighted({ mac: `de:ad:be:ef:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, source: 'dhcp' });
      const body = (await h.app.inject({ url: '/ui', headers: auth })).body;
      const section = /<section id="discovered"[\s\S]*?<\/section>/.exec(body)![0];
      expect(section.match(/<tr><td data-label="MAC">/g)).toHaveLength(50);
      expect(section).toContain('<p class="muted" data-discovered-total="300">The 50 most recently seen of 300;');
      expect(section.match(/- name: node-/g)).toHaveLength(50);
      expect((await h.app.inject({ url: '/api/discovered', headers: auth })).json()).toHaveLength(300);
      expect((await h.app.inject({ url: '/api/discovered/snippet', headers: auth })).body.match(/- name: node-/g)).toHaveLength(300);
    } finally {
      await h.close();
    }
  });

  it('the page shows one page of rows, counts that link to a filter, a pager that keeps the filter, and stage progress', async () => {
    const h = await rack(5000);
    try {
      h.store.setState('rack-00001', 'booting', 'pxe');
      h.store.setState('rack-00001', 'installing', 'installer');
      h.store.setState('rack-00002', 'booting', 'pxe');
      const res = await h.app.inject({ url: '/ui', headers: auth });
      expect(res.statusCode).toBe(200);
      // The 59k-node inventory made /ui 48 MB; 5,000 nodes are one page.
      expect(res.body.length).toBeLessThan(150_000);
      expect(res.body.match(/<tr data-node=/g)).toHaveLength(50);
      expect(res.body).toContain('<a class="count state-booting" data-count="booting" href="/ui?state=booting#nodes"><strong>1</strong> booting</a>');
      expect(res.body).toMatch(/<span data-total="5002">1–50 of 5002<\/span>/);
      expect(res.body).toContain('<a rel="next" href="/ui?page=2#nodes">next ›</a>');
      const row = /<tr data-node="rack-00001"[\s\S]*?<\/tr>/.exec(res.body)![0];
      expect(row).toMatch(/<li class="st st-done" data-stage="booting" title="booting: took \d+ s">/);
      expect(row).toMatch(/<li class="st st-skipped" data-stage="maintenance"/);
      expect(row).toMatch(/<li class="st st-current" data-stage="installing" title="installing: so far \d+ s">/);
      const filtered = await h.app.inject({ url: '/ui?q=rack-0000&page=2&pageSize=3', headers: auth });
      expect(filtered.body).toMatch(/4–6 of 9 \(of 5002 in the inventory\)/);
      expect(filtered.body).toContain('<a rel="next" href="/ui?q=rack-0000&amp;page=3&amp;pageSize=3#nodes">');
      expect(filtered.body).toContain('data-query="?q=rack-0000&amp;page=2&amp;pageSize=3"');
      expect((await h.app.inject({ url: '/ui?page=-1', headers: auth })).statusCode).toBe(400);
    } finally {
      await h.close();
    }
  }, 60_000);
});
