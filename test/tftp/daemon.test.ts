// The daemon starts TFTP on the provisioning address and serves the
// generated chain script by name.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { loadSettings } from '../../src/settings/settings.js';
import { encodeAck, encodeRequest } from '../../src/tftp/codec.js';
import { RawClient } from './raw-client.js';

let dir: string;
let daemon: Daemon | undefined;
const port = 20000 + Math.floor(Math.random() * 30000);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rbt-daemon-'));
  mkdirSync(join(dir, 'ipxe'));
  writeFileSync(join(dir, 'ipxe', 'undionly.kpxe'), 'KPXE');
  writeFileSync(join(dir, 'rackboot.yaml'), `interface: lo
serverAddress: 127.0.0.1
dhcp: { mode: 'off' }
tftp: { root: ./ipxe, port: ${port} }
http: { listen: '127.0.0.1:0', adminListen: '127.0.0.1:0' }
console: { enabled: false }
inventory: ./cluster.yaml
`);
});
afterAll(async () => {
  await daemon?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('serves files and boot.ipxe over TFTP when tftp.enabled', async () => {
  const settings = loadSettings({ config: join(dir, 'rackboot.yaml') });
  daemon = await startDaemon(settings, pino({ level: 'silent' }));
  const c = await RawClient.open();
  try {
    c.send(encodeRequest('RRQ', 'boot.ipxe', 'octet', [['blksize', '1468']]), port);
    const [oack] = await c.waitFor(1);
    expect(oack!.packet).toEqual({ op: 'OACK', options: [['blksize', '1468']] });
    c.send(encodeAck(0), oack!.from);
    const [, d] = await c.waitFor(2);
    expect(d!.packet).toMatchObject({ op: 'DATA', block: 1 });
    const script = Buffer.from((d!.packet as { data: Uint8Array }).data).toString();
    expect(script).toMatch(/^#!ipxe\n/);
    expect(script).toContain(`set rackboot-url http://127.0.0.1:${daemon.httpAddress.port}`);
    c.send(encodeAck(1), d!.from);
    c.send(encodeRequest('RRQ', 'undionly.kpxe', 'octet'), port);
    const got = await c.waitFor(3);
    expect(Buffer.from((got[2]!.packet as { data: Uint8Array }).data).toString()).toBe('KPXE');
  } finally {
    c.close();
  }
});
