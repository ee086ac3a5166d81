// Lab and test use only.
// The fake node's COSI resource API: the hardware resources a real Talos
// node would hold for the machine it stands for, served through the read
// calls of the state API (src/talos/proto/resource.proto).
// Upstream, restated:
// - Every version rackboot supports registers the state server in
//   maintenance mode too (internal/app/maintenance/server.go Register,
//   v1.11.0 and v1.12.0; machined's server from v1.13.0,
//   internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go), and
//   wraps it in the filter of internal/app/resources/access.go (v1.11.0..
//   v1.13.0): writes are PermissionDenied "write access is not allowed"; a
//   type with no resource definition is PermissionDenied `resource type "T"
//   is not supported`; a namespace that does not exist is PermissionDenied
//   `namespace "N" is not supported`; sensitive types need os:admin. The six
//   types here are all non-sensitive (LinkStatus says so explicitly,
//   pkg/machinery/resources/network/link_status.go; the others leave the
//   default).
// - The server (cosi-project/runtime pkg/state/protobuf/server/server.go)
//   answers Get of a missing resource with NotFound, and List with one
//   message per resource; each carries the spec as protobuf and as YAML
//   (pkg/resource/protobuf FromResource). The fake sends the YAML only.
// - Types, namespaces, ids and spec key names: pkg/machinery/resources/
//   block/disk.go, hardware/{system_information,processor,memorymodule,
//   pcidevice}.go, network/link_status.go at v1.12.0 (same keys at v1.11.0
//   and v1.13.0). Processor and memory ids are the SMBIOS socket and device
//   locator with spaces made dashes, system information's id is
//   "systeminformation" (internal/app/machined/pkg/controllers/hardware/
//   system.go, v1.12.0).
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import type { FakeDisk } from './node.js';
import type { Handler } from './machine-api.js';
import { EXTENSION_STATUS_TYPE } from './schematic.js';
import { MACHINE_CONFIG_TYPE, STATIC_POD_STATUS_TYPE } from './k8s-static-pods.js';
import { HOSTNAME_STATUS_TYPE } from './hostname.js';

/** A NIC of the machine: the MAC QEMU gives it (`-device …,mac=`), which is also its permanent address. */
export interface FakeNic { name: string; mac: string; driver?: string; linkUp?: boolean; speedMbit?: number; pciAddress?: string }

/** What the machine is, as `-smbios type=1,…`, `-smp`, `-m` and `-device` would make it. */
export interface FakeMachine {
  system?: { manufacturer?: string; productName?: string; version?: string; serialNumber?: string; uuid?: string };
  cpus?: { sockets: number; cores: number; threads: number; manufacturer?: string; productName?: string; maxSpeedMhz?: number };
  memoryMiB?: number;
  nics?: FakeNic[];
}

/** A QEMU q35 guest with QEMU's SMBIOS defaults, one socket, 2 GiB, one virtio NIC. */
export const DEFAULT_MACHINE: Required<Pick<FakeMachine, 'system' | 'cpus' | 'memoryMiB'>> & { nics: FakeNic[] } = {
  system: { manufacturer: 'QEMU', productName: 'Standard PC (Q35 + ICH9, 2009)', version: 'pc-q35-8.2', serialNumber: '', uuid: '' },
  cpus: { sockets: 1, cores: 2, threads: 1, manufacturer: 'QEMU', productName: 'pc-q35-8.2', maxSpeedMhz: 2000 },
  memoryMiB: 2048,
  nics: [{ name: 'eth0', mac: '52:54:00:12:34:56', driver: 'virtio_net', linkUp: true, pciAddress: '0000:00:02.0' }],
};

/** The same single disk the fake's Disks call reports when the node is given none (machine-api.ts). */
const DEFAULT_DISKS: FakeDisk[] = [{ device_name: 'sda', size: 64 * 2 ** 30, model: 'QEMU HARDDISK', serial: 'QM00001', transport: 'sata', rotational: true }];

/** spec: an object serialised as YAML, or YAML text sent as it is. */
interface Res { namespace: string; type: string; id: string; spec: Record<string, unknown> | string }

/** Drops empty optional values, as upstream's `omitempty` yaml tags do. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));

export function machineResources(disks: FakeDisk[] | undefined, m: FakeMachine = {}): Res[] {
  const system = { ...DEFAULT_MACHINE.system, ...m.system };
  const cpus = { ...DEFAULT_MACHINE.cpus, ...m.cpus };
  const nics = m.nics ?? DEFAULT_MACHINE.nics;
  const out: Res[] = [];
  for (const d of disks ?? DEFAULT_DISKS) {
    out.push({ namespace: 'runtime', type: 'Disks.block.talos.dev', id: d.device_name, spec: compact({
      dev_path: `/dev/${d.device_name}`, size: d.size, io_size: 512, sector_size: 512, readonly: false, cdrom: false,
      model: d.model, serial: d.serial, wwid: d.wwid, bus_path: d.bus_path, sub_system: '/sys/class/block',
      transport: d.transport, rotational: d.rotational || undefined,
    }) });
  }
  out.push({ namespace: 'hardware', type: 'SystemInformations.hardware.talos.dev', id: 'systeminformation', spec: compact({
    manufacturer: system.manufacturer, productName: system.productName, version: system.version,
    serialnumber: system.serialNumber, uuid: system.uuid,
  }) });
  for (let s = 0; s < cpus.sockets; s++) {
    out.push({ namespace: 'hardware', type: 'Processors.hardware.talos.dev', id: `CPU-${s}`, spec: compact({
      socket: `CPU ${s}`, manufacturer: cpus.manufacturer, productName: cpus.productName, maxSpeedMhz: cpus.maxSpeedMhz,
      coreCount: cpus.cores, coreEnabled: cpus.cores, threadCount: cpus.cores * cpus.threads,
    }) });
  }
  out.push({ namespace: 'hardware', type: 'MemoryModules.hardware.talos.dev', id: 'DIMM-0', spec: compact({
    sizeMiB: m.memoryMiB ?? DEFAULT_MACHINE.memoryMiB, deviceLocator: 'DIMM 0', manufacturer: 'QEMU',
  }) });
  // The loopback is a link too; rackboot must leave it out (LinkStatusSpec.Physical).
  out.push({ namespace: 'network', type: 'LinkStatuses.net.talos.dev', id: 'lo', spec: {
    index: 1, type: 'loopback', hardwareAddr: '00:00:00:00:00:00', permanentAddr: '', mtu: 65536, operationalState: 'unknown', kind: '', linkState: true,
  } });
  nics.forEach((n, i) => {
    const pci = n.pciAddress ?? `0000:00:${(2 + i).toString(16).padStart(2, '0')}.0`;
    out.push({ namespace: 'hardware', type: 'PCIDevices.hardware.talos.dev', id: pci, spec: compact({
      class: 'Network controller', subclass: 'Ethernet controller', vendor: 'Red Hat, Inc.', product: 'Virtio network device',
      class_id: '0x02', subclass_id: '0x00', vendor_id: '0x1af4', product_id: '0x1000', driver: 'virtio-pci',
    }) });
    out.push({ namespace: 'network', type: 'LinkStatuses.net.talos.dev', id: n.name, spec: compact({
      index: 2 + i, type: 'ether', kind: '', hardwareAddr: n.mac, permanentAddr: n.mac, broadcastAddr: 'ff:ff:ff:ff:ff:ff', mtu: 1500,
      operationalState: n.linkUp === false ? 'down' : 'up', linkState: n.linkUp !== false, busPath: pci, driver: n.driver ?? 'virtio_net',
      speedMbit: n.speedMbit, port: 'Other', duplex: 'Unknown',
    }) });
  });
  return out;
}

const KNOWN_TYPES = new Set(['Disks.block.talos.dev', 'SystemInformations.hardware.talos.dev', 'Processors.hardware.talos.dev',
  'MemoryModules.hardware.talos.dev', 'PCIDevices.hardware.talos.dev', 'LinkStatuses.net.talos.dev',
  EXTENSION_STATUS_TYPE /* schematic.ts */, MACHINE_CONFIG_TYPE, STATIC_POD_STATUS_TYPE /* k8s-static-pods.ts */,
  HOSTNAME_STATUS_TYPE /* hostname.ts */]);
const KNOWN_NAMESPACES = new Set(['runtime', 'hardware', 'network', 'config', 'meta', 'k8s']);

const denied = (details: string) => Object.assign(new Error(details), { code: grpc.status.PERMISSION_DENIED, details });

/** access.go's checks, in its order: type first, then namespace. */
function accessRefusal(type: string, namespace: string): Error | undefined {
  if (!KNOWN_TYPES.has(type)) return denied(`resource type "${type}" is not supported`);
  if (!KNOWN_NAMESPACES.has(namespace)) return denied(`namespace "${namespace}" is not supported`);
  return undefined;
}

const wire = (r: Res) => ({
  metadata: { namespace: r.namespace, type: r.type, id: r.id, version: '1', phase: 'running' },
  spec: { proto_spec: Buffer.alloc(0), yaml_spec: typeof r.spec === 'string' ? r.spec : stringify(r.spec) },
});

/** The state API's read calls; `ResourceGet`/`ResourceList` are registered as State/Get and State/List (node.ts). */
export function resourceHandlers(resources: () => Res[]): { ResourceGet: Handler; ResourceList: Handler } {
  return {
    ResourceGet: (call, cb) => {
      const { namespace, type, id } = call.request as { namespace: string; type: string; id: string };
      const refusal = accessRefusal(type, namespace);
      if (refusal) return cb!(refusal as grpc.ServiceError);
      const r = resources().find((x) => x.namespace === namespace && x.type === type && x.id === id);
      if (!r) return cb!(Object.assign(new Error(`resource ${type}(${namespace}/${id}@undefined) doesn't exist`), { code: grpc.status.NOT_FOUND }) as grpc.ServiceError);
      cb!(null, { resource: wire(r) });
    },
    ResourceList: (call) => {
      const { namespace, type } = call.request as { namespace: string; type: string };
      const refusal = accessRefusal(type, namespace);
      if (refusal) return call.emit('error', refusal);
      for (const r of resources()) if (r.namespace === namespace && r.type === type) call.write({ resource: wire(r) });
      call.end();
    },
  };
}

/**
 * Reset's checks of what to wipe, on a configured node, before anything is
 * wiped (internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
 * Reset, v1.12.0; the same at v1.11.0 and v1.13.0). Plain errors upstream,
 * so the caller sees gRPC Unknown. With mode ALL or USER_DISKS exactly the
 * listed disks are wiped besides the system disk; none is wiped unlisted.
 */
export function resetWipeRefusal(req: { mode?: string; user_disks_to_wipe?: string[]; system_partitions_to_wipe?: unknown[] },
  disks: FakeDisk[] | undefined, systemDisk: string | undefined): Error | undefined {
  const plain = (details: string) => Object.assign(new Error(details), { code: grpc.status.UNKNOWN, details });
  const mode = req.mode ?? 'ALL';
  const users = req.user_disks_to_wipe ?? [];
  if (users.length > 0) {
    if (mode === 'SYSTEM_DISK') return plain("reset failed: invalid input, wipe mode SYSTEM_DISK doesn't support UserDisksToWipe parameter");
    const paths = new Set((disks ?? DEFAULT_DISKS).map((d) => `/dev/${d.device_name}`));
    for (const dev of users) {
      if (!paths.has(dev)) return plain(`reset user disk failed: device ${dev} wasn't found`);
      if (dev === systemDisk) return plain(`reset user disk failed: device ${dev} is the system disk`);
    }
  }
  if ((req.system_partitions_to_wipe ?? []).length > 0 && mode === 'USER_DISKS') {
    return plain("reset failed: invalid input, wipe mode USER_DISKS doesn't support SystemPartitionsToWipe parameter");
  }
  return undefined;
}
