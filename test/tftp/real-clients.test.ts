// Real TFTP clients (curl, tftp-hpa, atftp) against rackboot's TFTP service
// across a veth pair between two namespaces this test creates and removes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPrerequisites } from '../helpers/netns.js';
import { TftpLab } from './netns-lab.js';

const why = missingPrerequisites(['/usr/bin/curl', '/usr/bin/tftp', '/usr/bin/atftp', '/usr/bin/tcpdump']);
const SECRET = 'RBT-SECRET-' + randomBytes(8).toString('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let root: string;
let lab: TftpLab | undefined;
let capture: ChildProcess | undefined;
const files: Record<string, Buffer> = {};
let n = 0;
const out = () => join(dir, 'out', `f${n++}`);

describe.skipIf(why)('TFTP with real clients in network namespaces', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rbt-real-'));
    root = join(dir, 'root');
    mkdirSync(root);
    mkdirSync(join(dir, 'out'));
    files['big.bin'] = randomBytes(2 * 1024 * 1024);
    // 75 001 blocks at blksize 8: the block number rolls over past 65535.
    files['roll.bin'] = randomBytes(600_000);
    files['exact.bin'] = randomBytes(512 * 20);
    files['text.txt'] = Buffer.from('line one\nline two\r\nbare\rcr\n'.repeat(200));
    for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
    writeFileSync(join(dir, 'secret'), SECRET);
    symlinkSync(join(dir, 'secret'), join(root, 'out-link'));
    lab = new TftpLab({ net: 61 });
    capture = lab.serverNs.spawn('tcpdump', ['-i', lab.serverIf, '-U', '-s', '0', '-w', join(dir, 'capture.pcap'), 'udp']);
    await lab.startServer({ root });
    await new Promise((r) => setTimeout(r, 500)); // tcpdump attaches
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const url = (name: string) => `tftp://${lab!.serverIp}/${name}`;

  function expectFile(path: string, name: string): void {
    expect(existsSync(path), `${path} written`).toBe(true);
    expect(sha(readFileSync(path))).toBe(sha(files[name]!));
  }

  it('curl with default options (tsize, blksize 512, timeout 6)', () => {
    const o = out();
    const r = lab!.client('curl', ['-sS', '--fail', '-o', o, url('big.bin')]);
    expect(r.status, r.out).toBe(0);
    expectFile(o, 'big.bin');
  });

  it('curl --tftp-blksize 1468', () => {
    const o = out();
    expect(lab!.client('curl', ['-sS', '--tftp-blksize', '1468', '-o', o, url('big.bin')]).status).toBe(0);
    expectFile(o, 'big.bin');
  });

  it('curl --tftp-no-options', () => {
    const o = out();
    expect(lab!.client('curl', ['-sS', '--tftp-no-options', '-o', o, url('big.bin')]).status).toBe(0);
    expectFile(o, 'big.bin');
  });

  it('curl with blksize 8: block numbers roll over past 65535', () => {
    const o = out();
    expect(lab!.client('curl', ['-sS', '--tftp-blksize', '8', '-o', o, url('roll.bin')], 120_000).status).toBe(0);
    expectFile(o, 'roll.bin');
  }, 120_000);

  it('tftp-hpa, which sends no options (binary mode, and a file of exact 512-byte multiple)', () => {
    for (const name of ['big.bin', 'exact.bin']) {
      const o = out();
      lab!.client('tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', name, o]);
      expectFile(o, name);
    }
  });

  it('tftp-hpa in netascii mode gets the text back exactly', () => {
    const o = out();
    lab!.client('tftp', ['-m', 'netascii', lab!.serverIp, '-c', 'get', 'text.txt', o]);
    expectFile(o, 'text.txt');
  });

  it.each([
    [['--option', 'windowsize 8']],
    [['--option', 'blksize 1468']],
    [['--option', 'windowsize 8', '--option', 'blksize 1468', '--option', 'tsize 0']],
  ])('atftp %j', (opts) => {
    const o = out();
    const r = lab!.client('atftp', [...opts, '-g', '-r', 'big.bin', '-l', o, lab!.serverIp]);
    expect(r.status, r.out).toBe(0);
    expectFile(o, 'big.bin');
  });

  it('serves 20 concurrent curl clients correctly', async () => {
    const outs = Array.from({ length: 20 }, () => out());
    await Promise.all(outs.map((o) => new Promise<void>((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', lab!.clientNs.name, 'curl', '-sS', '--tftp-blksize', '1468', '-o', o, url('big.bin')], { stdio: 'ignore' });
      const t = setTimeout(() => (p.kill('SIGKILL'), reject(new Error('curl timed out'))), 60_000);
      p.on('exit', (code) => (clearTimeout(t), code === 0 ? resolve() : reject(new Error(`curl exited ${code}`))));
    })));
    for (const o of outs) expectFile(o, 'big.bin');
  }, 90_000);

  it('ends the transfer of a curl killed mid-transfer (ICMP port unreachable), and keeps serving', async () => {
    const before = await lab!.metrics();
    const o = out();
    // blksize 8: 75 001 round trips, so the transfer is still running when curl dies.
    const p = lab!.clientNs.spawn('curl', ['-sS', '--tftp-blksize', '8', '-o', o, url('roll.bin')]);
    for (let i = 0; i < 200 && !(existsSync(o) && statSync(o).size > 8 * 1000); i++) await new Promise((r) => setTimeout(r, 10));
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    let m = await lab!.metrics();
    // curl asks for timeout 6 (RFC 2349): the retransmission that meets the closed port leaves 6 s after the last DATA.
    for (let i = 0; i < 300 && m.activeTransfers > 0; i++) (await new Promise((r) => setTimeout(r, 50)), (m = await lab!.metrics()));
    expect(m.activeTransfers).toBe(0);
    expect(m.totals.aborted - before.totals.aborted).toBe(1);
    expect(m.totals.timeouts - before.totals.timeouts).toBe(0);
    const again = out();
    expect(lab!.client('curl', ['-sS', '--tftp-blksize', '1468', '-o', again, url('big.bin')]).status).toBe(0);
    expectFile(again, 'big.bin');
  }, 60_000);

  it('refuses traversal, out-of-root symlinks and writes with ERRORs, and keeps serving', async () => {
    const attempts: Array<[string, string[]]> = [
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', '../secret', out()]],
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', '..\\secret', out()]],
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', `/${join(dir, 'secret').slice(1)}`, out()]],
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', 'out-link', out()]],
      ['tftp', ['-m', 'netascii', lab!.serverIp, '-c', 'get', 'big.bin\r', out()]],
      ['atftp', ['-g', '-r', '../../../../etc/passwd', '-l', out(), lab!.serverIp]],
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'get', 'missing.efi', out()]],
      ['tftp', ['-m', 'binary', lab!.serverIp, '-c', 'put', join(dir, 'secret'), 'uploaded']],
      ['atftp', ['-p', '-l', join(dir, 'secret'), '-r', 'uploaded2', lab!.serverIp]],
    ];
    const before = await lab!.metrics();
    const said: string[] = [];
    for (const [cmd, args] of attempts) said.push(lab!.client(cmd, args, 30_000).out);
    expect(said.join('\n')).toMatch(/Access violation|File not found/);
    const m = await lab!.metrics();
    const d = (k: keyof typeof m.totals) => m.totals[k] - before.totals[k];
    expect(d('denied')).toBeGreaterThanOrEqual(6);
    expect(d('notFound')).toBe(1);
    expect(d('writeRefused')).toBe(2);
    expect(existsSync(join(root, 'uploaded'))).toBe(false);
    expect(existsSync(join(root, 'uploaded2'))).toBe(false);
    // Still serving.
    const o = out();
    expect(lab!.client('curl', ['-sS', '-o', o, url('exact.bin')]).status).toBe(0);
    expectFile(o, 'exact.bin');
  }, 120_000);

  it('never sent a byte from outside the root (packet capture), and counted per client', async () => {
    await new Promise((r) => setTimeout(r, 300));
    capture!.kill('SIGTERM');
    await new Promise((r) => capture!.once('exit', r));
    const pcap = readFileSync(join(dir, 'capture.pcap'));
    expect(pcap.length).toBeGreaterThan(2 * 1024 * 1024); // the capture did see the transfers
    // The secret only ever travels client -> server (the refused uploads' content is never requested);
    // no DATA from the server carries it. A WRQ is refused before any DATA is accepted.
    expect(pcap.includes(Buffer.from(SECRET))).toBe(false);
    expect(pcap.includes(Buffer.from('root:x:0:0'))).toBe(false);
    const m = await lab!.metrics();
    const me = m.clients.find((c) => c.ip === lab!.clientIp)!;
    expect(me.counters.completed).toBeGreaterThanOrEqual(30);
    expect(me.counters.timeouts).toBe(0);
    // The default path: the native ACK receiver answered most ACKs (ack-fast-path.ts).
    expect(me.counters.nativeAckWindows).toBeGreaterThan(10_000);
    expect(me.events.some((e) => e.kind === 'denied')).toBe(true);
    expect(m.activeTransfers).toBe(0);
    expect(lab!.stderr).not.toMatch(/"level":(50|60)/);
  });
});
