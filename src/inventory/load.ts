// Loads the operator's inventory file. Every problem comes back as
// FILE:LINE:COL so an operator can jump straight to it; nothing here throws
// for bad input. The JSON schema published beside the example inventory is
// the single source of truth for shape, so editors and rackboot agree.
import { readFileSync } from 'node:fs';
import { compileSchema, formatPositionedError, parseValidated, type Locate } from '../yaml/validated.js';
import { NEUTRAL_RENDER_SETTINGS, renderProblems, type RenderSettings } from './render-check.js';
import { normalizeMac } from './mac.js';
import { unsupportedTalosVersion } from '../talos/config/versions.js';
import { BmcAddressError, parseBmcAddress } from '../bmc/address.js';
import { DEFAULT_INSTALL_DISK, type Inventory, type InventoryError, type LoadResult, type NodeBmcSpec, type NodeSpec, type Patch } from './types.js';

const schemaUrl = new URL('../../inventory/cluster.schema.json', import.meta.url);
export const inventorySchema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as object;

const validateShape = compileSchema(inventorySchema);
const TALOS_TAG = /^v\d+\.\d+\.\d+/;

export function loadInventoryFile(file: string, render?: RenderSettings): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ file, line: 0, col: 0, message: `cannot read inventory: ${(err as Error).message}` }] };
  }
  return parseInventory(text, file, render);
}

/**
 * Everything `serve` would refuse, in one pass: the schema, then the rules
 * across nodes (over whatever parsed, even when the schema failed), then
 * every node's rendered config. Sorted by line; nodes named by name.
 */
export function parseInventory(text: string, file: string, render: RenderSettings = NEUTRAL_RENDER_SETTINGS): LoadResult {
  const parsed = parseValidated<RawInventory>(text, file, validateShape, FIELD_NAMES);
  if (parsed.ok) {
    const { errors, inventory } = checkSemantics(parsed.data, file, parsed.locate);
    errors.push(...renderProblems(inventory, file, parsed.locate, render));
    return errors.length ? { ok: false, errors: byLine(errors) } : { ok: true, inventory, errors: [] };
  }
  if (!parsed.partial) return parsed;
  const raw = parsed.partial.data as Partial<RawInventory> | null;
  const errors = parsed.errors.map((e) => ({ ...e, message: nameNodes(e.message, raw) }));
  if (wellFormedEnough(raw)) {
    const checked = checkSemantics(raw, file, parsed.partial.locate, true);
    errors.push(...checked.errors);
    // Patches are applied per Talos release (one document or several): unknown release, no render.
    if (!unsupportedVersionOrBad(raw.cluster.talosVersion)) errors.push(...renderProblems(checked.inventory, file, parsed.partial.locate, render));
  }
  return { ok: false, errors: byLine(errors) };
}

function unsupportedVersionOrBad(v: unknown): boolean {
  return typeof v !== 'string' || !TALOS_TAG.test(v) || unsupportedTalosVersion(v) !== undefined;
}

function byLine(errors: InventoryError[]): InventoryError[] {
  return [...errors].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Schema messages name a node by its index (`nodes.3.mac`); an operator knows it by name. */
function nameNodes(message: string, raw: Partial<RawInventory> | null): string {
  return message.replace(/^nodes\.(\d+)(\.|:)/, (all, i: string, sep: string) => {
    const name = (raw?.nodes?.[Number(i)] as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' && name ? `node ${name}${sep === '.' ? ': ' : ':'}` : all;
  });
}

/** Enough shape for the rules across nodes to read: the cross-node rules skip any node they cannot read. */
function wellFormedEnough(raw: Partial<RawInventory> | null): raw is RawInventory {
  return !!raw && typeof raw === 'object' && !!raw.cluster && typeof raw.cluster === 'object' && (raw.nodes === null || raw.nodes === undefined || Array.isArray(raw.nodes));
}

const FIELD_NAMES = { mac: 'MAC address', ip: 'IPv4 address', uuid: 'UUID', name: 'name (lower-case DNS label)', installDisk: 'disk path (/dev/...)', size: 'size condition (">= 400GB", "<= 2TB", "480GB")',
  controlPlaneEndpoint: 'control plane endpoint: wants https://host:port, e.g. https://10.77.0.10:6443',
  talosVersion: 'Talos version: wants vX.Y.Z, e.g. v1.11.5', kubernetesVersion: 'Kubernetes version: wants X.Y.Z or vX.Y.Z, e.g. 1.34.1',
  address: 'BMC address (ipmi://HOST[:PORT], redfish://HOST[:PORT][/redfish/v1/Systems/ID] or redfish+http://…)',
  tlsFingerprint: 'SHA-256 fingerprint (64 hex digits, colons optional)', passwordFile: 'absolute file path' };

interface RawNode {
  name: string; mac?: string; macs?: string[]; role: NodeSpec['role']; arch?: NodeSpec['arch']; ip?: string; installDisk?: NodeSpec['installDisk'];
  uuid?: string; serial?: string; bootstrap?: boolean; configMode?: NodeSpec['configMode']; patches?: Patch[]; wipe?: NodeSpec['wipe'];
  httpBoot?: NodeSpec['httpBoot']; secureBoot?: boolean;
  bmc?: Omit<NodeBmcSpec, 'bootMode'> & { bootMode?: NodeBmcSpec['bootMode'] };
}
interface RawInventory {
  cluster: {
    name: string; controlPlaneEndpoint: string; talosVersion: string; kubernetesVersion?: string;
    schematic?: { extensions?: string[]; extraKernelArgs?: string[] };
    cni?: 'flannel' | 'none'; configMode?: 'push' | 'pull';
    patches?: { all?: Patch[]; controlplane?: Patch[]; worker?: Patch[] };
  };
  nodes: RawNode[] | null;
}


/**
 * The rules the schema cannot say. `partial`: the schema already failed, so
 * fields may have any type; a node whose fields cannot be read is skipped
 * for the rule that needs them (the schema error already names it).
 */
function checkSemantics(raw: RawInventory, file: string, locate: Locate, partial = false): { errors: InventoryError[]; inventory: Inventory } {
  const errors: InventoryError[] = [];
  const at = (path: (string | number)[], message: string): InventoryError => ({ file, ...locate(path), message });
  const cluster = raw.cluster;
  const nodes: NodeSpec[] = [];
  const seen = { name: new Map<string, number>(), mac: new Map<string, number>(), ip: new Map<string, number>(), uuid: new Map<string, number>() };
  const unsupported = typeof cluster.talosVersion === 'string' && TALOS_TAG.test(cluster.talosVersion) ? unsupportedTalosVersion(cluster.talosVersion) : undefined;
  if (unsupported) errors.push(at(['cluster', 'talosVersion'], `cluster.talosVersion: ${unsupported}`));
  const flagged: { name: string; i: number }[] = [];
  const label = (n: RawNode, i: number) => (typeof n.name === 'string' && n.name ? `node ${n.name}` : `nodes[${i}]`);

  (raw.nodes ?? []).forEach((n, i) => {
    if (partial && (!n || typeof n !== 'object' || Array.isArray(n))) return;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    // The schema guarantees mac or macs, each a MAC; a file the schema refused
    // (partial) is read for whatever of them still reads as a MAC.
    const extra = (Array.isArray(n.macs) ? n.macs : []).map((m) => str(m) && normalizeMac(m)).filter((m): m is string => !!m);
    const mac = typeof n.mac === 'string' ? normalizeMac(n.mac) : extra[0];
    const macs = Array.isArray(n.macs) && mac ? [...new Set([mac, ...extra])] : undefined;
    const keys = { name: str(n.name), ip: str(n.ip), uuid: str(n.uuid)?.toLowerCase() } as const;
    for (const field of ['name', 'ip', 'uuid'] as const) {
      const value = keys[field];
      if (value === undefined) continue;
      const first = seen[field].get(value);
      if (first !== undefined) {
        const firstLine = locate(['nodes', first, field]).line;
        errors.push(at(['nodes', i, field], `${label(n, i)}: duplicate ${field} ${value} (first used by node ${raw.nodes![first]!.name} on line ${firstLine}): each node needs its own`));
      } else seen[field].set(value, i);
    }
    // A MAC names one machine: no two nodes may share one, through mac or macs.
    const macPaths: [string, (string | number)[]][] = [
      ...(n.mac !== undefined && mac ? [[mac, ['nodes', i, 'mac']] as [string, (string | number)[]]] : []),
      ...extra.map((m, j) => [m, ['nodes', i, 'macs', j]] as [string, (string | number)[]]),
    ];
    for (const [value, path] of macPaths) {
      const first = seen.mac.get(value);
      if (first !== undefined && first !== i) {
        const firstMac = raw.nodes![first]!.mac;
        const firstLine = locate(typeof firstMac === 'string' && normalizeMac(firstMac) === value ? ['nodes', first, 'mac'] : ['nodes', first, 'macs']).line;
        errors.push(at(path, `${label(n, i)}: duplicate mac ${value} (first used by node ${raw.nodes![first]!.name} on line ${firstLine}): each node needs its own`));
      } else seen.mac.set(value, i);
    }
    if (n.bootstrap && n.role !== 'controlplane') {
      errors.push(at(['nodes', i, 'bootstrap'], `${label(n, i)}: bootstrap: true is only allowed on a node with role: controlplane`));
    }
    if (n.bmc && !(partial && (typeof n.bmc !== 'object' || typeof n.bmc.address !== 'string'))) {
      try {
        const address = parseBmcAddress(n.bmc.address);
        if (n.bmc.tlsFingerprint && !(address.protocol === 'redfish' && address.tls)) {
          errors.push(at(['nodes', i, 'bmc', 'tlsFingerprint'], `${label(n, i)}: tlsFingerprint only applies to a redfish:// (TLS) address`));
        }
        if (n.bmc.ipmiCipherSuite !== undefined && address.protocol !== 'ipmi') {
          errors.push(at(['nodes', i, 'bmc', 'ipmiCipherSuite'], `${label(n, i)}: ipmiCipherSuite only applies to an ipmi:// address`));
        }
      } catch (err) {
        if (!(err instanceof BmcAddressError)) throw err;
        errors.push(at(['nodes', i, 'bmc', 'address'], `${label(n, i)}: bmc.address: ${err.message}`));
      }
    }
    for (const e of httpBootProblems(n, cluster.configMode)) errors.push(at(['nodes', i, e.field], `${label(n, i)}: ${e.message}`));
    if (n.bootstrap === true) flagged.push({ name: String(n.name), i });
    // A node the schema refused still renders if it can be read, so its patches are checked too.
    if (partial && !(keys.name && mac && (n.role === 'controlplane' || n.role === 'worker') && (n.patches === undefined || Array.isArray(n.patches)) &&
      (n.installDisk === undefined || typeof n.installDisk === 'string' || (typeof n.installDisk === 'object' && n.installDisk !== null && !Array.isArray(n.installDisk))) && (n.ip === undefined || typeof n.ip === 'string'))) return;
    // The schema pattern guarantees a MAC.
    nodes.push({
      name: n.name, mac: mac!, ...(macs ? { macs } : {}), role: n.role, ...(n.arch ? { arch: n.arch } : {}), ip: n.ip, installDisk: n.installDisk ?? DEFAULT_INSTALL_DISK,
      uuid: n.uuid?.toLowerCase(), serial: n.serial, bootstrap: n.bootstrap ?? false,
      configMode: n.configMode ?? cluster.configMode ?? 'push', patches: n.patches ?? [],
      ...httpBootOf(n),
      ...(n.bmc ? { bmc: { ...n.bmc, bootMode: n.bmc.bootMode ?? 'uefi' } } : {}),
      ...(n.wipe ? { wipe: n.wipe } : {}),
    });
  });

  if (flagged.length > 1) {
    errors.push(at(['nodes', flagged[1]!.i, 'bootstrap'], `node ${flagged[1]!.name}: only one node may have bootstrap: true (${flagged[0]!.name} already has it)`));
  }
  if (flagged.length === 0) {
    // Inventory order decides: the first control plane bootstraps etcd.
    const first = nodes.find((n) => n.role === 'controlplane');
    if (first) first.bootstrap = true;
  }
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  const inventory: Inventory = {
    cluster: {
      name: cluster.name,
      // Partial: a refused endpoint is already reported; a stand-in lets the nodes render.
      controlPlaneEndpoint: typeof cluster.controlPlaneEndpoint === 'string' && /^https:\/\/[^/\s]+/.test(cluster.controlPlaneEndpoint)
        ? cluster.controlPlaneEndpoint.replace(/\/$/, '') : 'https://endpoint.invalid:6443',
      talosVersion: cluster.talosVersion,
      kubernetesVersion: typeof cluster.kubernetesVersion === 'string' ? cluster.kubernetesVersion.replace(/^v/, '') : undefined,
      schematic: { extensions: list(cluster.schematic?.extensions), extraKernelArgs: list(cluster.schematic?.extraKernelArgs) },
      cni: cluster.cni ?? 'flannel',
      configMode: cluster.configMode ?? 'push',
      patches: { all: list(cluster.patches?.all), controlplane: list(cluster.patches?.controlplane), worker: list(cluster.patches?.worker) },
    },
    nodes,
  };
  return { errors, inventory };
}

export const formatInventoryError = formatPositionedError;

/**
 * A UKI carries its own kernel command line, so what iPXE would add per boot
 * (talos.config= with this boot's token) cannot reach it: uki is push only.
 * Secure Boot boots only the signed UKI, so it cannot go with ipxe.
 */
function httpBootProblems(n: RawNode, clusterMode: unknown): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const uki = n.httpBoot === 'uki' || (n.secureBoot === true && n.httpBoot === undefined);
  if (n.secureBoot === true && n.httpBoot === 'ipxe') out.push({ field: 'httpBoot', message: 'secureBoot: true boots the signed UKI by HTTP boot; httpBoot: ipxe cannot go with it (drop httpBoot or set it to uki)' });
  if (uki && (n.configMode ?? clusterMode) === 'pull') {
    out.push({ field: n.configMode ? 'configMode' : n.httpBoot ? 'httpBoot' : 'secureBoot', message: 'a UKI boot carries its own kernel command line, so rackboot cannot add talos.config= with this boot\'s token: use configMode: push for httpBoot: uki / secureBoot: true' });
  }
  return out;
}

/** Only a UKI node carries the fields: absent stays the default (ipxe), so existing specs read as before. */
function httpBootOf(n: RawNode): Pick<NodeSpec, 'httpBoot' | 'secureBoot'> {
  const uki = n.httpBoot === 'uki' || (n.secureBoot === true && n.httpBoot === undefined);
  return { ...(uki ? { httpBoot: 'uki' as const } : {}), ...(n.secureBoot === true ? { secureBoot: true } : {}) };
}
