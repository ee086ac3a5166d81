// A node's page: its machine config with secrets redacted, why an empty
// console is empty, its stage progress, and Reimage only for a node that
// has a Talos on disk to wipe.
import { describe, expect, it } from 'vitest';
import { secretsPath, secretsYaml, writeSecretFile } from '../../../src/talos/secrets.js';
import { consoleEmptyReason } from '../../../src/http/admin/node-detail.js';
import { recordApplied } from '../../../src/day2/applied.js';
import { recordNodeHostname } from '../../../src/talos/node-hostname.js';
import { testSecrets } from '../../talos/config-fixtures.js';
import { ADMIN_TOKEN, harness } from './harness.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('node page', () => {
  it('shows the config rackboot would serve, with every secret redacted, and says why there is none before init', async () => {
    const h = await harness();
    try {
      const before = await h.app.inject({ url: '/ui/nodes/cp-1', headers: auth });
      expect(before.body).toMatch(/<section class="card" id="config"><h2>Machine config<\/h2><p class="muted">the config cannot be rendered: no secrets bundle at [^<]*; run rackboot init<\/p>/);
      const secrets = await testSecrets();
      writeSecretFile(secretsPath(h.settings.dataDir), secretsYaml(secrets));
      const page = (await h.app.inject({ url: '/ui/nodes/cp-1', headers: auth })).body;
      const config = /<pre class="config" id="node-config">([\s\S]*?)<\/pre>/.exec(page)![1]!;
      expect(config).toContain('hostname: cp-1');
      expect(config).toContain('token: (redacted)');
      for (const s of [secrets.trustdinfo.token, secrets.secrets.bootstraptoken, secrets.certs.os.key, secrets.certs.k8s.key, secrets.cluster.secret]) expect(page).not.toContain(s);
      // The API gives a script what the page shows.
      const api = (await h.app.inject({ url: '/api/nodes/cp-1', headers: auth })).json();
      expect(api.config.redacted).toContain('hostname: cp-1');
      expect(JSON.stringify(api)).not.toContain(secrets.certs.os.key);
      expect(api.config.appliedDiff).toBeNull();
      // What the node applied (recorded redacted, as day 2 records it) against what it would get now.
      const shown = api.config.redacted as string;
      recordApplied(h.store, 'cp-1', shown, { via: 'push' });
      expect((await h.app.inject({ url: '/api/nodes/cp-1', headers: auth })).json().config.appliedDiff).toBe('');
      recordApplied(h.store, 'cp-1', shown.replace('hostname: cp-1', 'hostname: cp-old').replace('(redacted)', secrets.trustdinfo.token), { via: 'push' });
      const after = (await h.app.inject({ url: '/ui/nodes/cp-1', headers: auth })).body;
      const diff = /<pre class="config" id="node-config-diff">([\s\S]*?)<\/pre>/.exec(after)![1]!;
      expect(diff).toMatch(/^-\s+hostname: cp-old$/m);
      expect(diff).toMatch(/^\+\s+hostname: cp-1$/m);
      expect(after).not.toContain(secrets.trustdinfo.token);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('offers Reimage only to a node that was installed, and shows its progress and reported hostname', async () => {
    const h = await harness();
    try {
      const page = async (name: string) => (await h.app.inject({ url: `/ui/nodes/${name}`, headers: auth })).body;
      const overview = async () => (await h.app.inject({ url: '/ui', headers: auth })).body;
      expect(await page('w-1')).not.toContain('data-action="reimage"');
      h.store.setState('w-1', 'booting', 'pxe');
      h.store.setState('w-1', 'failed', 'no disk');
      expect(await page('w-1')).not.toContain('data-action="reimage"');
      expect(await overview()).not.toContain('data-action="reimage" data-node="w-1"');
      h.store.setState('w-1', 'booting', 'pxe');
      h.store.setState('w-1', 'installing', 'installer');
      h.store.setState('w-1', 'installed', 'rebooted from disk');
      h.store.setState('w-1', 'failed', 'health check timed out');
      expect(await page('w-1')).toContain('data-action="reimage" data-node="w-1"');
      expect(await overview()).toContain('data-action="reimage" data-node="w-1"');
      const body = await page('w-1');
      expect(body).toMatch(/<li class="st st-done" data-stage="installing"/);
      expect(body).toMatch(/<li class="st st-failed" data-stage="installed"/);
      expect(body).toContain('<dt>Hostname</dt><dd><span class="muted">not reported yet</span>');
      h.store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, hostname, updated_at) VALUES ('52:54:00:00:00:02', '10.0.0.52', 'bound', ?, 'talos-x1y', 0)").run(Date.now() + 3600_000);
      expect(await page('w-1')).toContain('talos-x1y <span class="muted small">as its DHCP client reports it; its config names it w-1</span>');
      // The node's own report (Talos HostnameStatus) wins, and the API says where each came from.
      recordNodeHostname(h.store, 'w-1', { hostname: 'w-1', domainname: 'rack.example' }, 'installed', Date.now() - 5000);
      expect(await page('w-1')).toMatch(/<span data-hostname-from="talos-api">w-1.rack.example<\/span> <span class="muted small">as its Talos API reports it \(HostnameStatus, read once installed, [^)]*\); its config names it w-1; its DHCP client sent talos-x1y</);
      const api = (await h.app.inject({ url: '/api/nodes/w-1', headers: auth })).json();
      expect(api.node).toMatchObject({ hostname: 'w-1.rack.example', hostnameFrom: { from: 'talos-api', seenIn: 'installed' }, dhcpHostname: 'talos-x1y' });
    } finally {
      await h.close();
    }
  });

  it('an empty console says why, and the first line replaces the reason', async () => {
    const h = await harness();
    try {
      expect((await h.app.inject({ url: '/ui/nodes/w-1', headers: auth })).body).toContain('<li class="console-empty">No console yet: this node has not asked rackboot to boot since it was registered.</li>');
      h.ctx.console!.add('w-1', { at: 1, msg: 'kernel up', fields: {} });
      const body = (await h.app.inject({ url: '/ui/nodes/w-1', headers: auth })).body;
      expect(body).toContain('<li>kernel up</li>');
      expect(body).not.toContain('console-empty');
    } finally {
      await h.close();
    }
  });

  it('marks console lines captured over Serial-over-LAN, on the page and in the live stream\'s data', async () => {
    const h = await harness();
    try {
      h.ctx.console!.add('w-1', { at: 1, msg: 'iPXE 1.21.1 -- Open Source Network Boot Firmware -- <b>', fields: { source: 'sol' } });
      h.ctx.console!.add('w-1', { at: 2, msg: '[talos] kernel up', fields: {} });
      const body = (await h.app.inject({ url: '/ui/nodes/w-1', headers: auth })).body;
      expect(body).toContain('<li class="sol"><span class="src" title="Serial-over-LAN through the BMC">sol</span> iPXE 1.21.1 -- Open Source Network Boot Firmware -- &lt;b&gt;</li>');
      expect(body).toContain('<li>[talos] kernel up</li>');
      const api = JSON.parse((await h.app.inject({ url: '/api/nodes/w-1', headers: auth })).body) as { console: { msg: string; source?: string }[] };
      expect(api.console.map((l) => l.source ?? 'talos')).toEqual(['sol', 'talos']);
    } finally {
      await h.close();
    }
  });

  it('knows the reasons a console is empty', () => {
    const on = { on: true as const, port: 5514, startedAt: Date.UTC(2026, 0, 1), lines: 0 };
    expect(consoleEmptyReason({ state: 'ready', lastSeen: 5, stateSince: 5 }, { on: false })).toMatch(/^Console capture is off/);
    expect(consoleEmptyReason({ state: 'ready', lastSeen: 5, stateSince: 5 }, { ...on, lines: 3 })).toBeUndefined();
    expect(consoleEmptyReason({ state: 'ready', lastSeen: 5, stateSince: 5 }, on)).toMatch(/since rackboot started \(2026-01-01 00:00:00Z\)\. An installed node .*installed before console capture was on/);
    expect(consoleEmptyReason({ state: 'failed', lastSeen: 5, stateSince: 5 }, on)).toMatch(/kept in memory only.* It was last seen before that\.$/);
    expect(consoleEmptyReason({ state: 'booting', lastSeen: on.startedAt + 1, stateSince: 5 }, on)).toMatch(/^No lines yet: .*UDP port 5514/);
  });
});
