// The daemon as an operator runs it (a child process, umask 022, stdout not
// a terminal): SIGHUP reloads instead of killing it, the data directory and
// store are private, and a generated admin token lands in a 0600 file and
// nowhere in the output.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { copyFileSync, existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { CLI, REPO } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-serve-');
let daemon: (ChildProcess & { output: () => string }) | undefined;
afterEach(async () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon!.once('exit', r));
  }
  daemon = undefined;
});

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A GET on the admin plane (HTTPS), trusting the certificate the daemon made in its data directory. */
function adminGet(dataDir: string, port: number, path: string, token: string) {
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(dataDir, 'admin-tls', 'cert.pem'), 'utf8') } });
  return request(`https://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` }, dispatcher });
}

/** `rackboot serve` under umask 022, output captured (so stdout is a pipe, not a terminal). */
function serveUnderUmask022(args: string[]): ChildProcess & { output: () => string } {
  const p = spawn('sh', ['-c', 'umask 022; exec "$0" "$@"', process.execPath, CLI, 'serve', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return Object.assign(p, { output: () => out });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}\n${daemon?.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const logLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('rackboot serve as a process', () => {
  it('SIGHUP reloads the inventory and the live settings, names what needs a restart, and the daemon keeps running', async () => {
    const dir = tmp();
    const inv = join(dir, 'cluster.yaml');
    copyFileSync(join(REPO, 'inventory/cluster.yaml'), inv);
    // The watcher notices changes by inode, size and mtime: this edit keeps all
    // three, so only the SIGHUP can bring it in (as on a filesystem without inotify).
    utimesSync(inv, 1_700_000_000, 1_700_000_000);
    const port = await freePort();
    const cfg = join(dir, 'rackboot.yaml');
    const tftpPort = await freeUdpPort();
    const adminPort = await freePort();
    const settings = (level: string, listen: string) => `dataDir: ${dir}/data\ninventory: ${inv}\nlogLevel: ${level}\ninterface: lo\nserverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  port: ${tftpPort}\n  root: ${dir}\nconsole:\n  enabled: false\nhttp:\n  listen: ${listen}\n  adminListen: 127.0.0.1:${adminPort}\n`;
    // A malformed TFTP packet (a stray short ACK: dropped, not answered) is logged at debug by the TFTP service's logger, made at start.
    const malformed = async () => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.send(Buffer.from([0, 4, 1]), tftpPort, '127.0.0.1', () => r()));
      s.close();
      await new Promise((r) => setTimeout(r, 200));
    };
    const debugLines = () => logLines(daemon!.output()).filter((l) => l.level === 20 && l.svc === 'tftp');
    writeFileSync(cfg, settings('info', `127.0.0.1:${port}`));
    daemon = serveUnderUmask022(['--config', cfg]);
    await until('serving', () => daemon!.output().includes('rackboot serving'));
    const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    const names = async () => ((await adminGet(join(dir, 'data'), adminPort, '/api/nodes', token).then((r) => r.body.json())) as { nodes: Array<{ name: string }> }).nodes.map((n) => n.name);
    expect(await names()).toContain('worker-2');

    writeFileSync(inv, readFileSync(inv, 'utf8').replace('name: worker-2', 'name: worker-9'));
    utimesSync(inv, 1_700_000_000, 1_700_000_000);
    writeFileSync(cfg, settings('debug', `127.0.0.1:${port + 1}`));
    await new Promise((r) => setTimeout(r, 1500)); // past the watcher's poll and debounce
    expect(await names()).toContain('worker-2');
    await malformed();
    expect(debugLines()).toEqual([]);

    daemon.kill('SIGHUP');
    await until('reloaded', () => logLines(daemon!.output()).some((l) => l.msg === 'reloaded'));
    const reloaded = logLines(daemon.output()).find((l) => l.msg === 'reloaded')!;
    expect(reloaded).toMatchObject({ settingsOk: true, applied: ['logLevel'], needRestart: ['http.listen'], inventoryOk: true, log: 'stdout (nothing to reopen)' });
    expect(logLines(daemon.output()).find((l) => l.msg === 'reload: these changed settings take effect only after a restart')).toMatchObject({ needRestart: ['http.listen'] });
    const after = await names();
    expect(after).toContain('worker-9');
    expect(after).not.toContain('worker-2');
    expect(daemon.exitCode).toBeNull();
    // The new level reached the service loggers made at start.
    await malformed();
    expect(debugLines().map((l) => l.msg)).toEqual(['TFTP malformed packet dropped']);

    // A broken settings file on reload is reported and changes nothing.
    writeFileSync(cfg, 'dhcp:\n  mode: everything\n');
    daemon.kill('SIGHUP');
    await until('second reload', () => logLines(daemon!.output()).filter((l) => l.msg === 'reloaded').length === 2);
    expect(logLines(daemon.output()).filter((l) => l.msg === 'reloaded')[1]).toMatchObject({ settingsOk: false, applied: [], inventoryOk: true });
    expect(daemon.output()).toContain(`${cfg}:2:9: dhcp.mode: must be one of`);

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => daemon!.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });

  it('under umask 022 the data directory is 0700, the store and its -wal/-shm 0600, and the admin token is in a 0600 file only', async () => {
    const dir = tmp();
    const data = join(dir, 'state', 'data');
    const port = await freePort();
    const adminPort = await freePort();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, 'console:\n  enabled: false\n');
    daemon = serveUnderUmask022(['--config', cfg, '--no-dhcp', '--no-tftp', '--http-listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--data-dir', data, '--inventory', join(REPO, 'inventory/cluster.yaml')]);
    await until('serving', () => daemon!.output().includes('rackboot serving'));
    expect(mode(data)).toBe('700');
    for (const f of ['rackboot.db', 'rackboot.db-wal', 'rackboot.db-shm', 'admin-token']) {
      expect(existsSync(join(data, f)), f).toBe(true);
      expect(mode(join(data, f)), f).toBe('600');
    }
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const ok = await adminGet(data, adminPort, '/api/nodes', token);
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    expect(daemon.output()).not.toContain(token);
    expect(logLines(daemon.output()).find((l) => l.msg?.toString().startsWith('generated an admin token'))).toMatchObject({ file: join(data, 'admin-token') });
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
    expect(daemon.output()).not.toContain(token);
  });
});
