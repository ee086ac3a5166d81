// Operator input (node names) and network input (DHCP hostnames, console
// lines, event text) must render as text, on the first page load and in the
// fragments live updates swap in.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, inventoryYaml, login } from './harness.js';
import { passwordPath, writePassword } from '../../../src/bmc/credentials.js';
import { inventory, nodeSpec } from '../../lifecycle/fixtures.js';
import { overviewFragments, nodeFragments } from '../../../src/http/admin/pages.js';
import { overviewData } from '../../../src/http/admin/page-routes.js';
import { nodeDetailView } from '../../../src/http/admin/views.js';

const EVIL_NAME = 'x"><img src=x onerror=alert(1)>';
const EVIL_HOST = '<script>alert("host")</script>';
const EVIL_LINE = '</li><svg onload=alert(2)>';

describe('escaping', () => {
  it('renders hostile names, hostnames, console lines and events as text', async () => {
    const h = await harness();
    try {
      // Straight into the store: the inventory loader would refuse this name, the store must not trust that.
      const inv = inventory([nodeSpec(EVIL_NAME, 'de:ad:be:ef:00:01')]);
      h.store.syncInventory({ ...inv, nodes: [...h.watcher.inventory!.nodes, ...inv.nodes] });
      h.store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES ('de:ad:be:ef:00:01', '10.0.0.50', 'bound', ?, ?, 0)").run(Date.now() + 60_000, EVIL_HOST);
      h.store.appendEvent({ node: EVIL_NAME, kind: 'dhcp', message: `hostname ${EVIL_HOST}` });
      h.ctx.console!.add(EVIL_NAME, { at: Date.now(), msg: EVIL_LINE, fields: {} });
      const { cookie } = await login(h.app);

      const overview = (await h.app.inject({ url: '/ui', headers: { cookie } })).body;
      const detail = (await h.app.inject({ url: `/ui/nodes/${encodeURIComponent(EVIL_NAME)}`, headers: { cookie } })).body;
      const fragments = [...Object.values(overviewFragments(overviewData(h.ctx)))].join('') + Object.values(nodeFragments(nodeDetailView(h.ctx, EVIL_NAME)!.node, nodeDetailView(h.ctx, EVIL_NAME)!.events)).join('');
      for (const body of [overview, detail, fragments]) {
        expect(body).not.toContain('<img src=x');
        expect(body).not.toContain('<script>alert');
        expect(body).not.toContain('<svg');
      }
      expect(overview).toContain('x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
      // The search text comes back in the form, the pager's links and the stream's query: as text.
      const searched = (await h.app.inject({ url: `/ui?q=${encodeURIComponent(EVIL_NAME)}`, headers: { cookie } })).body;
      expect(searched).not.toContain('<img src=x');
      expect(searched).toContain('name="q" value="x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');
      expect(searched).toContain(`<tr data-node="x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"`);
      expect(overview).toContain('&lt;script&gt;alert(&quot;host&quot;)&lt;/script&gt;');
      expect(detail).toContain('&lt;/li&gt;&lt;svg onload=alert(2)&gt;');
      // The link to the node's page is URL-encoded, not just entity-escaped.
      expect(overview).toContain(`href="/ui/nodes/${encodeURIComponent(EVIL_NAME).replace(/'/g, '&#39;')}"`);
      // And the page forbids inline script outright.
      const res = await h.app.inject({ url: '/ui', headers: { cookie } });
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    } finally {
      await h.close();
    }
  });

  it('renders a BMC\'s own error text as text, on the overview, the node page and the live fragments', async () => {
    const EVIL_BMC = '<img src=x onerror=alert(3)>';
    // A BMC that answers every request with a Redfish error whose message is markup.
    const bmc = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'Base.1.8.InternalError', message: EVIL_BMC } }));
    });
    await new Promise<void>((r) => bmc.listen(0, '127.0.0.1', r));
    const h = await harness();
    try {
      const port = (bmc.address() as { port: number }).port;
      writeFileSync(join(h.dir, 'cluster.yaml'), inventoryYaml(`  - name: evil-bmc\n    mac: 52:54:00:00:04:01\n    role: worker\n    bmc:\n      address: redfish+http://127.0.0.1:${port}\n      username: root\n`));
      expect(h.watcher.reload()).toBe(true);
      writePassword(passwordPath(h.settings.dataDir, 'evil-bmc'), 'pw');
      const status = await h.app.inject({ url: '/api/nodes/evil-bmc/power', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(status.json().error).toContain(EVIL_BMC); // JSON carries it as data
      const { cookie } = await login(h.app);
      const overview = (await h.app.inject({ url: '/ui', headers: { cookie } })).body;
      const detail = (await h.app.inject({ url: '/ui/nodes/evil-bmc', headers: { cookie } })).body;
      const d = nodeDetailView(h.ctx, 'evil-bmc')!;
      const fragments = Object.values(overviewFragments(overviewData(h.ctx))).join('') + Object.values(nodeFragments(d.node, d.events)).join('');
      for (const body of [overview, detail, fragments]) {
        expect(body).not.toContain('<img src=x');
        expect(body).toContain('answered 500: &lt;img src=x onerror=alert(3)&gt;');
        expect(body).toMatch(/<strong>BMC error<\/strong>: redfish\+http:\/\/127\.0\.0\.1:\d+: GET \/redfish\/v1\/ answered 500: &lt;img/);
      }
    } finally {
      await h.close();
      await new Promise((r) => bmc.close(r));
    }
  });
});
