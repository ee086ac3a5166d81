// Fuzz of images import: whatever the archive's bytes (flipped, cut, spliced),
// importArchive either imports images whose every blob hashes to its digest
// or throws ImportError, and never leaves a staging directory or a blob
// without a catalogue entry behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/registry/image-store.js';
import { importArchive, ImportError } from '../../src/registry/oci-archive.js';
import { buildImage, tarLayout, writeLayout } from '../helpers/oci-image.js';
import { FUZZ_SEED, prng } from '../helpers/fuzz.js';

const CASES = 300;
let dir: string;
let archive: Buffer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-fuzz-oci-'));
  const img = await buildImage('ghcr.io/fuzz/img:v1', 'fuzz', { layerBytes: 2000 });
  writeLayout(join(dir, 'layout'), [img]);
  tarLayout(join(dir, 'layout'), join(dir, 'good.tar'));
  archive = readFileSync(join(dir, 'good.tar'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mutate(b: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(b);
  switch (Math.floor(rand() * 4)) {
    case 0: { // flip a few bytes anywhere (headers, JSON, blobs)
      for (let i = 0; i < 1 + rand() * 4; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
      return out;
    }
    case 1: return out.subarray(0, Math.floor(rand() * out.length));
    case 2: { // splice a block from elsewhere over one
      const from = Math.floor(rand() * (out.length / 512)) * 512;
      const to = Math.floor(rand() * (out.length / 512)) * 512;
      out.copy(out, to, from, from + 512);
      return out;
    }
    default: { // rewrite a size or checksum field with digits
      const block = Math.floor(rand() * (out.length / 512)) * 512;
      out.write(Math.floor(rand() * 0o77777777).toString(8).padStart(11, '0'), block + (rand() < 0.5 ? 124 : 148), 'latin1');
      return out;
    }
  }
}

describe('importArchive fuzz', () => {
  it(`${CASES} mutated archives: imported intact or refused with ImportError, nothing left half-done (seed ${FUZZ_SEED})`, async () => {
    const rand = prng(FUZZ_SEED);
    let refused = 0;
    for (let n = 0; n < CASES; n++) {
      const data = join(dir, `data-${n}`);
      const file = join(dir, 'case.tar');
      writeFileSync(file, mutate(archive, rand));
      const store = new ImageStore(data);
      try {
        await importArchive(store, file);
        for (const d of store.blobDigests()) expect(createHash('sha256').update(readFileSync(store.blobPath(d))).digest('hex')).toBe(d.slice(7));
      } catch (err) {
        expect(err, `case ${n}: ${(err as Error).message}`).toBeInstanceOf(ImportError);
        refused++;
        expect(store.blobDigests(), `case ${n}`).toEqual([]);
        expect(store.images()).toEqual([]);
      }
      expect(existsSync(store.root) ? readdirSync(store.root).filter((f) => f.startsWith('staging-')) : []).toEqual([]);
      rmSync(data, { recursive: true, force: true });
    }
    expect(refused).toBeGreaterThan(CASES / 2);
  }, 120_000);
});
