// A machine config made fit for a screen: every value under a key that
// names a secret (a CA or service-account key, the machine and bootstrap
// tokens, the secretbox/aescbc encryption secrets, passwords in a registry
// patch, a WireGuard private key…) is replaced, whatever document or patch
// it came from. Certificates (crt) stay: they are public and the operator
// may want to compare them. Pure: text in, text out.
import { isMap, isScalar, isSeq, parseAllDocuments, Scalar, visit, type Node } from 'yaml';

export const REDACTED = '(redacted)';

/** Key names whose values are secret: anything ending in key, token, secret, password or passphrase. */
const SECRET_KEY = /(key|token|secret|password|passphrase)$/i;

function redactedCopy(value: unknown): Node {
  // Keep the shape of a map or list so the operator sees what is there, not what it is.
  if (isMap(value)) {
    for (const item of value.items) item.value = redactedCopy(item.value);
    return value;
  }
  if (isSeq(value)) {
    value.items = value.items.map((v) => redactedCopy(v));
    return value;
  }
  return new Scalar(REDACTED);
}

export function redactMachineConfig(text: string): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return '';
  return docs
    .map((doc) => {
      visit(doc, {
        Pair(_key, pair) {
          if (isScalar(pair.key) && SECRET_KEY.test(String(pair.key.value)) && pair.value !== null) {
            pair.value = redactedCopy(pair.value);
            return visit.SKIP;
          }
          return undefined;
        },
      });
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}
