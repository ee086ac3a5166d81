import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../src/talos/errors.js';
import { readTar, tarFile } from '../../src/talos/tar.js';
import { kubeconfigArchive } from '../fakes/talos-cluster.js';

const withoutMarker = () => gunzipSync(kubeconfigArchive('hello: world\n'));

describe('tar reader', () => {
  it('reads the one file of an archive without an end-of-archive marker', () => {
    const tar = withoutMarker();
    expect(tar.length % 512).toBe(0);
    expect(tarFile(tar, 'kubeconfig').toString()).toBe('hello: world\n');
  });

  it('also reads it with the two zero blocks present', () => {
    const tar = Buffer.concat([withoutMarker(), Buffer.alloc(1024)]);
    expect(readTar(tar).map((e) => e.name)).toEqual(['kubeconfig']);
  });

  it('accepts a last entry whose padding is missing', () => {
    const tar = withoutMarker();
    expect(tarFile(tar.subarray(0, 512 + 13), 'kubeconfig').toString()).toBe('hello: world\n');
  });

  it('refuses a truncated entry instead of returning part of it', () => {
    expect(() => tarFile(withoutMarker().subarray(0, 512 + 5), 'kubeconfig')).toThrow(ArchiveError);
    expect(() => readTar(withoutMarker().subarray(0, 100))).toThrow(/truncated header/);
  });

  it('refuses a header with a bad checksum', () => {
    const tar = Buffer.from(withoutMarker());
    tar[0] = 'K'.charCodeAt(0);
    expect(() => readTar(tar)).toThrow(/checksum/);
  });

  it('reports a missing file by name', () => {
    expect(() => tarFile(withoutMarker(), 'talosconfig')).toThrow(/no file talosconfig/);
  });

  it('takes the name from a pax path record', () => {
    const tar = withoutMarker();
    const pax = Buffer.from(tar.subarray(0, 512));
    const record = '19 path=kubeconfig\n';
    pax.fill(0, 0, 100);
    pax.write('PaxHeaders/x', 0);
    pax.write(record.length.toString(8).padStart(11, '0') + '\0', 124);
    pax[156] = 'x'.charCodeAt(0);
    pax.write('        ', 148);
    let sum = 0;
    for (const b of pax) sum += b;
    pax.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const body = Buffer.alloc(512);
    body.write(record);
    const renamed = Buffer.from(tar);
    renamed.fill(0, 0, 100);
    renamed.write('other-name', 0);
    renamed.write('        ', 148);
    sum = 0;
    for (const b of renamed.subarray(0, 512)) sum += b;
    renamed.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    expect(tarFile(Buffer.concat([pax, body, renamed]), 'kubeconfig').toString()).toBe('hello: world\n');
  });
});
