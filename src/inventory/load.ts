// Loads the operator's inventory file. Every problem comes back as
// FILE:LINE:COL so an operator can jump straight to it; nothing here throws
// for bad input. The JSON schema published beside the example inventory is
// the single source of truth for shape, so editors and rackboot agree.
import { readFileSync } from 'node:fs';
import { compileSchema, formatPositionedError, parseValidated } from '../yaml/validated.js';
import { normalizeMac } from './mac.js';
import { unsupportedTalosVersion } from '../talos/config/versions.js';
import { BmcAddressError, parseBmcAddress } from '../bmc/address.js';
import { DEFAULT_INSTALL_DISK, type Inventory, type InventoryError, type LoadResult, type NodeBmcSpec, type NodeSpec, type Patch } from './types.js';

const schemaUrl = new URL('../../inventory/cluster.schema.json', import.meta.url);
export const inventorySchema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as object;

const validateShape = compileSchema(inventorySchema);

export function loadInventoryFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ file, line: 0, col: 0, message: `cannot read inventory: ${(err as Error).message}` }] };
  }
  return parseInventory(text, file);
}

export function parseInventory(text: string, file: string): LoadResult {
  const parsed = parseValidated<RawInventory>(text, file, validateShape, FIELD_NAMES);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  return checkSemantics(parsed.data, file, parsed.locate);
}

const FIELD_NAMES = { mac: 'MAC address', ip: 'IPv4 address', uuid: 'UUID', name: 'name (lower-case DNS label)', installDisk: 'disk path (/dev/...)', size: 'size condition (">= 400GB", "<= 2TB", "480GB")',
  address: 'BMC address (ipmi://HOST[:PORT], redfish://HOST[:PORT][/redfish/v1/Systems/ID] or redfish+http://…)',
  tlsFingerprint: 'SHA-256 fingerprint (64 hex digits, colons optional)', passwordFile: 'absolute file path' };

interface RawNode {
  name: string; mac?: string; macs?: string[]; role: NodeSpec['role']; ip?: string; installDisk?: NodeSpec['installDisk'];
  uuid?: string; serial?: string; bootstrap?: boolean; configMode?: NodeSpec['configMode']; patches?: Patch[]; wipe?: NodeSpec['wipe'];
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

type Locate = (path: (string | number)[]) => { line: number; col: number };

function checkSemantics(raw: RawInventory, file: string, locate: Locate): LoadResult {
  const errors: InventoryError[] = [];
  const at = (path: (string | number)[], message: string): InventoryError => ({ file, ...locate(path), message });
  const cluster = raw.cluster;
  const nodes: NodeSpec[] = [];
  const seen = { name: new Map<string, number>(), mac: new Map<string, number>(), ip: new Map<string, number>(), uuid: new Map<string, number>() };
  const unsupported = unsupportedTalosVersion(cluster.talosVersion);
  if (unsupported) errors.push(at(['cluster', 'talosVersion'], unsupported));

  (raw.nodes ?? []).forEach((n, i) => {
    // The schema guarantees mac or macs, each a MAC.
    const extra = (n.macs ?? []).map((m) => normalizeMac(m)!);
    const mac = n.mac !== undefined ? normalizeMac(n.mac)! : extra[0]!;
    const macs = n.macs ? [...new Set([mac, ...extra])] : undefined;
    const keys = { name: n.name, ip: n.ip, uuid: n.uuid?.toLowerCase() } as const;
    for (const field of ['name', 'ip', 'uuid'] as const) {
      const value = keys[field];
      if (value === undefined) continue;
      const first = seen[field].get(value);
      if (first !== undefined) {
        const firstLine = locate(['nodes', first, field]).line;
        errors.push(at(['nodes', i, field], `duplicate ${field} ${value} (first used by node ${raw.nodes![first]!.name} on line ${firstLine})`));
      } else seen[field].set(value, i);
    }
    // A MAC names one machine: no two nodes may share one, through mac or macs.
    const macPaths: [string, (string | number)[]][] = [
      ...(n.mac !== undefined ? [[mac, ['nodes', i, 'mac']] as [string, (string | number)[]]] : []),
      ...extra.map((m, j) => [m, ['nodes', i, 'macs', j]] as [string, (string | number)[]]),
    ];
    for (const [value, path] of macPaths) {
      const first = seen.mac.get(value);
      if (first !== undefined && first !== i) {
        const firstLine = locate(raw.nodes![first]!.mac !== undefined && normalizeMac(raw.nodes![first]!.mac!) === value ? ['nodes', first, 'mac'] : ['nodes', first, 'macs']).line;
        errors.push(at(path, `duplicate mac ${value} (first used by node ${raw.nodes![first]!.name} on line ${firstLine})`));
      } else seen.mac.set(value, i);
    }
    if (n.bootstrap && n.role !== 'controlplane') {
      errors.push(at(['nodes', i, 'bootstrap'], `bootstrap: true is only allowed on a controlplane node`));
    }
    if (n.bmc) {
      try {
        const address = parseBmcAddress(n.bmc.address);
        if (n.bmc.tlsFingerprint && !(address.protocol === 'redfish' && address.tls)) {
          errors.push(at(['nodes', i, 'bmc', 'tlsFingerprint'], 'tlsFingerprint only applies to a redfish:// (TLS) address'));
        }
        if (n.bmc.ipmiCipherSuite !== undefined && address.protocol !== 'ipmi') {
          errors.push(at(['nodes', i, 'bmc', 'ipmiCipherSuite'], 'ipmiCipherSuite only applies to an ipmi:// address'));
        }
      } catch (err) {
        if (!(err instanceof BmcAddressError)) throw err;
        errors.push(at(['nodes', i, 'bmc', 'address'], `bmc.address: ${err.message}`));
      }
    }
    nodes.push({
      name: n.name, mac, ...(macs ? { macs } : {}), role: n.role, ip: n.ip, installDisk: n.installDisk ?? DEFAULT_INSTALL_DISK,
      uuid: n.uuid?.toLowerCase(), serial: n.serial, bootstrap: n.bootstrap ?? false,
      configMode: n.configMode ?? cluster.configMode ?? 'push', patches: n.patches ?? [],
      ...(n.bmc ? { bmc: { ...n.bmc, bootMode: n.bmc.bootMode ?? 'uefi' } } : {}),
      ...(n.wipe ? { wipe: n.wipe } : {}),
    });
  });

  const flagged = nodes.filter((n) => n.bootstrap);
  if (flagged.length > 1) {
    const second = nodes.indexOf(flagged[1]!);
    errors.push(at(['nodes', second, 'bootstrap'], `only one node may have bootstrap: true (${flagged[0]!.name} already has it)`));
  }
  if (flagged.length === 0) {
    // Inventory order decides: the first control plane bootstraps etcd.
    const first = nodes.find((n) => n.role === 'controlplane');
    if (first) first.bootstrap = true;
  }
  if (errors.length > 0) return { ok: false, errors };

  const inventory: Inventory = {
    cluster: {
      name: cluster.name,
      controlPlaneEndpoint: cluster.controlPlaneEndpoint.replace(/\/$/, ''),
      talosVersion: cluster.talosVersion,
      kubernetesVersion: cluster.kubernetesVersion?.replace(/^v/, ''),
      schematic: { extensions: cluster.schematic?.extensions ?? [], extraKernelArgs: cluster.schematic?.extraKernelArgs ?? [] },
      cni: cluster.cni ?? 'flannel',
      configMode: cluster.configMode ?? 'push',
      patches: { all: cluster.patches?.all ?? [], controlplane: cluster.patches?.controlplane ?? [], worker: cluster.patches?.worker ?? [] },
    },
    nodes,
  };
  return { ok: true, inventory, errors: [] };
}

export const formatInventoryError = formatPositionedError;
