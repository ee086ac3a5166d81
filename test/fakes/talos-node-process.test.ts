// The fake node runs as its own process too (for the lab).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { loadAdminIdentity } from '../../src/talos/talosconfig.js';
import { freePort, waitFor } from '../talos/helpers.js';
import { minimalMachineConfig } from './machine-config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let proc: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('serves maintenance mode, takes a config, then answers the admin from its talosconfig over mTLS', async () => {
  dir = mkdtempSync(join(tmpdir(), 'fake-talos-'));
  const host = '127.0.68.1';
  const port = await freePort(host);
  proc = spawn(process.execPath, ['--import', './test/fakes/ts-register.mjs', 'test/fakes/talos-node-main.ts',
    '--listen', `${host}:${port}`, '--hostname', 'lab-cp1', '--pki-dir', dir, '--install-delay-ms', '50', '--profile', 'v1.12'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('listening on'), 20_000, `the fake to start: ${out}`);
  expect(out).toContain('Talos v1.12 profile');

  const m = await TalosClient.maintenance(`${host}:${port}`, { policy: { retries: 0 } });
  try {
    expect((await m.disks())[0]!.device_name).toBe('/dev/sda');
    // v1.12's maintenance service: Version is Unimplemented without a client certificate.
    await expect(m.version()).rejects.toMatchObject({ code: 12 });
    await m.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: readFileSync(join(dir, 'os-ca.crt'), 'utf8') }), 'AUTO');
  } finally {
    m.close();
  }
  const admin = loadAdminIdentity(join(dir, 'talosconfig'));
  const c = TalosClient.configured(`${host}:${port}`, admin, { policy: { retries: 5, backoffMs: 50 } });
  try {
    expect(await c.hostname()).toBe('lab-cp1');
  } finally {
    c.close();
  }
}, 40_000);
