// TFTP on an IPv6 address (what option 59 tftp://[addr]/file points at):
// curl, a real TFTP client, fetches a file over ::1.
import { afterAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTftpService } from '../../src/tftp/server.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-tftp6-');
let close: (() => Promise<void>) | undefined;
afterAll(async () => { await close?.(); });

it('serves a file to a TFTP client over IPv6', async () => {
  const root = join(tmp(), 'ipxe');
  mkdirSync(root);
  const body = Buffer.alloc(5000, 7);
  writeFileSync(join(root, 'snponly.efi'), body);
  const port = 20000 + Math.floor(Math.random() * 30000);
  const svc = await startTftpService({
    settings: { tftp: { enabled: true, root, port, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 8 } },
    host: '::1', log: pino({ level: 'silent' }),
  });
  close = () => svc.close();
  // Asynchronously: the server runs in this process.
  const { stdout: got } = await promisify(execFile)('curl', ['-sS', '-m', '10', '--tftp-blksize', '1400', `tftp://[::1]:${port}/snponly.efi`], { encoding: 'buffer' });
  expect(got.equals(body)).toBe(true);
});
