// The image cache in the data directory:
//   DATA/registry/blobs/sha256/<hex>   every blob and manifest, once, named by its digest
//   DATA/registry/repositories.json    which names and tags exist, and what each may serve
// A blob file appears only under its verified digest (imports stage and
// rename), and the JSON is replaced by rename, so a reader sees either the
// old catalogue or the new one. Blobs without a catalogue entry are never
// served; `images prune` removes them.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex, isDigest } from './reference.js';

export interface Repository {
  /** Tag → manifest (or index) digest. */
  tags: Record<string, string>;
  /** Every digest this name may serve: its manifests, indexes, configs and layers. */
  digests: string[];
}

export interface Catalogue {
  repositories: Record<string, Repository>;
  /** Manifest and index digests → media type (blobs that are not listed here are plain blobs). */
  manifests: Record<string, string>;
}

const EMPTY: Catalogue = { repositories: {}, manifests: {} };

export function registryDir(dataDir: string): string {
  return join(dataDir, 'registry');
}

export class ImageStore {
  readonly root: string;
  private cached: { mtimeMs: number; size: number; cat: Catalogue } | undefined;

  constructor(dataDir: string) {
    this.root = registryDir(dataDir);
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  private get catalogueFile(): string {
    return join(this.root, 'repositories.json');
  }

  /** The file holding `digest`; the digest is checked, so the path never leaves the blob directory. */
  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  hasBlob(digest: string): boolean {
    return isDigest(digest) && existsSync(this.blobPath(digest));
  }

  /** The catalogue, re-read when the file changed (an import by the CLI while the daemon serves). */
  catalogue(): Catalogue {
    let st;
    try {
      st = statSync(this.catalogueFile);
    } catch {
      return EMPTY;
    }
    if (this.cached && this.cached.mtimeMs === st.mtimeMs && this.cached.size === st.size) return this.cached.cat;
    const cat = JSON.parse(readFileSync(this.catalogueFile, 'utf8')) as Catalogue;
    this.cached = { mtimeMs: st.mtimeMs, size: st.size, cat };
    return cat;
  }

  /** Replaces the catalogue atomically. */
  saveCatalogue(cat: Catalogue): void {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const tmp = `${this.catalogueFile}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(cat, null, 1) + '\n', { mode: 0o600 });
    renameSync(tmp, this.catalogueFile);
    this.cached = undefined;
  }

  /** A digest `name` may serve, or undefined. */
  servable(name: string, digest: string): boolean {
    const repo = this.catalogue().repositories[name];
    return repo !== undefined && repo.digests.includes(digest) && this.hasBlob(digest);
  }

  /** Resolves a tag or digest to a manifest of `name`: its digest and media type. */
  manifest(name: string, reference: string): { digest: string; mediaType: string } | undefined {
    const cat = this.catalogue();
    const repo = cat.repositories[name];
    if (!repo) return undefined;
    const digest = isDigest(reference) ? reference : repo.tags[reference];
    if (!digest || !repo.digests.includes(digest)) return undefined;
    const mediaType = cat.manifests[digest];
    if (!mediaType || !this.hasBlob(digest)) return undefined;
    return { digest, mediaType };
  }

  /** Every `name:tag` held, sorted. */
  images(): { name: string; tag: string; digest: string }[] {
    const out: { name: string; tag: string; digest: string }[] = [];
    for (const [name, repo] of Object.entries(this.catalogue().repositories)) {
      for (const [tag, digest] of Object.entries(repo.tags)) out.push({ name, tag, digest });
    }
    return out.sort((a, b) => `${a.name}:${a.tag}`.localeCompare(`${b.name}:${b.tag}`));
  }

  /** Digests of the blob files on disk. */
  blobDigests(): string[] {
    if (!existsSync(this.blobsDir)) return [];
    return readdirSync(this.blobsDir).filter((f) => /^[a-f0-9]{64}$/.test(f)).map((f) => `sha256:${f}`);
  }

  /** Bytes held in blob files. */
  size(): number {
    let total = 0;
    for (const d of this.blobDigests()) total += statSync(this.blobPath(d)).size;
    return total;
  }

  /** A fresh staging directory on the same file system as the blobs (so rename works). */
  stagingDir(): string {
    mkdirSync(this.blobsDir, { recursive: true, mode: 0o700 });
    const dir = join(this.root, `staging-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  }

  /** Removes staging directories left by an import that was killed. */
  clearStaleStaging(): void {
    if (!existsSync(this.root)) return;
    for (const f of readdirSync(this.root)) if (f.startsWith('staging-')) rmSync(join(this.root, f), { recursive: true, force: true });
  }

  /**
   * Drops every image whose `name:tag` is not in `keep` from the catalogue,
   * then deletes the blobs no remaining image uses (and staging left by a
   * killed import). The catalogue goes first: a blob is never deleted while
   * a tag still leads to it.
   */
  prune(keep: Set<string>): { images: string[]; blobs: number; bytes: number } {
    const cat: Catalogue = structuredClone(this.catalogue());
    const removed: string[] = [];
    for (const [name, repo] of Object.entries(cat.repositories)) {
      for (const tag of Object.keys(repo.tags)) {
        if (keep.has(`${name}:${tag}`)) continue;
        delete repo.tags[tag];
        removed.push(`${name}:${tag}`);
      }
      if (Object.keys(repo.tags).length === 0) delete cat.repositories[name];
    }
    // A repository's digests are the union of its images': recompute them
    // from the tags left, so the blobs only a dropped tag used go too.
    const reach = (d: string, acc: Set<string>) => {
      if (acc.has(d)) return;
      acc.add(d);
      if (!cat.manifests[d] || !this.hasBlob(d)) return;
      const m = JSON.parse(readFileSync(this.blobPath(d), 'utf8')) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
      for (const child of [...(m.manifests ?? []), ...(m.config ? [m.config] : []), ...(m.layers ?? [])]) reach(child.digest, acc);
    };
    const used = new Set<string>();
    for (const repo of Object.values(cat.repositories)) {
      const mine = new Set<string>();
      for (const d of Object.values(repo.tags)) reach(d, mine);
      repo.digests = [...mine].sort();
      for (const d of mine) used.add(d);
    }
    for (const d of Object.keys(cat.manifests)) if (!used.has(d)) delete cat.manifests[d];
    if (removed.length > 0) this.saveCatalogue(cat);
    let blobs = 0;
    let bytes = 0;
    for (const d of this.blobDigests()) {
      if (used.has(d)) continue;
      bytes += statSync(this.blobPath(d)).size;
      unlinkSync(this.blobPath(d));
      blobs++;
    }
    this.clearStaleStaging();
    return { images: removed.sort(), blobs, bytes };
  }
}
