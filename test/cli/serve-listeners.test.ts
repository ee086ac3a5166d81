// `rackboot serve` with a port already taken: whichever listener it is, the
// daemon exits non-zero with one line on stderr naming the address, and no
// stack trace anywhere in its output.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, runCli } from '../helpers/cli.js';
import { Netns, uniqueSuffix } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-listen-');
const holders: Array<Server | Socket> = [];
afterEach(() => {
  for (const h of holders.splice(0)) h.close();
});

async function holdTcp(): Promise<number> {
  const s = createServer();
  holders.push(s);
  await new Promise<void>((r) => s.listen({ port: 0, host: '127.0.0.1', exclusive: true }, r));
  return (s.address() as { port: number }).port;
}

async function holdUdp(): Promise<number> {
  const s = createSocket({ type: 'udp4', reuseAddr: false });
  holders.push(s);
  await new Promise<void>((r) => s.bind({ port: 0, address: '127.0.0.1', exclusive: true }, r));
  return s.address().port;
}

/** A settings file: everything off that the case does not turn on, console on a free port unless given. */
function settingsFile(dir: string, body: string): string {
  const inv = join(dir, 'cluster.yaml');
  copyFileSync(join(REPO, 'inventory/cluster.yaml'), inv);
  const cfg = join(dir, 'rackboot.yaml');
  writeFileSync(cfg, `dataDir: ${dir}/data\ninventory: ${inv}\nlogLevel: info\n${body}`);
  return cfg;
}

function expectOneLineNaming(r: { code: number; stdout: string; stderr: string }, address: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBe(-1); // exited by itself, not killed by the timeout
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(address);
  expect(lines[0]).toContain('address already in use (EADDRINUSE)');
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\bat \S+ \(|\n\s+at /);
}

describe('serve cannot bind a listener', () => {
  it('HTTP (tcp): one line with the address, exit 1', async () => {
    const port = await holdTcp();
    const dir = tmp();
    const cfg = settingsFile(dir, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\n`);
    const r = runCli(['serve', '--config', cfg, '--http-listen', `127.0.0.1:${port}`]);
    expectOneLineNaming(r, new RegExp(`^rackboot: HTTP cannot listen on tcp 127\\.0\\.0\\.1:${port}: `));
  });

  it('admin HTTPS (tcp): one line with the address, exit 1', async () => {
    const port = await holdTcp();
    const dir = tmp();
    const cfg = settingsFile(dir, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n`);
    const r = runCli(['serve', '--config', cfg, '--admin-listen', `127.0.0.1:${port}`]);
    expectOneLineNaming(r, new RegExp(`^rackboot: admin HTTPS cannot listen on tcp 127\\.0\\.0\\.1:${port}: `));
  });

  it('TFTP (udp): one line with the address, exit 1', async () => {
    const port = await holdUdp();
    const http = await holdTcp();
    holders.pop()!.close(); // a free TCP port for HTTP
    const dir = tmp();
    const cfg = settingsFile(dir, `interface: lo\nserverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  port: ${port}\n  root: ${dir}\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:${http}\n  adminListen: 127.0.0.1:0\n`);
    const r = runCli(['serve', '--config', cfg]);
    expectOneLineNaming(r, new RegExp(`^rackboot: TFTP cannot listen on udp 127\\.0\\.0\\.1:${port}: `));
  });

  it('console receiver (udp): one line with the address, exit 1 (it used to warn and run without consoles)', async () => {
    const port = await holdUdp();
    const http = await holdTcp();
    holders.pop()!.close();
    const dir = tmp();
    const cfg = settingsFile(dir, `serverAddress: 127.0.0.1\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  port: ${port}\nhttp:\n  listen: 127.0.0.1:${http}\n  adminListen: 127.0.0.1:0\n`);
    const r = runCli(['serve', '--config', cfg]);
    expectOneLineNaming(r, new RegExp(`^rackboot: console receiver cannot listen on udp 127\\.0\\.0\\.1:${port}: `));
  });

  it('DHCP (udp 67, bound to the interface): one line with the address, exit 1', async () => {
    // Port 67 is fixed, so the holder and the daemon run in a namespace of their own.
    const ns = Netns.create(`rbl${uniqueSuffix()}`);
    try {
      const holder = ns.spawn(process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.bind({port:67,address:'0.0.0.0',exclusive:true},()=>console.log('held'))`]);
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d) => String(d).includes('held') && resolve());
        holder.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
      });
      const dir = tmp();
      const cfg = settingsFile(dir, `interface: lo\nserverAddress: 127.0.0.1\ndhcp:\n  mode: proxy\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:8080\n`);
      const res = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'serve', '--config', cfg], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
      const r = { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
      expectOneLineNaming(r, /^rackboot: DHCP cannot listen on udp 0\.0\.0\.0:67 on lo: /);
    } finally {
      await ns.destroy();
    }
  });
});
