// Parses a YAML file and checks it against a JSON schema, reporting every
// problem as FILE:LINE:COL. Used for both operator-edited files (the
// inventory and rackboot.yaml), so both give the same kind of errors.
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export interface PositionedError {
  file: string;
  line: number;
  col: number;
  message: string;
}

export type Locate = (path: (string | number)[]) => { line: number; col: number };

/**
 * A schema failure still carries the parsed data and a locator (`partial`), so
 * a caller can run its own checks over what is there and report every
 * problem in one pass; a YAML syntax error carries neither.
 */
export type Validated<T> =
  | { ok: true; data: T; locate: Locate }
  | { ok: false; errors: PositionedError[]; partial?: { data: unknown; locate: Locate } };

export function compileSchema(schema: object): ValidateFunction {
  return new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema);
}

export function parseValidated<T>(text: string, file: string, validate: ValidateFunction, fieldNames: Record<string, string> = {}): Validated<T> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const at = (offset: number | undefined, message: string): PositionedError => {
    const pos = lines.linePos(offset ?? 0);
    return { file, line: pos.line, col: pos.col, message };
  };
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => at(e.pos[0], e.message.split('\n')[0] ?? e.message)) };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // Unresolved aliases and alias bombs surface only when the document is built.
    return { ok: false, errors: [at(0, (err as Error).message)] };
  }
  const locate: Locate = (path) => {
    const pos = lines.linePos(nodeOf(doc, path)?.range?.[0] ?? 0);
    return { line: pos.line, col: pos.col };
  };
  if (!validate(data)) {
    const errors = withoutAlternativeSummaries(validate.errors ?? []).map((e) => at(offsetOf(doc, e), describe(e, fieldNames)));
    return { ok: false, errors: dedupe(errors), partial: { data, locate } };
  }
  return { ok: true, data: data as T, locate };
}

function nodeOf(doc: Document, path: (string | number)[]): YamlNode | undefined {
  if (path.length === 0) return (doc.contents as YamlNode | null) ?? undefined;
  const node = doc.getIn(path, true);
  return node && typeof node === 'object' && 'range' in (node as object) ? (node as YamlNode) : undefined;
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath.slice(1).split('/').map((p) => {
    const key = p.replaceAll('~1', '/').replaceAll('~0', '~');
    return /^\d+$/.test(key) ? Number(key) : key;
  });
}

/** Where an ajv error points in the file: the offending key for unknown keys, else the value. */
function offsetOf(doc: Document, e: ErrorObject): number | undefined {
  const path = pathOf(e.instancePath);
  const node = nodeOf(doc, path);
  if (e.keyword === 'additionalProperties' && node && isMap(node)) {
    const prop = (e.params as { additionalProperty: string }).additionalProperty;
    const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === prop);
    return (pair?.key as YamlNode | undefined)?.range?.[0] ?? node.range?.[0];
  }
  if (node) return node.range?.[0];
  // A null value (`cluster:` with nothing under it) has no node of its own; point at its parent.
  const parent = nodeOf(doc, path.slice(0, -1));
  if (parent && (isMap(parent) || isSeq(parent))) return parent.range?.[0];
  return 0;
}

function describe(e: ErrorObject, fieldNames: Record<string, string>): string {
  const where = e.instancePath === '' ? 'top level' : e.instancePath.slice(1).replaceAll('/', '.');
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}: unknown key "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `${where}: missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern': {
      const field = where.split('.').pop() ?? '';
      return `${where}: ${JSON.stringify(e.data)} is not a valid ${fieldNames[field] ?? field}`;
    }
    case 'type': {
      // `talosVersion: 1.11` is a number to YAML: say what form the field wants, as for a bad pattern.
      const field = where.split('.').pop() ?? '';
      const scalar = e.data === null || typeof e.data !== 'object';
      if (fieldNames[field] && scalar) return `${where}: ${JSON.stringify(e.data)} is not a valid ${fieldNames[field]}`;
      return `${where}: ${e.message ?? 'invalid'}`;
    }
    default:
      return `${where}: ${e.message ?? 'invalid'}`;
  }
}

/**
 * A value that fits none of its alternatives (installDisk: a path or a
 * selector; mac or macs) gets ajv's reasons for each alternative and then
 * "must match a schema in anyOf". The reasons say it; the summary only
 * repeats it, so it is kept only where it is the sole error for that value.
 */
function withoutAlternativeSummaries(errors: ErrorObject[]): ErrorObject[] {
  const isSummary = (e: ErrorObject) => e.keyword === 'anyOf' || e.keyword === 'oneOf';
  return errors.filter((e) => !isSummary(e) || !errors.some((o) => !isSummary(o) && (o.instancePath === e.instancePath || o.instancePath.startsWith(`${e.instancePath}/`))));
}

function dedupe(errors: PositionedError[]): PositionedError[] {
  const keys = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.line}:${e.col}:${e.message}`;
    return keys.has(k) ? false : (keys.add(k), true);
  });
}

export function formatPositionedError(e: PositionedError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}
