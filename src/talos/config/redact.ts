// A machine config made fit for a screen or the store: every value under a
// key that names a secret (a CA or service-account key, the machine and
// bootstrap tokens, the secretbox/aescbc encryption secrets, registry auth
// and passwords in a patch, a WireGuard private key, a disk-encryption
// passphrase…) is replaced, whatever document or patch it came from.
// Certificates (crt) stay: they are public and the operator may want to
// compare them.
// Secrets also hide in content, not only under secret names: the contents
// of machine.files are written to the node as they are (a key, a token, a
// containerd auth file), so every file's content is replaced; a cluster
// inline manifest keeps its text except that each `kind: Secret` document
// has the values of its data and stringData replaced (keys kept), and a
// manifest that is not YAML is replaced whole. The page's view and day 2's stored copy of an applied config
// both come from here, so a diff between them shows only real changes.
// Pure: text in, text out.
import { isMap, isScalar, isSeq, parseAllDocuments, Scalar, visit, type Document, type Pair } from 'yaml';

export const REDACTED = '(redacted)';

/**
 * Secret field names in Talos machine configs (pkg/machinery/config/types,
 * v1.11–v1.13): anything ending in key, token, secret, password or
 * passphrase (machine.token, *.key, cluster.secretboxEncryptionSecret,
 * identityToken, privateKey…), and registry `auth`.
 */
const SECRET_ENDING = /(key|token|secret|password|passphrase)$/i;

export function isSecretField(name: string): boolean {
  return SECRET_ENDING.test(name) || name === 'auth';
}

const hidden = (v: unknown) => (isScalar(v) && v.value !== '' && v.value !== null ? new Scalar(REDACTED) : v);

/** A string scalar replaced by `text`, keeping its style (a block literal stays one). */
function restyled(v: Scalar, text: string): Scalar {
  const out = new Scalar(text);
  out.type = v.type;
  return out;
}

/** A Kubernetes manifest stream with every Secret's data/stringData values replaced; a stream that is not YAML, replaced whole. */
export function redactManifests(text: string): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return text;
  if (docs.some((d) => d.errors.length)) return REDACTED;
  return docs
    .map((doc) => {
      if (doc.get('kind') === 'Secret') {
        for (const field of ['data', 'stringData']) {
          const m = doc.get(field, true);
          if (isMap(m)) for (const item of m.items) item.value = hidden(item.value) as typeof item.value;
        }
      }
      doc.directives.docStart = null;
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

/** Where in a machine config content holds secrets: a file's `content` (machine.files, an ExtensionServiceConfig's configFiles), an inline manifest's `contents`. */
function redactContent(pair: Pair, path: readonly unknown[]): boolean {
  if (!isScalar(pair.key) || !isScalar(pair.value) || typeof pair.value.value !== 'string') return false;
  const key = String(pair.key.value);
  const under = path.filter((p): p is Pair => isPairLike(p)).map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
  const parent = under.at(-1);
  if (key === 'content' && (parent === 'files' || parent === 'configFiles')) {
    if (pair.value.value !== '') pair.value = restyled(pair.value, REDACTED);
    return true;
  }
  if (key === 'contents' && parent === 'inlineManifests') {
    pair.value = restyled(pair.value, redactManifests(pair.value.value));
    return true;
  }
  return false;
}

const isPairLike = (p: unknown): p is Pair => typeof p === 'object' && p !== null && 'key' in p && 'value' in p;

export function redactMachineConfig(text: string): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return '';
  return docs
    .map((doc: Document.Parsed) => {
      visit(doc, {
        Pair(_key, pair, path) {
          if (redactContent(pair, path)) return visit.SKIP;
          if (!isScalar(pair.key) || !isSecretField(String(pair.key.value))) return undefined;
          // A map under a secret name (registry auth) keeps its shape: its own secret fields are found below.
          if (isMap(pair.value)) return undefined;
          if (isSeq(pair.value)) pair.value.items = pair.value.items.map(hidden);
          else pair.value = hidden(pair.value) as typeof pair.value;
          return visit.SKIP;
        },
      });
      // The separators are written once, below: a document that began with
      // its own `---` would otherwise get two, and a redacted copy redacted
      // again would no longer equal itself.
      doc.directives.docStart = null;
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}
