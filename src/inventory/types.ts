export type Role = 'controlplane' | 'worker';
export type ConfigMode = 'push' | 'pull';
export type HttpBoot = 'ipxe' | 'uki';
/**
 * A machine-config patch, applied as talosctl applies it: an object is a
 * strategic merge patch document, an array an RFC 6902 JSON patch, a string
 * patch YAML text (one or more documents, or a JSON patch list).
 */
export type Patch = Record<string, unknown> | unknown[] | string;

export interface NodeSpec {
  name: string;
  /** Normalised `aa:bb:cc:dd:ee:ff`: the provisioning NIC (the inventory's mac, else the first of macs). */
  mac: string;
  /** Every MAC of a multi-NIC machine, `mac` first; any of them matches (DHCP, boot script, config). Unset: `mac` only. */
  macs?: string[];
  role: Role;
  /** Absent: amd64. Decides which boot assets the cache needs, not what a node is served (it says its arch when it boots). */
  arch?: 'amd64' | 'arm64';
  ip?: string;
  /** A /dev path, or a selector resolved against the node's reported disks (src/talos/disk-selector.ts). */
  installDisk: string | DiskSelector;
  uuid?: string;
  serial?: string;
  /** True on the one control plane that bootstraps etcd. Resolved at load time. */
  bootstrap: boolean;
  configMode: ConfigMode;
  /**
   * What this node's UEFI HTTP-boot client is sent (branch secureboot): iPXE
   * (the default), or the Factory's UKI, which firmware boots with no iPXE.
   * Resolved at load: uki when set or implied by secureBoot, else absent (ipxe).
   */
  httpBoot?: HttpBoot;
  /** Secure Boot: the signed Secure Boot UKI and the Secure Boot installer. */
  secureBoot?: boolean;
  patches: Patch[];
  /** Data disks a reimage wipes too; without it a reimage wipes the system disk only. */
  wipe?: { userDisks: DiskSelector[] };
  /** The node's BMC, when rackboot may power it and set its boot device. */
  bmc?: NodeBmcSpec;
}

/** A node's BMC. The password is never here: it lives in a 0600 file (see src/bmc/credentials.ts). */
export interface NodeBmcSpec {
  /** ipmi://HOST[:PORT], redfish://HOST[:PORT][/redfish/v1/Systems/ID] or redfish+http://… (validated at load). */
  address: string;
  username: string;
  bootMode: 'uefi' | 'legacy';
  /** Where the password is read from, instead of DATA_DIR/bmc/NODE.password. */
  passwordFile?: string;
  /** Pinned SHA-256 fingerprint of a Redfish BMC's TLS certificate. */
  tlsFingerprint?: string;
  /** IPMI RMCP+ cipher suite, for BMCs that do not answer ipmitool's suite discovery. */
  ipmiCipherSuite?: number;
}

/** Picks a disk by what it is; every key given must match. */
export interface DiskSelector {
  /** Exact, or a glob with `*`. */
  model?: string;
  serial?: string;
  wwid?: string;
  /** As block.Disk's transport reads: nvme, sata, sas, scsi, virtio, usb, mmc, … */
  transport?: string;
  rotational?: boolean;
  /** `>= 400GB`, `<= 2TB`, `480GB`; decimal units as disks are sold, KiB/MiB/GiB/TiB binary. */
  size?: string;
}

export interface ClusterSpec {
  name: string;
  controlPlaneEndpoint: string;
  talosVersion: string;
  kubernetesVersion?: string;
  schematic: { extensions: string[]; extraKernelArgs: string[] };
  cni: 'flannel' | 'none';
  configMode: ConfigMode;
  patches: { all: Patch[]; controlplane: Patch[]; worker: Patch[] };
}

export interface Inventory {
  cluster: ClusterSpec;
  nodes: NodeSpec[];
}

export interface InventoryError {
  file: string;
  line: number;
  col: number;
  message: string;
}

export type LoadResult =
  | { ok: true; inventory: Inventory; errors: [] }
  | { ok: false; inventory?: undefined; errors: InventoryError[] };

export const DEFAULT_INSTALL_DISK = '/dev/sda';
