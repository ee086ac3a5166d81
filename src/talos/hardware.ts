// A machine's hardware facts, read from Talos's resource API with no agent.
// Which resources, and the names of their spec fields, as upstream defines
// them (pkg/machinery/resources/..., v1.11.0..v1.13.x, unchanged for the
// fields read here):
// - block.Disk, type Disks.block.talos.dev, namespace "runtime"
//   (block/disk.go; block.NamespaceName is v1alpha1's "runtime"); id is the
//   kernel name (sda), dev_path the /dev path.
// - hardware.SystemInformation (SystemInformations.hardware.talos.dev, id
//   "systeminformation"), Processor, MemoryModule, PCIDevice, all in
//   namespace "hardware" (hardware/hardware.go).
// - network.LinkStatus, LinkStatuses.net.talos.dev in "network"
//   (network/link_status.go); a physical NIC is type ether with no kind
//   (LinkStatusSpec.Physical). MACs are printed aa:bb:… (nethelpers/hwaddr.go).
// All six are non-sensitive, so the access filter of
// internal/app/resources/access.go lets a client without a certificate read
// them in maintenance mode.
import { parse as parseYaml } from 'yaml';
import type { CosiResource, TalosClient } from './client.js';

export interface DiskFact {
  id: string; devPath: string; size: number; model: string; serial: string; wwid: string;
  transport: string; rotational: boolean; readonly: boolean; cdrom: boolean; busPath: string;
}
export interface SystemFact { manufacturer: string; productName: string; version: string; serialNumber: string; uuid: string }
export interface ProcessorFact { id: string; manufacturer: string; productName: string; coreCount: number; threadCount: number; maxSpeedMhz: number }
export interface MemoryFact { id: string; sizeMiB: number; speed: number; manufacturer: string; productName: string }
export interface PciFact { id: string; class: string; vendor: string; product: string; vendorId: string; productId: string; driver: string }
export interface LinkFact {
  id: string; hardwareAddr: string; permanentAddr: string; driver: string; speedMbit: number;
  linkState: boolean; operationalState: string; busPath: string;
}

export interface HardwareFacts {
  disks: DiskFact[];
  system: SystemFact | null;
  processors: ProcessorFact[];
  memory: MemoryFact[];
  pci: PciFact[];
  /** Physical NICs only (bridges, bonds, loopback left out). */
  links: LinkFact[];
}

export const HARDWARE_RESOURCES = {
  disks: { namespace: 'runtime', type: 'Disks.block.talos.dev' },
  system: { namespace: 'hardware', type: 'SystemInformations.hardware.talos.dev' },
  processors: { namespace: 'hardware', type: 'Processors.hardware.talos.dev' },
  memory: { namespace: 'hardware', type: 'MemoryModules.hardware.talos.dev' },
  pci: { namespace: 'hardware', type: 'PCIDevices.hardware.talos.dev' },
  links: { namespace: 'network', type: 'LinkStatuses.net.talos.dev' },
} as const;

export type HardwareKind = keyof typeof HARDWARE_RESOURCES;
export type RawResources = Record<HardwareKind, CosiResource[]>;

export class HardwareFactsError extends Error {}

// Parsed with the failsafe schema, every scalar is the text Talos wrote: a
// serial such as 0123 or a wwid such as 0x5000c5 stays exactly that, and each
// field is converted by the type upstream gives it.
type Spec = Record<string, unknown>;
const str = (s: Spec, k: string) => (typeof s[k] === 'string' ? (s[k] as string) : '');
const num = (s: Spec, k: string) => (typeof s[k] === 'string' && /^\d+$/.test(s[k] as string) ? Number(s[k]) : 0);
const bool = (s: Spec, k: string) => s[k] === 'true';

function specOf(r: CosiResource): { id: string; spec: Spec } {
  const id = r.metadata?.id ?? '';
  let spec: unknown;
  try {
    spec = parseYaml(r.spec?.yaml_spec ?? '', { schema: 'failsafe' });
  } catch (err) {
    throw new HardwareFactsError(`${r.metadata?.type ?? 'resource'} ${id}: spec is not YAML: ${(err as Error).message}`);
  }
  if (spec === null || spec === undefined || spec === '') spec = {};
  if (typeof spec !== 'object' || Array.isArray(spec)) throw new HardwareFactsError(`${r.metadata?.type ?? 'resource'} ${id}: spec is not a mapping`);
  return { id, spec: spec as Spec };
}

/** Pure: the facts in the resources' YAML specs, sorted by id so two reads of one machine compare equal. */
export function hardwareFacts(raw: RawResources): HardwareFacts {
  const each = <T>(list: CosiResource[], f: (id: string, s: Spec) => T | undefined): T[] =>
    [...list].sort((a, b) => (a.metadata?.id ?? '').localeCompare(b.metadata?.id ?? '')).flatMap((r) => {
      const { id, spec } = specOf(r);
      const v = f(id, spec);
      return v === undefined ? [] : [v];
    });
  const systems = each(raw.system, (_id, s) => ({
    manufacturer: str(s, 'manufacturer'), productName: str(s, 'productName'), version: str(s, 'version'),
    serialNumber: str(s, 'serialnumber'), uuid: str(s, 'uuid'),
  }));
  return {
    disks: each(raw.disks, (id, s) => ({
      id, devPath: str(s, 'dev_path') || `/dev/${id}`, size: num(s, 'size'), model: str(s, 'model'), serial: str(s, 'serial'),
      wwid: str(s, 'wwid'), transport: str(s, 'transport'), rotational: bool(s, 'rotational'), readonly: bool(s, 'readonly'),
      cdrom: bool(s, 'cdrom'), busPath: str(s, 'bus_path'),
    })),
    system: systems[0] ?? null,
    processors: each(raw.processors, (id, s) => ({
      id, manufacturer: str(s, 'manufacturer'), productName: str(s, 'productName'), coreCount: num(s, 'coreCount'),
      threadCount: num(s, 'threadCount'), maxSpeedMhz: num(s, 'maxSpeedMhz'),
    })),
    memory: each(raw.memory, (id, s) => ({ id, sizeMiB: num(s, 'sizeMiB'), speed: num(s, 'speed'), manufacturer: str(s, 'manufacturer'), productName: str(s, 'productName') })),
    pci: each(raw.pci, (id, s) => ({
      id, class: str(s, 'class'), vendor: str(s, 'vendor'), product: str(s, 'product'), vendorId: str(s, 'vendor_id'),
      productId: str(s, 'product_id'), driver: str(s, 'driver'),
    })),
    links: each(raw.links, (id, s) => (str(s, 'type') === 'ether' && !str(s, 'kind') ? {
      id, hardwareAddr: str(s, 'hardwareAddr').toLowerCase(), permanentAddr: str(s, 'permanentAddr').toLowerCase(), driver: str(s, 'driver'),
      speedMbit: num(s, 'speedMbit'), linkState: bool(s, 'linkState'), operationalState: str(s, 'operationalState'), busPath: str(s, 'busPath'),
    } : undefined)),
  };
}

/** Lists the six resource types, one call each, and decodes them. */
export async function readHardwareFacts(client: TalosClient): Promise<HardwareFacts> {
  const raw = {} as RawResources;
  for (const [kind, r] of Object.entries(HARDWARE_RESOURCES) as [HardwareKind, { namespace: string; type: string }][]) {
    raw[kind] = await client.listResources(r.namespace, r.type);
  }
  return hardwareFacts(raw);
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
/** Decimal units, as upstream's pretty_size prints them (humanize.Bytes). */
export function prettySize(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) (v /= 1000, i++);
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}
