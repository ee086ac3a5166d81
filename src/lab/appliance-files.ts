// The files a lab (or an e2e test) gives the appliance: rackboot.yaml, an
// inventory, and the TFTP root with Debian's iPXE binaries.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeSecretFile } from '../talos/secrets.js';
import type { NodeBmcSpec } from '../inventory/types.js';

export interface LabNode {
  name: string;
  mac: string;
  role: 'controlplane' | 'worker';
  configMode?: 'push' | 'pull';
  /** A fixed address: DHCP reserves it and the Talos API is reached there. */
  ip?: string;
  /** Its BMC (the lab's ipmi_sim); the password goes to a file in the data directory, never here. */
  bmc?: NodeBmcSpec;
  /** secureboot: the Secure Boot UKI by UEFI HTTP boot (the inventory's secureBoot). */
  secureBoot?: boolean;
  /** arm64: an arm64 machine (the inventory's arch) booting the UKI (httpBoot: uki). */
  arch?: 'amd64' | 'arm64';
  httpBoot?: 'ipxe' | 'uki';
}

export interface ApplianceLayout {
  dir: string;
  bridge: string;
  serverAddress: string;
  /** e.g. 10.77.0.0/24 */
  subnet: string;
  pool: { start: string; end: string };
  dhcpMode: 'full' | 'proxy';
  httpPort: number;
  efiBinary?: 'ipxe.efi' | 'snponly.efi';
  talosVersion: string;
  nodes: LabNode[];
  /** The admin API token (Authorization: Bearer) the lab and the tests read the API with. */
  adminToken: string;
  /** More settings sections, e.g. `power` or `lifecycle` (an e2e's short fallback times). */
  settings?: Record<string, unknown>;
}

export interface AppliancePaths {
  config: string;
  inventory: string;
  dataDir: string;
  assetsDir: string;
  tftpRoot: string;
  log: string;
}

/** Debian's iPXE builds (package ipxe), named as rackboot's DHCP hands them out. */
export const IPXE_BINARIES: Record<string, string> = {
  'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe',
  'ipxe.efi': '/usr/lib/ipxe/ipxe.efi',
  'snponly.efi': '/usr/lib/ipxe/snponly.efi',
};

/** Where the lab's admin plane listens, inside the lab namespace. */
export const LAB_ADMIN_LISTEN = '127.0.0.1:8443';

export const LAB_SCHEMATIC = { extensions: [] as string[], extraKernelArgs: [] as string[] };

export function appliancePaths(dir: string): AppliancePaths {
  return {
    config: join(dir, 'rackboot.yaml'),
    inventory: join(dir, 'inventory.yaml'),
    dataDir: join(dir, 'data'),
    assetsDir: join(dir, 'assets'),
    tftpRoot: join(dir, 'tftp'),
    log: join(dir, 'rackboot.log'),
  };
}

export function rackbootYaml(l: ApplianceLayout, p: AppliancePaths): string {
  const dhcp: Record<string, unknown> = { mode: l.dhcpMode };
  if (l.dhcpMode === 'full') Object.assign(dhcp, { subnet: l.subnet, pool: l.pool, leaseSeconds: 600 });
  if (l.efiBinary) dhcp.efiBinary = l.efiBinary;
  return stringify({
    interface: l.bridge,
    serverAddress: l.serverAddress,
    dataDir: p.dataDir,
    inventory: p.inventory,
    assetsDir: p.assetsDir,
    logLevel: 'debug',
    adminToken: l.adminToken,
    dhcp,
    tftp: { enabled: true, root: p.tftpRoot },
    // The admin plane stays on the lab namespace's loopback, off the PXE bridge.
    http: { listen: `${l.serverAddress}:${l.httpPort}`, adminListen: LAB_ADMIN_LISTEN },
    talos: { consoles: ['ttyS0'] },
    ...l.settings,
  });
}

export function inventoryYaml(l: ApplianceLayout): string {
  const first = l.nodes.find((n) => n.role === 'controlplane');
  return stringify({
    cluster: {
      name: 'lab',
      controlPlaneEndpoint: `https://${first ? l.serverAddress.replace(/\.\d+$/, '.10') : l.serverAddress}:6443`,
      talosVersion: l.talosVersion,
      schematic: LAB_SCHEMATIC,
      configMode: 'push',
    },
    nodes: l.nodes.map((n) => ({ name: n.name, mac: n.mac, role: n.role, ...(n.configMode ? { configMode: n.configMode } : {}), ...(n.ip ? { ip: n.ip } : {}), ...(n.bmc ? { bmc: n.bmc } : {}), ...(n.secureBoot ? { secureBoot: true } : {}), ...(n.arch ? { arch: n.arch } : {}), ...(n.httpBoot ? { httpBoot: n.httpBoot } : {}) })),
  });
}

/** Writes settings, inventory and the TFTP root; prepareAppliance() then adds secrets and assets. */
export function writeApplianceFiles(l: ApplianceLayout): AppliancePaths {
  const p = appliancePaths(l.dir);
  for (const d of [l.dir, p.dataDir, p.assetsDir, p.tftpRoot]) mkdirSync(d, { recursive: true });
  for (const [name, src] of Object.entries(IPXE_BINARIES)) {
    if (!existsSync(src)) throw new Error(`missing ${src}: apt-get install ipxe`);
    copyFileSync(src, join(p.tftpRoot, name));
  }
  // It carries the admin token: readable by the lab's user only, whatever the umask.
  writeSecretFile(p.config, rackbootYaml(l, p));
  writeFileSync(p.inventory, inventoryYaml(l));
  return p;
}
