// A machine config made fit for a screen or the store: every value under a
// key that names a secret (a CA or service-account key, the machine and
// bootstrap tokens, the secretbox/aescbc encryption secrets, registry auth
// and passwords in a patch, a WireGuard private key, a disk-encryption
// passphrase…) is replaced, whatever document or patch it came from.
// Certificates (crt) stay: they are public and the operator may want to
// compare them. The page's view and day 2's stored copy of an applied config
// both come from here, so a diff between them shows only real changes.
// Pure: text in, text out.
import { isMap, isScalar, isSeq, parseAllDocuments, Scalar, visit } from 'yaml';

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

export function redactMachineConfig(text: string): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return '';
  return docs
    .map((doc) => {
      visit(doc, {
        Pair(_key, pair) {
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
