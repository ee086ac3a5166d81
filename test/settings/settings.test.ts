import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SettingsError } from '../../src/settings/settings.js';
import { resolveProvisioningAddress } from '../../src/net/interfaces.js';

const dirs: string[] = [];
function settingsFile(text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'rb-settings-'));
  dirs.push(d);
  const f = join(d, 'rackboot.yaml');
  writeFileSync(f, text);
  return f;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function errorsOf(text: string) {
  try {
    loadSettings({ config: settingsFile(text) });
  } catch (err) {
    if (err instanceof SettingsError) return err.errors;
    throw err;
  }
  throw new Error('expected a SettingsError');
}

describe('settings', () => {
  it('defaults are safe on a shared network: proxy DHCP, no pool, relative to the working directory', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'rb-cwd-'));
    dirs.push(cwd);
    const s = loadSettings({}, cwd);
    expect(s.file).toBeUndefined();
    expect(s.dhcp.mode).toBe('proxy');
    expect(s.dhcp.pool).toBeUndefined();
    // An ACKed lease survives power loss unless the operator chooses otherwise.
    expect(s.dhcp.leaseDurability).toBe('power');
    expect(s.dataDir).toBe(join(cwd, 'data'));
    expect(s.inventory).toBe(join(cwd, 'inventory/cluster.yaml'));
    expect(s.tftp).toMatchObject({ enabled: true, port: 69, maxBlksize: 1468 });
    expect(s.http.allowAnonymousRead).toBe(false);
    // The admin plane is on loopback unless the operator names a management address.
    expect(s.http.adminListen).toBe('127.0.0.1:8443');
    expect(s.http.adminTls).toBeUndefined();
  });

  it('the admin plane: its own port, certificate files relative to the settings file, a flag wins', () => {
    const f = settingsFile('http:\n  adminListen: 192.168.1.5:9443\n  adminTls:\n    cert: tls/admin.crt\n    key: tls/admin.key\n');
    const dir = f.slice(0, f.lastIndexOf('/'));
    const s = loadSettings({ config: f });
    expect(s.http.adminListen).toBe('192.168.1.5:9443');
    expect(s.http.adminTls).toEqual({ cert: join(dir, 'tls/admin.crt'), key: join(dir, 'tls/admin.key') });
    expect(loadSettings({ config: f, adminListen: '127.0.0.1:0' }).http.adminListen).toBe('127.0.0.1:0');
    expect(errorsOf('http:\n  listen: 0.0.0.0:8080\n  adminListen: 127.0.0.1:8080\n')[0]!.message).toContain('needs its own port');
    expect(errorsOf('http:\n  adminTls:\n    cert: a.pem\n')[0]!.message).toContain('key');
  });

  it('resolves paths relative to the settings file and lets flags win', () => {
    const f = settingsFile('dataDir: state\ninventory: inv.yaml\nhttp:\n  listen: 127.0.0.1:9000\n');
    const dir = f.slice(0, f.lastIndexOf('/'));
    const s = loadSettings({ config: f });
    expect(s.dataDir).toBe(join(dir, 'state'));
    expect(s.inventory).toBe(join(dir, 'inv.yaml'));
    const o = loadSettings({ config: f, dataDir: '/tmp/x', httpListen: '127.0.0.1:9001', noDhcp: true, noTftp: true });
    expect([o.dataDir, o.http.listen, o.dhcp.mode, o.tftp.enabled]).toEqual(['/tmp/x', '127.0.0.1:9001', 'off', false]);
  });

  it.each([
    ['dhcp:\n  mode: everything\n', 2, 'dhcp.mode: must be one of "full", "proxy", "off"'],
    ['serverAddress: 10.0.0.256\n', 1, 'serverAddress: "10.0.0.256" is not a valid IPv4 address'],
    ['tftp:\n  maxBlksize: 8\n', 2, 'tftp.maxBlksize: must be >= 512'],
    ['colour: blue\n', 1, 'top level: unknown key "colour"'],
    ['http:\n  listen: nowhere\n', 2, 'http.listen: "nowhere" is not a valid HOST:PORT'],
    ['dhcp:\n  leaseDurability: never\n', 2, 'dhcp.leaseDurability: must be one of "power", "process"'],
  ])('refuses %j with file:line', (text, line, message) => {
    const errs = errorsOf(text);
    expect(errs[0]).toMatchObject({ line, message });
  });

  it('full mode without a subnet is refused with a reason', () => {
    expect(errorsOf('dhcp:\n  mode: full\n')[0]!.message).toContain('needs it');
  });
});

describe('resolveProvisioningAddress', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eno1: [{ address: '192.0.2.5', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:00:00:01', internal: false, cidr: '192.0.2.5/24' }],
    eno2: [{ address: '10.77.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:00:00:02', internal: false, cidr: '10.77.0.1/24' }],
  } as unknown as Parameters<typeof resolveProvisioningAddress>[1];

  it('uses the configured interface', () => {
    expect(resolveProvisioningAddress({ interface: 'eno2' }, ifaces)).toMatchObject({ iface: 'eno2', address: '10.77.0.1' });
  });
  it('finds the interface by serverAddress', () => {
    expect(resolveProvisioningAddress({ serverAddress: '10.77.0.1' }, ifaces)).toMatchObject({ iface: 'eno2' });
  });
  it('refuses to guess between several interfaces', () => {
    expect(resolveProvisioningAddress({}, ifaces)).toEqual({ error: expect.stringContaining('several interfaces') });
  });
  it('says when the interface is missing', () => {
    expect(resolveProvisioningAddress({ interface: 'eth9' }, ifaces)).toEqual({ error: expect.stringContaining('does not exist') });
  });
});

describe('resolveProvisioningAddress with a link that is down', () => {
  it('starts with the configured address when the interface exists but is not listed (no carrier)', () => {
    // "lo" always exists in /sys/class/net; an empty listing stands for "down".
    expect(resolveProvisioningAddress({ interface: 'lo', serverAddress: '10.77.0.1' }, {})).toMatchObject({ iface: 'lo', address: '10.77.0.1', how: expect.stringContaining('link is down') });
    expect(resolveProvisioningAddress({ interface: 'lo' }, {})).toEqual({ error: expect.stringContaining('is down or has no carrier') });
    expect(resolveProvisioningAddress({ interface: 'rb-nope0', serverAddress: '10.77.0.1' }, {})).toEqual({ error: expect.stringContaining('does not exist') });
  });
});

// branch pg-suite (issue 21): `store: postgres://…` is the setting; `scaleOut.postgres` its older name.
describe('store', () => {
  const load = (text: string) => loadSettings({ config: settingsFile(text) });

  it('absent: the embedded SQLite store (no shared database)', () => {
    expect(load('logLevel: info\n').scaleOut?.postgres).toBeUndefined();
  });

  it('store: postgres://… names the shared database; scaleOut.postgres still works, alone or with the same value', () => {
    expect(load('store: postgres://rackboot@db.example/rackboot\n').scaleOut?.postgres).toBe('postgres://rackboot@db.example/rackboot');
    expect(load('scaleOut:\n  postgres: host=/run/pg dbname=rackboot\n').scaleOut?.postgres).toBe('host=/run/pg dbname=rackboot');
    expect(load('store: postgresql://r@h/d\nscaleOut:\n  postgres: postgresql://r@h/d\n  dhcpPollMs: 250\n').scaleOut).toEqual({ postgres: 'postgresql://r@h/d', dhcpSegment: undefined, dhcpPollMs: 250 });
  });

  it('refuses two different databases, and a store that is not PostgreSQL, naming the key', () => {
    expect(errorsOf('store: postgres://r@h/a\nscaleOut:\n  postgres: postgres://r@h/b\n').map((e) => e.message))
      .toEqual(['store and scaleOut.postgres name different databases; scaleOut.postgres is the older name of store: keep only store']);
    const [bad] = errorsOf('store: mysql://r@h/a\n');
    expect(bad).toMatchObject({ line: 1, message: 'store: "mysql://r@h/a" is not a valid postgres:// URI or libpq connection string' });
  });

  it('an error about store never shows its password, in the message or the errors a reload logs', () => {
    for (const text of ['store: postgress://rb:s3cret@db/rackboot\n', 'scaleOut:\n  postgres: Host=db password=s3cret\n', 'store: 42\nscaleOut:\n  postgres: "x://rb:s3cret@db/a b"\n']) {
      let thrown: unknown;
      try {
        loadSettings({ config: settingsFile(text) });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(SettingsError);
      const e = thrown as SettingsError;
      expect(e.errors.length).toBeGreaterThan(0);
      expect(e.message).not.toContain('s3cret');
      for (const one of e.errors) expect(one.message).not.toContain('s3cret');
      expect(e.message).toContain('***');
    }
  });
});
