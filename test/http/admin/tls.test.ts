import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/settings/settings.js';
import { adminTlsMaterial, certFingerprint } from '../../../src/http/admin/tls.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function settingsIn(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'rb-tls-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\n${yaml}`);
  return { dir, settings: loadSettings({ config: join(dir, 'rackboot.yaml') }) };
}

describe('admin TLS material', () => {
  it('makes a self-signed certificate once, key 0600 whatever the umask, names the listen address, and keeps it', async () => {
    const { dir, settings } = settingsIn('http:\n  adminListen: 10.9.8.7:9443\n');
    const old = process.umask(0o022);
    let first;
    try {
      first = await adminTlsMaterial(settings);
    } finally {
      process.umask(old);
    }
    expect(first.generated).toBe(true);
    expect(statSync(join(dir, 'data', 'admin-tls', 'key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(first.cert);
    expect(cert.subjectAltName).toContain('IP Address:10.9.8.7');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(first.key))).toBe(true);
    expect(first.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(first.fingerprint).toBe(cert.fingerprint256);
    const again = await adminTlsMaterial(settings);
    expect(again.generated).toBe(false);
    expect(again.fingerprint).toBe(first.fingerprint);
  });

  it('uses the operator\'s files when http.adminTls names them', async () => {
    const made = settingsIn('');
    const pair = await adminTlsMaterial(made.settings);
    const { dir, settings } = settingsIn(`http:\n  adminTls:\n    cert: ${made.dir}/data/admin-tls/cert.pem\n    key: ${made.dir}/data/admin-tls/key.pem\n`);
    const used = await adminTlsMaterial(settings);
    expect(used.generated).toBe(false);
    expect(used.fingerprint).toBe(certFingerprint(pair.cert));
    expect(() => statSync(join(dir, 'data', 'admin-tls'))).toThrow();
  });
});
