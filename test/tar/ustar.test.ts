import { describe, expect, it } from 'vitest';
import { BLOCK, checksumOk, headerName, headerNumber, paxPath, TarFormatError, typeFlag } from '../../src/tar/ustar.js';
import { readTar } from '../../src/talos/tar.js';

function record(key: string, value: string): Buffer {
  // LEN counts the record's own bytes, its digits included.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  len += String(len + String(len).length).length;
  return Buffer.from(`${len}${body}`);
}

function header(name: string, size: number, flag: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('        ', 148);
  h.write(flag, 156);
  h.write('ustar\x0000', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((BLOCK - (b.length % BLOCK)) % BLOCK)]);

describe('ustar header fields', () => {
  it('counts pax record lengths in bytes, so a non-ASCII path is read whole', () => {
    const pax = record('path', 'nœud-é/kubeconfig');
    expect(paxPath(pax)).toBe('nœud-é/kubeconfig');
    const archive = Buffer.concat([header('PaxHeaders/x', pax.length, 'x'), pad(pax), header('short', 3, '0'), pad(Buffer.from('ok\n'))]);
    expect(readTar(archive).map((e) => e.name)).toEqual(['nœud-é/kubeconfig']);
  });

  it('lets a later path record win, as POSIX pax says later records override', () => {
    expect(paxPath(Buffer.concat([record('path', 'a'), record('mtime', '1'), record('path', 'b')]))).toBe('b');
  });

  it('refuses a pax record whose length cannot hold it or runs past the data', () => {
    expect(() => paxPath(Buffer.from('3 path=x\n'))).toThrow(TarFormatError);
    expect(() => paxPath(Buffer.from('99 path=x\n'))).toThrow(/bad pax record length 99/);
    expect(() => paxPath(Buffer.from('path=x\n'))).toThrow(/no length/);
  });

  it('reads octal and GNU base-256 numbers and refuses other text', () => {
    const h = Buffer.alloc(BLOCK);
    h.write('00000000017\0', 124);
    expect(headerNumber(h, 124, 12, 'size')).toBe(15);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[134] = 0x02;
    h[135] = 0x00;
    expect(headerNumber(h, 124, 12, 'size')).toBe(512);
    h.write('12x\0', 124);
    expect(() => headerNumber(h, 124, 12, 'size')).toThrow(/bad size field "12x"/);
  });

  it('joins the ustar prefix to the name and reads NUL as a regular file', () => {
    const h = header('kubeconfig', 0, '\0');
    h.write('some/dir', 345);
    expect(headerName(h)).toBe('some/dir/kubeconfig');
    expect(typeFlag(h)).toBe('0');
  });

  it('checks the header checksum with its own field counted as spaces', () => {
    const h = header('x', 1, '0');
    expect(checksumOk(h)).toBe(true);
    h[0] = 'y'.charCodeAt(0);
    expect(checksumOk(h)).toBe(false);
  });
});
