// The names the OCI distribution API and image layouts use: repository
// names, tags, digests and manifest media types. Pure functions only.

/** Manifest media types we store and serve, OCI and Docker schema 2. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const INDEX_TYPES: readonly string[] = [OCI_INDEX, DOCKER_LIST];
export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
export const ALL_MANIFEST_TYPES: readonly string[] = [...INDEX_TYPES, ...MANIFEST_TYPES];

// Distribution spec, "Pulling manifests": `<name>` MUST match
// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
// and `<reference>` as a tag MUST be at most 128 characters and match
// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. A registry host such as ghcr.io is a
// valid first component, so `ghcr.io/siderolabs/installer` is one name here.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Only sha256: every digest we hold was computed here, and it names a file. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isRepositoryName(s: string): boolean {
  return s.length > 0 && s.length < 256 && NAME.test(s);
}

export function isTag(s: string): boolean {
  return TAG.test(s);
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** The hex part of a sha256 digest (the blob's file name). */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

export interface ImageRef {
  /** Repository name with the registry host, e.g. ghcr.io/siderolabs/installer. */
  name: string;
  tag: string;
}

/**
 * Parses `host/path:tag` (what `org.opencontainers.image.ref.name` holds in
 * an archive we export, and what `images list` prints). Docker Hub's short
 * forms are expanded the way docker does: `busybox` is
 * `docker.io/library/busybox`, and a first component without a dot, colon
 * or "localhost" is not a host.
 */
export function parseImageRef(ref: string): ImageRef | undefined {
  const at = ref.indexOf('@');
  if (at >= 0) return undefined;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return undefined;
  let name = ref.slice(0, colon);
  const tag = ref.slice(colon + 1);
  const first = name.split('/')[0]!;
  const hasHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) name = `docker.io/${name.includes('/') ? name : `library/${name}`}`;
  if (!isRepositoryName(name) || !isTag(tag)) return undefined;
  return { name, tag };
}

export function formatImageRef(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}`;
}
