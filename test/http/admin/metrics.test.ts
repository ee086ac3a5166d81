import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsScrapeToken } from '../../../src/http/admin/metrics.js';
import { loadSettings } from '../../../src/settings/settings.js';
import { ADMIN_TOKEN, harness } from './harness.js';
import { Reimager } from '../../../src/lifecycle/reimage.js';
import { BOOTSTRAP_KEY } from '../../../src/lifecycle/cluster-state.js';
import { leadershipMetrics } from '../../../src/talos/leadership.js';

describe('/metrics', () => {
  it('exposes nodes by state, reimages, bootstrap state, HTTP counters and injected sources', async () => {
    const h = await harness();
    try {
      h.ctx.metricsSources = [{ metrics: () => ({ dhcp_offers_total: 7, 'tftp_bytes_total{file="ipxe.efi"}': 1024, 'bad name': 1, tftp_active: Number.NaN }) }];
      h.store.setState('cp-1', 'ready', 'x', { markedForInstall: false });
      await new Reimager(h.ctx.lifecycle.machine).reimage('cp-1', 'x', 'test');
      h.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
      await h.app.inject({ url: '/healthz' });
      const res = await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      const body = res.body;
      expect(body).toContain('# TYPE rackboot_nodes gauge');
      expect(body).toContain('rackboot_nodes{state="reimage-pending"} 1');
      expect(body).toContain('rackboot_nodes{state="registered"} 1');
      expect(body).toContain('rackboot_nodes{state="ready"} 0');
      expect(body).toContain('rackboot_reimages_total 1');
      expect(body).toContain('rackboot_cluster_bootstrapped 1');
      expect(body).toContain('rackboot_cluster_bootstrap_state{state="bootstrapped"} 1');
      expect(body).toMatch(/rackboot_http_requests_total\{method="GET",code="200"\} [1-9]/);
      expect(body).toContain('# TYPE rackboot_process_heap_used_bytes gauge');
      expect(Number(/^rackboot_process_heap_used_bytes (\d+)$/m.exec(body)?.[1])).toBeGreaterThan(1 << 20);
      expect(Number(/^rackboot_process_cpu_seconds_total ([\d.]+)$/m.exec(body)?.[1])).toBeGreaterThan(0);
      expect(body).toMatch(/^rackboot_event_loop_delay_max_seconds [\d.e-]+$/m);
      expect(body).toMatch(/^rackboot_event_loop_stalls_total \d+$/m);
      expect(Number(/^rackboot_process_external_bytes (\d+)$/m.exec(body)?.[1])).toBeGreaterThan(0);
      expect(body).toContain('# TYPE rackboot_dhcp_offers_total counter\nrackboot_dhcp_offers_total 7');
      expect(body).toContain('rackboot_tftp_bytes_total{file="ipxe.efi"} 1024');
      expect(body).not.toContain('bad name');
      expect(body).not.toContain('tftp_active');
      // Every sample line is NAME{labels} VALUE.
      for (const line of body.trim().split('\n')) if (!line.startsWith('#')) expect(line).toMatch(/^[a-z_:]+(\{.*\})? -?[0-9.e+]+$/);
    } finally {
      await h.close();
    }
  });
});

describe('/metrics leadership (scaleOut.postgres)', () => {
  it('shows rackboot_leader, its changes as a counter, and the age of the last lock confirmation', async () => {
    const h = await harness();
    try {
      h.ctx.metricsSources = [{ metrics: () => leadershipMetrics({ leading: true, changes: 3, confirmedAgoMs: 1250 }) }];
      const body = (await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body;
      expect(body).toContain('# TYPE rackboot_leader gauge\nrackboot_leader 1');
      expect(body).toContain('# TYPE rackboot_leader_changes_total counter\nrackboot_leader_changes_total 3');
      expect(body).toContain('rackboot_leader_lock_confirmed_age_seconds 1.25');
      expect(leadershipMetrics({ leading: false, changes: 0, confirmedAgoMs: undefined })).toEqual({ leader: 0, leader_changes_total: 0 });
    } finally {
      await h.close();
    }
  });
});

describe('the scrape token', () => {
  it('is metrics.token from the settings, else the first line of DATA/metrics-token; shorter than 16 characters is none', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rb-scrape-'));
    try {
      expect(metricsScrapeToken({ dataDir, metrics: {} })).toBeUndefined();
      writeFileSync(join(dataDir, 'metrics-token'), 'from-the-file-0123456789\nignored\n');
      expect(metricsScrapeToken({ dataDir, metrics: {} })).toBe('from-the-file-0123456789');
      expect(metricsScrapeToken({ dataDir, metrics: { token: 'from-the-settings-0123' } })).toBe('from-the-settings-0123');
      writeFileSync(join(dataDir, 'metrics-token'), 'short\n');
      expect(metricsScrapeToken({ dataDir, metrics: {} })).toBeUndefined();
      expect(() => loadSettings({ config: undefined, dataDir }, dataDir)).not.toThrow();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('settings refuse a metrics.token shorter than 16 characters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-scrape-'));
    try {
      writeFileSync(join(dir, 'rackboot.yaml'), 'metrics:\n  token: short\n');
      expect(() => loadSettings({ config: join(dir, 'rackboot.yaml') })).toThrow(/metrics\.token/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
