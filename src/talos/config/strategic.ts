// Strategic merge patches as talosctl applies them (siderolabs/talos
// pkg/machinery/config/configpatcher/strategic.go, merge/merge.go and
// configloader/internal/decoder/delete.go + selector.go, v1.11.5–v1.13.x),
// restated for plain JSON documents:
// - a patch is one or more documents; one without apiVersion/kind patches
//   the v1alpha1 document, a typed one (apiVersion, kind, name if any) the
//   document with the same identity, or is added when there is none;
// - objects merge key by key; a scalar replaces; null changes nothing;
// - lists are appended to, except podSubnets, serviceSubnets and auditPolicy
//   (replaced), machine.network.interfaces (merged by interface name or
//   equal deviceSelector), their vlans (by vlanId) and
//   apiServer.admissionControl (by name), and ExtensionServiceConfig's
//   configFiles (by mountPath);
// - `$patch: delete` in an object deletes that key from the config; in a
//   list item it deletes the config's first item with the same value for
//   the item's first other key; at the top of a typed document it deletes the document. Deletes
//   run before the rest of the patch document merges.
import { PatchError, type Json } from './patch.js';

type Obj = { [k: string]: Json };
export type ConfigDoc = Obj;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);
const V1ALPHA1 = 'v1alpha1';

/** A document's identity: `v1alpha1` for the legacy document, else apiVersion/kind[/name]. */
export function documentId(doc: Obj): string {
  if (doc.kind === undefined && doc.apiVersion === undefined) return V1ALPHA1;
  return [doc.apiVersion, doc.kind, ...(typeof doc.name === 'string' && doc.name ? [doc.name] : [])].join('/');
}

/** Paths (list indices left out) in the v1alpha1 document whose lists or maps a patch replaces. */
const REPLACE = new Set(['cluster.network.podSubnets', 'cluster.network.serviceSubnets', 'cluster.apiServer.auditPolicy']);
/** The same for typed documents, by kind (network/rule_config.go). */
const REPLACE_TYPED: Record<string, Set<string>> = { NetworkRuleConfig: new Set(['ingress', 'portSelector.ports']) };

const sameJson = (a: Json | undefined, b: Json | undefined) => JSON.stringify(a) === JSON.stringify(b);

type Match = (left: Obj, right: Obj) => boolean;

/** Lists whose items merge with the item they match (v1alpha1_types.go Merge methods). */
const KEYED: Record<string, Match> = {
  'machine.network.interfaces': (l, r) =>
    typeof r.interface === 'string' && r.interface !== '' ? l.interface === r.interface
      : r.deviceSelector !== undefined && l.deviceSelector !== undefined && sameJson(l.deviceSelector, r.deviceSelector),
  'machine.network.interfaces.vlans': (l, r) => r.vlanId !== undefined && l.vlanId === r.vlanId,
  'cluster.apiServer.admissionControl': (l, r) => l.name === r.name,
};
/** The same for typed documents, by kind (runtime/extensions/service_config.go). */
const KEYED_TYPED: Record<string, Record<string, Match>> = { ExtensionServiceConfig: { configFiles: (l, r) => l.mountPath === r.mountPath } };

function kindOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'object' : typeof v;
}

function merge(left: Json | undefined, right: Json, path: string[], doc: { id: string; kind?: string }): Json {
  if (right === null) return left === undefined ? null : left;
  if (left === undefined || left === null) return clone(right);
  const at = path.join('.');
  const replace = doc.id === V1ALPHA1 ? REPLACE.has(at) : (doc.kind !== undefined && REPLACE_TYPED[doc.kind]?.has(at)) === true;
  if (kindOf(left) !== kindOf(right) && !(typeof left !== 'object' && typeof right !== 'object')) {
    throw new PatchError(`cannot merge ${kindOf(right)} into ${kindOf(left)} at ${at || 'the document root'}`);
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    if (replace) return clone(right);
    const keyed = doc.id === V1ALPHA1 ? KEYED[at] : doc.kind !== undefined ? KEYED_TYPED[doc.kind]?.[at] : undefined;
    if (!keyed) return [...clone(left), ...clone(right)];
    const out = clone(left);
    for (const item of right) {
      const i = isObject(item) ? out.findIndex((l) => isObject(l) && keyed(l, item)) : -1;
      if (i >= 0) out[i] = merge(out[i], item, path, doc);
      else out.push(clone(item));
    }
    return out;
  }
  if (isObject(left) && isObject(right)) {
    if (replace) return clone(right);
    const out: Obj = { ...left };
    for (const [k, v] of Object.entries(right)) out[k] = merge(out[k], v, [...path, k], doc);
    return out;
  }
  return clone(right);
}

interface Deletion { path: string[]; key?: string; value?: string }

/** Takes the `$patch: delete` markers out of a patch document (in place) and returns them; true when nothing else is left. */
function takeDeletes(node: Json, path: string[], inList: boolean, out: Deletion[]): boolean {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      if (takeDeletes(node[i]!, [...path, `[${i}]`], true, out)) node.splice(i--, 1);
    }
    return false;
  }
  if (!isObject(node)) return false;
  if (node.$patch === 'delete') {
    const clean = path.filter((p) => !p.startsWith('['));
    if (inList) {
      const first = Object.entries(node).find(([k]) => k !== '$patch');
      if (!first) throw new PatchError(`$patch: delete in a list at ${clean.join('.')} needs a key: value to select the items`);
      out.push({ path: clean, key: first[0], value: String(first[1]) });
    } else {
      if (clean.length !== path.length) throw new PatchError(`cannot delete an inner key in '${path.join('.')}'`);
      out.push({ path: clean });
    }
    return true;
  }
  for (const k of Object.keys(node)) {
    if (takeDeletes(node[k]!, [...path, k], false, out)) {
      delete node[k];
      if (Object.keys(node).length === 0) return true;
    }
  }
  return false;
}

function applyDelete(doc: Obj, d: Deletion, id: string): void {
  let node: Json = doc;
  const where = `path '${d.path.join('.')}' in document ${id}`;
  for (const [i, key] of d.path.entries()) {
    if (!isObject(node) || !(key in node)) throw new PatchError(`$patch: delete: ${where}: lookup failed`);
    const last = i === d.path.length - 1;
    if (last && d.key === undefined) {
      delete node[key];
      return;
    }
    node = node[key]!;
  }
  if (!Array.isArray(node)) throw new PatchError(`$patch: delete: ${where}: not a list`);
  // Upstream removes the first item that matches (selector.go deleteStructFrom).
  const i = node.findIndex((item) => isObject(item) && item[d.key!] !== undefined && String(item[d.key!]) === d.value);
  if (i < 0) throw new PatchError(`$patch: delete: ${where}: lookup failed (no item with ${d.key}: ${d.value})`);
  node.splice(i, 1);
}

/** Applies one strategic merge patch (its documents in order) to a config's documents; returns new documents. */
export function strategicMerge(docs: ConfigDoc[], patch: ConfigDoc[]): ConfigDoc[] {
  let out = docs.map(clone);
  for (const raw of patch) {
    if (!isObject(raw)) throw new PatchError('a strategic merge patch document must be a mapping');
    const p = clone(raw);
    const id = documentId(p);
    const deletes: Deletion[] = [];
    const empty = takeDeletes(p, [], false, deletes);
    for (const d of deletes) {
      const target = out.findIndex((x) => documentId(x) === id);
      if (d.path.length === 0) {
        if (id === V1ALPHA1) throw new PatchError("can't delete the root of the legacy document");
        if (target < 0) throw new PatchError(`$patch: delete: there is no document ${id} to delete`);
        out = out.filter((_, i) => i !== target);
        continue;
      }
      if (target < 0) throw new PatchError(`$patch: delete: there is no document ${id}`);
      applyDelete(out[target]!, d, id);
    }
    // Only its identity (or nothing) left: the document was there to delete.
    if (empty || Object.keys(p).every((k) => ['version', 'apiVersion', 'kind', 'name'].includes(k)) && deletes.length > 0) continue;
    const target = out.findIndex((x) => documentId(x) === id);
    const kind = typeof p.kind === 'string' ? p.kind : undefined;
    if (target >= 0) out[target] = merge(out[target], p, [], { id, kind }) as Obj;
    else out.push(p);
  }
  return out;
}
