// Machine configs hold the cluster's keys and tokens. What rackboot keeps
// of an applied config, and what it shows of a diff, has every secret value
// replaced by a marker, so a stored copy or a printed plan is readable and
// harmless. Pure functions: text in, text out.
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { isSecretField, REDACTED, redactMachineConfig } from '../talos/config/redact.js';

export { REDACTED };

/** The config's documents with every secret value replaced (talos/config/redact.ts); throws on bytes that are not YAML. */
export function redactConfig(text: string): string {
  for (const d of parseAllDocuments(text)) if (d.errors.length) throw new Error(`config is not YAML: ${d.errors[0]!.message}`);
  return redactMachineConfig(text);
}

const CONTENT_FIELDS = new Set(['content', 'contents']);

/**
 * A unified diff of YAML as Talos returns it (configdiff.DiffConfigs): the
 * lines whose field is a secret keep their marker and indentation and lose
 * their value. Block scalars under a secret field lose every continuation line.
 * A file's `content` and an inline manifest's `contents` count as secret
 * here: a diff's lines cannot tell a Secret manifest from another, so all of
 * it is hidden (redactConfig keeps a non-Secret manifest readable).
 */
export function redactDiff(diff: string): string {
  const out: string[] = [];
  let blockIndent = -1;
  for (const line of diff.split('\n')) {
    const marker = /^[ +-]/.test(line) && !line.startsWith('---') && !line.startsWith('+++') ? line[0]! : '';
    const body = marker ? line.slice(1) : line;
    const indent = body.length - body.trimStart().length;
    if (blockIndent >= 0 && marker && body.trim() !== '' && indent > blockIndent) continue;
    blockIndent = -1;
    const m = /^(\s*(?:-\s+)?)([A-Za-z][\w]*):(\s*)(.*)$/.exec(body);
    if (marker && m && (isSecretField(m[2]!) || CONTENT_FIELDS.has(m[2]!)) && m[4]!.trim() !== '') {
      // A block scalar's lines are deeper than its key's column (after a sequence's "- " too).
      if (/^[|>]/.test(m[4]!.trim())) blockIndent = m[1]!.length;
      out.push(`${marker}${m[1]}${m[2]}: ${REDACTED}`);
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

export function configSha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
