// The daemon serves two planes: plain HTTP for the machines on http.listen,
// HTTPS for the operator on http.adminListen, with the certificate whose
// fingerprint it reports.
import { readFileSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadSettings } from '../../src/settings/settings.js';
import { startDaemon } from '../../src/daemon.js';
import { certFingerprint } from '../../src/http/admin/tls.js';

const TOKEN = 'planes-test-admin-token-0123';

describe('the daemon\'s two planes', () => {
  it('boot plane: public routes only, plain HTTP; admin plane: HTTPS with the reported certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-planes-'));
    copyFileSync('inventory/cluster.yaml', join(dir, 'cluster.yaml'));
    writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nadminToken: ${TOKEN}\nlogLevel: warn\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1\n`);
    const daemon = await startDaemon(loadSettings({ config: join(dir, 'rackboot.yaml') }), pino({ level: 'silent' }));
    const ca = readFileSync(join(dir, 'data', 'admin-tls', 'cert.pem'), 'utf8');
    const pinned = new Agent({ connect: { ca } });
    try {
      const boot = `http://127.0.0.1:${daemon.httpAddress.port}`;
      const admin = `https://127.0.0.1:${daemon.adminAddress.port}`;
      expect(daemon.adminAddress.fingerprint).toBe(certFingerprint(ca));
      expect((await request(`${boot}/boot.ipxe`)).statusCode).toBe(200);
      expect((await request(`${boot}/api/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(404);
      const nodes = await request(`${admin}/api/nodes`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: pinned });
      expect(nodes.statusCode).toBe(200);
      expect(((await nodes.body.json()) as { nodes: unknown[] }).nodes.length).toBe(5);
      // The admin port speaks only TLS: a plain HTTP request gets no page.
      await expect(request(`http://127.0.0.1:${daemon.adminAddress.port}/ui`, { headersTimeout: 2_000, bodyTimeout: 2_000 }).then((r) => r.statusCode)).rejects.toThrow();
    } finally {
      await pinned.close();
      await daemon.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('boot plane: the accept queue holds a rack that connects at once, not Node\'s default 511', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-planes-'));
    copyFileSync('inventory/cluster.yaml', join(dir, 'cluster.yaml'));
    writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nadminToken: ${TOKEN}\nlogLevel: warn\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1\n`);
    const daemon = await startDaemon(loadSettings({ config: join(dir, 'rackboot.yaml') }), pino({ level: 'silent' }));
    try {
      // For a listening socket, ss's Send-Q is the accept queue's length; the kernel caps it at somaxconn.
      const line = execFileSync('ss', ['-ltnH', `sport = :${daemon.httpAddress.port}`], { encoding: 'utf8' }).trim();
      const queue = Number(line.split(/\s+/)[2]);
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      expect(queue).toBe(Math.min(4096, somaxconn));
      expect(queue).toBeGreaterThan(511);
    } finally {
      await daemon.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
