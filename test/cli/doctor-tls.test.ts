import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';
import { loadSettings } from '../../src/settings/settings.js';
import { adminTlsMaterial } from '../../src/http/admin/tls.js';

const tmp = tempDirs('rb-doctor-tls-');

interface Finding { level: string; check: string; detail: string; fix?: string }
const tlsFinding = (cfg: string) => (JSON.parse(runCli(['doctor', '--json', '--config', cfg]).stdout || '[]') as Finding[]).find((f) => f.check === 'admin TLS certificate');

describe('rackboot doctor: the admin certificate', () => {
  it('says one will be made, then shows the made one\'s SHA-256 fingerprint; a missing configured file fails', async () => {
    const dir = tmp();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\ninventory: ${process.cwd()}/inventory/cluster.yaml\n`);
    expect(tlsFinding(cfg)).toMatchObject({ level: 'ok', detail: expect.stringContaining('makes a self-signed one') });
    const made = await adminTlsMaterial(loadSettings({ config: cfg }));
    expect(tlsFinding(cfg)).toMatchObject({ level: 'ok', detail: expect.stringContaining(`(self-signed) SHA-256 ${made.fingerprint}`) });

    writeFileSync(cfg, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminTls:\n    cert: nope.crt\n    key: nope.key\ninventory: ${process.cwd()}/inventory/cluster.yaml\n`);
    expect(tlsFinding(cfg)).toMatchObject({ level: 'fail', fix: expect.stringContaining('remove http.adminTls') });
  });
});
