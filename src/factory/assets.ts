// The local boot-asset cache: assets/<schematic>/<version>/kernel-<arch> and
// initramfs-<arch>.xz, the files the iPXE scripts point nodes at. Filled from
// Image Factory (`rackboot assets fetch`) or, on air-gapped sites, from a
// directory of files fetched elsewhere (`rackboot assets import`). Every
// file's size and sha256 go into the store's ledger.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { getAsset, recordAsset } from '../store/assets.js';
import { describeNetworkError, downloadFile, sha256File } from './download.js';
import { schematicId, schematicYaml, type SchematicInput } from './schematic.js';
import type { ProgressEvent } from './progress.js';
import { initramfsProblem, kernelProblem } from './asset-check.js';
import { isUkiName, ukiProblem } from './uki.js';

export const ARCHES = ['amd64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

/**
 * The arches whose kernel and initramfs the inventory needs: amd64 always
 * (the default), arm64 when an arm64 node boots through iPXE. An arm64
 * httpBoot: uki node boots its UKI alone (ukisIn lists it), which is how
 * arm64 boots where there is no arm64 iPXE build (branch arm64).
 */
export function archesIn(nodes: readonly { arch?: Arch; httpBoot?: string }[]): Arch[] {
  return nodes.some((n) => n.arch === 'arm64' && n.httpBoot !== 'uki') ? ['amd64', 'arm64'] : ['amd64'];
}

export const assetNames = (arch: Arch): string[] => [`kernel-${arch}`, `initramfs-${arch}.xz`];
export const assetDir = (assetsDir: string, schematic: string, version: string) => join(assetsDir, schematic, version);

export interface Timeouts { connectTimeoutMs?: number; idleTimeoutMs?: number }

/** POST /schematics: makes the factory know our schematic; its answer must be the ID we computed. */
export async function registerSchematic(factoryUrl: string, input: SchematicInput, t: Timeouts = {}): Promise<string> {
  const expected = schematicId(input);
  const url = `${factoryUrl}/schematics`;
  const agent = new Agent({ connect: { timeout: t.connectTimeoutMs ?? 10_000 }, headersTimeout: t.idleTimeoutMs ?? 30_000, bodyTimeout: t.idleTimeoutMs ?? 30_000 });
  try {
    const res = await request(url, { method: 'POST', body: schematicYaml(input), headers: { 'content-type': 'application/yaml', 'user-agent': 'rackboot' }, dispatcher: agent })
      .catch((err: unknown) => { throw describeNetworkError(err, url); });
    const text = await res.body.text();
    if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    const id = (JSON.parse(text) as { id?: string }).id;
    if (id !== expected) throw new Error(`the factory named the schematic ${id}, but rackboot computed ${expected}; refusing to cache under either`);
    return id;
  } finally {
    await agent.close().catch(() => undefined);
  }
}

export interface FetchRequest extends Timeouts {
  factoryUrl: string;
  assetsDir: string;
  db: Database.Database;
  schematic: SchematicInput;
  version: string;
  arch: Arch;
  register?: boolean;
  /** UKIs to fetch as well (src/factory/uki.ts ukisIn: the inventory's httpBoot: uki nodes of this arch). */
  ukis?: string[];
  onProgress?: (name: string) => { update(p: ProgressEvent): void; done(): void };
}

export interface CachedAsset { name: string; path: string; size: number; sha256: string; fetched: boolean }

/** Is the file on disk the one the ledger recorded? */
async function alreadyCached(db: Database.Database, schematic: string, version: string, name: string, path: string): Promise<CachedAsset | undefined> {
  const rec = getAsset(db, schematic, version, name);
  if (!rec || !existsSync(path) || statSync(path).size !== rec.size) return undefined;
  return (await sha256File(path)) === rec.sha256 ? { name, path, size: rec.size, sha256: rec.sha256, fetched: false } : undefined;
}

/** A fetch that failed: what it tried, so an operator can fetch the same files elsewhere. */
export class FetchError extends Error {
  constructor(readonly schematic: string, readonly urls: string[], reason: Error) {
    super(reason.message, { cause: reason });
  }
}

/**
 * Downloads the arch's kernel and initramfs. On failure nothing it created
 * stays behind empty (the version and schematic directories), and the
 * error carries the schematic ID and every URL it meant to fetch.
 */
export async function fetchAssets(r: FetchRequest): Promise<CachedAsset[]> {
  const id = schematicId(r.schematic);
  const urls = namesToFetch(r).map((name) => `${r.factoryUrl}/image/${id}/${r.version}/${name}`);
  const dirs = [assetDir(r.assetsDir, id, r.version), join(r.assetsDir, id)].filter((d) => !existsSync(d));
  try {
    return await fetchEach(r, id);
  } catch (err) {
    for (const d of dirs) removeIfEmpty(d);
    throw new FetchError(id, urls, err as Error);
  }
}

const namesToFetch = (r: FetchRequest) => [...assetNames(r.arch), ...(r.ukis ?? [])];

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Not there, or not empty: nothing to tidy.
  }
}

async function fetchEach(r: FetchRequest, id: string): Promise<CachedAsset[]> {
  if (r.register) await registerSchematic(r.factoryUrl, r.schematic, r);
  const out: CachedAsset[] = [];
  for (const name of namesToFetch(r)) {
    const path = join(assetDir(r.assetsDir, id, r.version), name);
    const cached = await alreadyCached(r.db, id, r.version, name, path);
    if (cached) {
      out.push(cached);
      continue;
    }
    const url = `${r.factoryUrl}/image/${id}/${r.version}/${name}`;
    const progress = r.onProgress?.(name);
    const got = await downloadFile({ url, dest: path, connectTimeoutMs: r.connectTimeoutMs, idleTimeoutMs: r.idleTimeoutMs, onProgress: progress?.update });
    progress?.done();
    recordAsset(r.db, { schematic: id, version: r.version, name, size: got.size, sha256: got.sha256, source: url });
    out.push({ name, path, size: got.size, sha256: got.sha256, fetched: true });
  }
  return out;
}

/** Reads a `sha256sum` listing (`<hex>  <name>` per line) if the directory has one. */
function checksums(dir: string): Map<string, string> | undefined {
  const file = ['sha256sum.txt', 'SHA256SUMS', 'sha256sums'].map((n) => join(dir, n)).find(existsSync);
  if (!file) return undefined;
  const sums = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) sums.set(basename(m[2]!), m[1]!.toLowerCase());
  }
  return sums;
}

export interface ImportRequest {
  dir: string; assetsDir: string; db: Database.Database; schematic: string; version: string;
  /** Copy progress per file, as for downloads (a bar on a terminal, plain lines otherwise). */
  onProgress?: FetchRequest['onProgress'];
}

/** Copies src to dest through a stream, reporting bytes as they land. */
async function copyWithProgress(src: string, dest: string, progress: ReturnType<NonNullable<ImportRequest['onProgress']>> | undefined): Promise<void> {
  const total = statSync(src).size;
  let received = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      progress?.update({ received, total, resumedFrom: 0 });
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(src), count, createWriteStream(dest));
  if (total === 0) progress?.update({ received: 0, total, resumedFrom: 0 });
  progress?.done();
}

/**
 * Copies kernel-<arch> and initramfs-<arch>.xz from `dir` into the cache
 * (temp file, then rename). Both files of an arch must be there; when the
 * directory carries a sha256sum listing, every imported file must match it.
 * UKIs (metal-<arch>[-secureboot]-uki.efi) come along when present, each
 * checked to be a PE/EFI image with a kernel in it.
 */
export async function importAssets(r: ImportRequest): Promise<CachedAsset[]> {
  const present = new Set(readdirSync(r.dir));
  const arches = ARCHES.filter((a) => assetNames(a).some((n) => present.has(n)));
  const ukis = [...present].filter(isUkiName).sort();
  if (arches.length === 0 && ukis.length === 0) throw new Error(`${r.dir} has none of ${ARCHES.flatMap(assetNames).join(', ')} (nor a metal-ARCH[-secureboot]-uki.efi)`);
  for (const a of arches) {
    const missing = assetNames(a).filter((n) => !present.has(n));
    if (missing.length > 0) throw new Error(`${r.dir}: ${a} is incomplete, missing ${missing.join(', ')}`);
  }
  // Every file checked before any is copied: a wrong file never lands in the cache.
  const problems: string[] = [];
  const names = [...arches.flatMap(assetNames), ...ukis];
  for (const name of names) {
    const src = join(r.dir, name);
    const problem = isUkiName(name) ? ukiProblem(src) : name.startsWith('kernel-') ? kernelProblem(src) : await initramfsProblem(src);
    if (problem) problems.push(`${src} ${problem}`);
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  const sums = checksums(r.dir);
  const out: CachedAsset[] = [];
  for (const name of names) {
    const src = join(r.dir, name);
    const sha256 = await sha256File(src);
    const want = sums?.get(name);
    if (sums && want !== sha256) throw new Error(`${src}: sha256 ${sha256} does not match the listing (${want ?? 'not listed'})`);
    const path = join(assetDir(r.assetsDir, r.schematic, r.version), name);
    const tmp = `${path}.import-${process.pid}`;
    mkdirSync(assetDir(r.assetsDir, r.schematic, r.version), { recursive: true });
    try {
      await copyWithProgress(src, tmp, r.onProgress?.(name));
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
    const size = statSync(path).size;
    recordAsset(r.db, { schematic: r.schematic, version: r.version, name, size, sha256, source: `import:${r.dir}` });
    out.push({ name, path, size, sha256, fetched: true });
  }
  return out;
}
