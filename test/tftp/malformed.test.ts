// RFC 1350: a request the server cannot parse is answered with ERROR 4
// (illegal operation), not silence; strays that are not requests stay
// unanswered; error replies are budgeted per client address.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodePacket, encodeAck, encodeRequest } from '../../src/tftp/codec.js';
import { ErrorBudget, replyToMalformed } from '../../src/tftp/malformed.js';
import { startTftpService, type TftpService } from '../../src/tftp/server.js';
import { RawClient } from './raw-client.js';

let root: string;
let svc: TftpService | undefined;
let c: RawClient | undefined;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'rbt-malformed-'));
  writeFileSync(join(root, 'ipxe.efi'), Buffer.alloc(100, 1));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(async () => {
  c?.close();
  c = undefined;
  await svc?.close();
  svc = undefined;
});

async function start(): Promise<number> {
  svc = await startTftpService({
    settings: { tftp: { enabled: true, root, port: 0, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 8 } },
    host: '127.0.0.1', log: pino({ level: 'silent' }), retransmitMs: 200, maxRetries: 2,
  });
  c = await RawClient.open();
  return svc.port;
}

/** `| op | bytes… |` exactly as given. */
const raw = (op: number, ...parts: Array<string | 0>) =>
  Buffer.concat([Buffer.from([op >> 8, op & 0xff]), ...parts.map((p) => (p === 0 ? Buffer.from([0]) : Buffer.from(p, 'latin1')))]);

const MALFORMED: Array<[string, Buffer, RegExp]> = [
  ['an empty filename', raw(1, '', 0, 'octet', 0), /empty filename/],
  ['an unknown mode', raw(1, 'ipxe.efi', 0, 'binary', 0), /unknown transfer mode/],
  ['an unknown opcode (9)', raw(9, 'ipxe.efi', 0, 'octet', 0), /unknown opcode 9/],
];

describe('malformed requests over loopback', () => {
  it.each(MALFORMED)('answers %s with ERROR 4 and a message, from the listening port', async (_name, pkt, why) => {
    const port = await start();
    c!.send(pkt, port);
    const [r] = await c!.waitFor(1, 2000);
    expect(r!.from).toBe(port);
    expect(r!.packet).toMatchObject({ op: 'ERROR', code: 4 });
    expect(r!.packet?.op === 'ERROR' && r!.packet.message).toMatch(why);
    expect(svc!.metrics().totals.malformed).toBe(1);
  });

  it('stays silent to malformed packets that are not requests (a stray ACK, an ERROR), so two peers cannot loop', async () => {
    const port = await start();
    c!.send(Buffer.from([0, 4, 0, 1, 2]), port); // ACK of 5 bytes
    c!.send(Buffer.from([0, 5]), port); // ERROR too short
    c!.send(Buffer.from([0]), port);
    expect(await c!.quiet(300)).toBe(0);
    expect(svc!.metrics().totals.malformed).toBe(3);
  });

  it('budgets error replies per client: a flood gets at most 20 a second, and a good request is still served', async () => {
    const port = await start();
    for (let i = 0; i < 60; i++) c!.send(raw(9, 'x', 0), port);
    await c!.quiet(300);
    const errors = c!.received.length;
    expect(errors).toBeGreaterThanOrEqual(1);
    expect(errors).toBeLessThanOrEqual(40); // the flood may straddle a second boundary
    c!.send(encodeRequest('RRQ', 'ipxe.efi', 'octet'), port);
    const got = await c!.waitFor(errors + 1, 2000);
    const data = got[errors]!;
    expect(data.packet).toMatchObject({ op: 'DATA', block: 1 });
    c!.send(encodeAck(1), data.from);
  });
});

describe.skipIf(!existsSync('/usr/bin/curl'))('a real client', () => {
  it('curl with no filename (it sends an RRQ with an empty one) is told at once: ERROR 4, curl exit 71', async () => {
    const port = await start();
    const t0 = Date.now();
    // Async spawn: the service runs in this process and must answer meanwhile.
    const curl = spawn('curl', ['-s', '--max-time', '8', `tftp://127.0.0.1:${port}/`]);
    const code = await new Promise<number | null>((r) => curl.once('exit', (c) => r(c)));
    expect(code).toBe(71); // CURLE_TFTP_ILLEGAL: "Illegal TFTP operation"
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(svc!.metrics().totals.malformed).toBe(1);
  });
});

describe('replyToMalformed and ErrorBudget', () => {
  it('refuses every malformed RRQ/WRQ kind and unknown opcodes, and nothing else', () => {
    for (const [, pkt] of MALFORMED) {
      const d = decodePacket(pkt);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(replyToMalformed(pkt, d.error.kind)?.code).toBe(4);
    }
    expect(replyToMalformed(raw(2, 'a', 0, 'octet', 0, 'blksize', 0), 'odd-options')?.message).toMatch(/option has no value/);
    expect(replyToMalformed(raw(1, 'a'), 'unterminated-string')?.code).toBe(4);
    expect(replyToMalformed(Buffer.from([0, 3, 0]), 'too-short')).toBeUndefined();
    expect(replyToMalformed(Buffer.from([0, 6, 0x41]), 'unterminated-string')).toBeUndefined();
    expect(replyToMalformed(Buffer.from([0x12]), 'too-short')).toBeUndefined();
  });

  it('allows 20 a second per address, then starts over the next second', () => {
    const clock = { t: 5_000 };
    const b = new ErrorBudget(() => clock.t);
    const first = Array.from({ length: 25 }, () => b.allow('10.0.0.1')).filter(Boolean).length;
    expect(first).toBe(20);
    expect(b.allow('10.0.0.2')).toBe(true);
    clock.t += 1000;
    expect(b.allow('10.0.0.1')).toBe(true);
  });
});
