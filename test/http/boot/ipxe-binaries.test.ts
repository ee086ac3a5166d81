import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAppliance, type TestAppliance } from '../../helpers/appliance.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance({ withAssets: false });
  mkdirSync(a.settings.tftp.root, { recursive: true });
  writeFileSync(join(a.settings.tftp.root, 'ipxe.efi'), Buffer.alloc(4096, 0x4d));
  writeFileSync(join(a.dir, 'secret.txt'), 'outside the TFTP root');
  symlinkSync(join(a.dir, 'secret.txt'), join(a.settings.tftp.root, 'escape.efi'));
});
afterEach(async () => a.close());

describe('GET /ipxe/:file (UEFI HTTP boot binaries from the TFTP root)', () => {
  it('serves a binary from the TFTP root, an EFI image as application/efi (UEFI HTTP boot media type)', async () => {
    const res = await a.app.inject('/ipxe/ipxe.efi');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/efi');
    expect(res.headers['content-length']).toBe('4096');
    expect(res.rawPayload).toEqual(Buffer.alloc(4096, 0x4d));
  });

  it('serves other binaries (undionly.kpxe) as application/octet-stream', async () => {
    writeFileSync(join(a.settings.tftp.root, 'undionly.kpxe'), Buffer.alloc(100, 1));
    const res = await a.app.inject('/ipxe/undionly.kpxe');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe('100');
  });

  it('refuses names that leave the root, by path or by symlink, and missing files', async () => {
    for (const url of ['/ipxe/..%2Fsecret.txt', '/ipxe/escape.efi', '/ipxe/nope.efi', '/ipxe/..%5Csecret.txt']) {
      const res = await a.app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('outside the TFTP root');
    }
    // `/ipxe/..` normalises to `/`, which is the admin page's business (a redirect to login), never a file.
    const up = await a.app.inject('/ipxe/%2E%2E');
    expect(up.statusCode).not.toBe(200);
    expect(up.body).not.toContain('outside the TFTP root');
  });

  it('is read only', async () => {
    expect((await a.app.inject({ method: 'PUT', url: '/ipxe/ipxe.efi', payload: 'x' })).statusCode).toBe(404);
  });
});
