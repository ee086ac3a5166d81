// `rackboot images fetch`: pulls images from their registries (or from one
// mirror) over the OCI distribution API into the cache, on a machine with a
// network. Everything lands in a staging directory first and is verified
// (manifests and blobs hash to the digests that name them) before the same
// commit as an archive import, so a failed fetch adds nothing.
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { ImageStore } from './image-store.js';
import { commitStaged, walk, type Descriptor, type ImportedImage, type Progress } from './oci-archive.js';
import { ALL_MANIFEST_TYPES, INDEX_TYPES, digestHex, isDigest, type ImageRef } from './reference.js';

export interface FetchOptions {
  /**
   * Pull everything from this base URL (another rackboot, or a mirror that
   * understands containerd's `?ns=<registry>`), instead of each image's own registry.
   */
  from?: string;
  onProgress?: (what: string) => Progress;
  timeoutMs?: number;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Docker Hub's API lives on another host than its image names say. */
function registryBase(host: string): string {
  return host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`;
}

/** `Bearer realm="…",service="…",scope="…"` (the token flow every public registry uses for anonymous pulls). */
function parseChallenge(h: string | string[] | undefined): Record<string, string> | undefined {
  const v = [h].flat().find((x) => x && /^bearer\s/i.test(x));
  if (!v) return undefined;
  const out: Record<string, string> = {};
  for (const m of v.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!.toLowerCase()] = m[2]!;
  return out.realm ? out : undefined;
}

class Repo {
  private token: string | undefined;
  private readonly base: string;
  private readonly path: string;
  private readonly ns: string | undefined;

  constructor(name: string, private readonly opts: FetchOptions) {
    const slash = name.indexOf('/');
    const host = name.slice(0, slash);
    this.path = name.slice(slash + 1);
    if (opts.from) {
      this.base = opts.from.replace(/\/+$/, '');
      this.ns = host;
    } else {
      this.base = registryBase(host);
      this.ns = undefined;
    }
  }

  url(kind: 'manifests' | 'blobs', ref: string): string {
    return `${this.base}/v2/${this.path}/${kind}/${ref}${this.ns ? `?ns=${encodeURIComponent(this.ns)}` : ''}`;
  }

  /** GET with the registry token (fetched once on a 401) and redirects followed; auth never goes to another host. */
  async get(url: string, accept?: string): Promise<Dispatcher.ResponseData> {
    const origin = new URL(url).origin;
    for (let hop = 0, authTried = false; hop < 6; hop++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (this.token && new URL(url).origin === origin) headers.authorization = `Bearer ${this.token}`;
      const res = await request(url, { headers, headersTimeout: this.opts.timeoutMs ?? 30_000, bodyTimeout: this.opts.timeoutMs ?? 30_000 });
      if (res.statusCode === 401 && !authTried) {
        await res.body.dump();
        const c = parseChallenge(res.headers['www-authenticate']);
        if (!c) throw new Error(`${url}: 401 without a bearer challenge`);
        const t = new URL(c.realm!);
        if (c.service) t.searchParams.set('service', c.service);
        if (c.scope) t.searchParams.set('scope', c.scope);
        const tr = await request(t, { headersTimeout: this.opts.timeoutMs ?? 30_000 });
        if (tr.statusCode !== 200) throw new Error(`token service ${t.origin} answered ${tr.statusCode}`);
        const body = (await tr.body.json()) as { token?: string; access_token?: string };
        this.token = body.token ?? body.access_token;
        authTried = true;
        hop--;
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location) {
        await res.body.dump();
        url = new URL(String(res.headers.location), url).toString();
        continue;
      }
      return res;
    }
    throw new Error(`${url}: too many redirects`);
  }
}

async function fail(res: Dispatcher.ResponseData, what: string): Promise<never> {
  const text = (await res.body.text()).slice(0, 300);
  throw new Error(`${what}: HTTP ${res.statusCode} ${text}`);
}

/** Pulls `refs` into the cache; all or nothing. */
export async function fetchImages(store: ImageStore, refs: ImageRef[], opts: FetchOptions = {}): Promise<ImportedImage[]> {
  const staging = store.stagingDir();
  const staged = new Set<string>();
  const have = (d: string) => staged.has(d) || store.hasBlob(d);
  const file = (d: string) => (staged.has(d) ? join(staging, digestHex(d)) : store.hasBlob(d) ? store.blobPath(d) : undefined);
  try {
    const images: ImportedImage[] = [];
    const manifests: Record<string, string> = {};
    for (const ref of refs) {
      const repo = new Repo(ref.name, opts);
      const what = `${ref.name}:${ref.tag}`;

      const getManifest = async (reference: string): Promise<{ digest: string; body: Buffer; mediaType: string }> => {
        const res = await repo.get(repo.url('manifests', reference), ALL_MANIFEST_TYPES.join(', '));
        if (res.statusCode !== 200) return fail(res, `${what}: manifest ${reference}`);
        const body = Buffer.from(await res.body.arrayBuffer());
        const digest = sha(body);
        const claimed = res.headers['docker-content-digest'];
        if (isDigest(reference) ? digest !== reference : typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
          throw new Error(`${what}: manifest ${reference} hashes to ${digest}, not what the registry named it`);
        }
        const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (!staged.has(digest)) {
          writeFileSync(join(staging, digestHex(digest)), body, { mode: 0o600 });
          staged.add(digest);
        }
        return { digest, body, mediaType };
      };

      const getBlob = async (d: Descriptor) => {
        if (have(d.digest)) return;
        const res = await repo.get(repo.url('blobs', d.digest));
        if (res.statusCode !== 200) return fail(res, `${what}: blob ${d.digest}`);
        const progress = opts.onProgress?.(`${what} ${d.digest.slice(7, 19)}`);
        const hash = createHash('sha256');
        const out = createWriteStream(join(staging, digestHex(d.digest)), { mode: 0o600 });
        let n = 0;
        try {
          for await (const piece of res.body as AsyncIterable<Buffer>) {
            hash.update(piece);
            n += piece.length;
            if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
            progress?.(n, d.size);
          }
        } finally {
          out.end();
          await finished(out);
        }
        const got = `sha256:${hash.digest('hex')}`;
        if (got !== d.digest) throw new Error(`${what}: blob ${d.digest} arrived as ${got} (${n} bytes); nothing was fetched`);
        staged.add(d.digest);
      };

      const pull = async (reference: string, expected?: string): Promise<Descriptor> => {
        const m = await getManifest(reference);
        const doc = JSON.parse(m.body.toString('utf8')) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
        const mediaType = doc.mediaType ?? (ALL_MANIFEST_TYPES.includes(m.mediaType) ? m.mediaType : expected);
        if (!mediaType || !ALL_MANIFEST_TYPES.includes(mediaType)) throw new Error(`${what}: ${m.digest} is not a manifest type rackboot serves (${mediaType ?? 'none'})`);
        if (INDEX_TYPES.includes(mediaType)) for (const child of doc.manifests ?? []) await pull(child.digest, child.mediaType);
        else for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) await getBlob(blob);
        return { mediaType, digest: m.digest, size: m.body.length };
      };

      const top = await pull(ref.tag);
      images.push({ ...ref, digest: top.digest, digests: [...walk(top, file, manifests)] });
    }
    commitStaged(store, staging, staged, images, manifests);
    return images;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
