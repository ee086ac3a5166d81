// Machine-config patches as the inventory writes them, applied as talosctl
// applies `--config-patch` (configpatcher/apply.go): an object is a
// strategic merge patch document (strategic.ts), a list an RFC 6902 JSON
// Patch, and a string is patch text as a Talos doc prints it: YAML, one or
// more documents (strategic), or a YAML list (JSON Patch). Like talosctl,
// a JSON Patch works only on a single-document config. Inputs are never mutated.
import { parseAllDocuments } from 'yaml';
import { strategicMerge, type ConfigDoc } from './strategic.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class PatchError extends Error {}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** RFC 6901 JSON Pointer → reference tokens (~1 is '/', ~0 is '~'). */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`path ${JSON.stringify(pointer)} is not a JSON pointer (RFC 6901 §3)`);
  return pointer.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function arrayIndex(arr: Json[], token: string, forAdd: boolean): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`${JSON.stringify(token)} is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`index ${i} is out of range (length ${arr.length})`);
  return i;
}

function parentOf(doc: Json, path: string[], pointer: string): Json {
  let node = doc;
  for (const t of path.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, t, false)]!;
    else if (isObject(node) && t in node) node = node[t]!;
    else throw new PatchError(`path ${pointer} does not exist`);
  }
  return node;
}

function getAt(doc: Json, pointer: string): Json {
  let node = doc;
  for (const t of tokens(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, t, false)]!;
    else if (isObject(node) && t in node) node = node[t]!;
    else throw new PatchError(`path ${pointer} does not exist`);
  }
  return node;
}

function add(doc: Json, pointer: string, value: Json): Json {
  const path = tokens(pointer);
  if (path.length === 0) return clone(value);
  const parent = parentOf(doc, path, pointer);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, clone(value));
  else if (isObject(parent)) parent[last] = clone(value);
  else throw new PatchError(`path ${pointer}: parent is not an object or array`);
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  const path = tokens(pointer);
  if (path.length === 0) throw new PatchError('cannot remove the whole document');
  const parent = parentOf(doc, path, pointer);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else throw new PatchError(`path ${pointer} does not exist`);
  return doc;
}

const deepEqual = (a: Json, b: Json): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const canonical = (v: Json): Json =>
  Array.isArray(v) ? v.map(canonical) : isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k]!)])) : v;

/** RFC 6902 §4: add, remove, replace, move, copy, test, applied in order; any failure fails the whole patch. */
export function jsonPatch(target: Json, ops: unknown[]): Json {
  let doc = clone(target);
  ops.forEach((raw, i) => {
    try {
      if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError('each operation needs string "op" and "path"');
      const { op, path } = raw;
      const need = (k: string): Json => {
        if (!(k in raw)) throw new PatchError(`"${op}" needs "${k}"`);
        return raw[k]!;
      };
      switch (op) {
        case 'add': doc = add(doc, path, need('value')); break;
        case 'remove': doc = remove(doc, path); break;
        case 'replace': getAt(doc, path); doc = add(remove(doc, path), path, need('value')); break;
        case 'move': {
          const from = need('from') as string;
          if (path.startsWith(from + '/')) throw new PatchError(`cannot move ${from} into its own child ${path}`);
          const value = clone(getAt(doc, from));
          doc = add(remove(doc, from), path, value);
          break;
        }
        case 'copy': doc = add(doc, path, clone(getAt(doc, need('from') as string))); break;
        case 'test': if (!deepEqual(getAt(doc, path), need('value'))) throw new PatchError(`test failed at ${path}`); break;
        default: throw new PatchError(`unknown op ${JSON.stringify(op)}`);
      }
    } catch (err) {
      throw new PatchError(`operation ${i}: ${(err as Error).message}`);
    }
  });
  return doc;
}

export interface NamedPatch {
  /** Where the patch came from, e.g. cluster.patches.all[0] or nodes[cp-1].patches[1]. */
  source: string;
  patch: Record<string, unknown> | unknown[] | string;
}

type Parsed = { json: unknown[] } | { strategic: ConfigDoc[] };

/** A string patch as talosctl reads a patch file: YAML documents, or one YAML list (a JSON Patch). */
function parsePatchText(text: string): Parsed {
  const values: unknown[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length > 0) throw new PatchError(`not YAML: ${d.errors[0]!.message}`);
    const v = d.toJS() as unknown;
    if (v !== null && v !== undefined) values.push(v);
  }
  if (values.length === 1 && Array.isArray(values[0])) return { json: values[0] };
  if (values.some((v) => !isObject(v))) throw new PatchError('each document of a patch must be a mapping (or the whole patch one list of JSON Patch operations)');
  return { strategic: values as ConfigDoc[] };
}

function parsed(patch: NamedPatch['patch']): Parsed {
  if (typeof patch === 'string') return parsePatchText(patch);
  return Array.isArray(patch) ? { json: patch } : { strategic: [patch as ConfigDoc] };
}

/** Applies patches in order to a config's documents. An error names the patch and the node it was applied for. */
export function applyPatches(docs: ConfigDoc[], patches: NamedPatch[], nodeName: string): ConfigDoc[] {
  let out = docs;
  for (const p of patches) {
    try {
      const patch = parsed(p.patch);
      if ('json' in patch) {
        // configpatcher/json6902.go: refused for multi-document configs.
        if (out.length !== 1) throw new PatchError('JSON6902 patches are not supported for multi-document machine configuration (Talos ≥ 1.12 configs have several documents): write it as a strategic merge patch');
        out = [jsonPatch(out[0]!, patch.json) as ConfigDoc];
      } else {
        out = strategicMerge(out, patch.strategic);
      }
    } catch (err) {
      throw new PatchError(`patch ${p.source} failed for node ${nodeName}: ${(err as Error).message}`);
    }
  }
  return out;
}
