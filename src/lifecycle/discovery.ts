// Unknown machines, as the operator needs to see them: what they told us,
// which UUIDs cannot identify them (all zeros, or shared with another
// machine), and an inventory entry ready to paste. The appliance never
// writes the operator's inventory file itself.
import { stringify } from 'yaml';
import type { DiscoveredRecord, Store } from '../store/store.js';
import { allCommissions, type CommissionState } from '../store/discovered-hardware.js';
import { factsSummary } from '../talos/hardware-collect.js';
import { describeDisk } from '../talos/disk-selector.js';
import type { HardwareFacts } from '../talos/hardware.js';
import { commissionedEntry } from './commission-snippet.js';

export type UuidFlag = 'all-zero' | 'duplicate' | null;

export interface DiscoveredView extends DiscoveredRecord {
  uuidFlag: UuidFlag;
  /** Option 93 / iPXE buildarch in words, e.g. "x64 UEFI". */
  archName: string | null;
  snippet: string;
  /** Set once the machine was handed the commissioning kernel (discovery.commission). */
  commission: CommissionView | null;
}

export interface CommissionView {
  state: CommissionState;
  bootedAt: number;
  readAt: number | null;
  endpoint: string | null;
  lastError: string | null;
  /** One line: system, CPUs, memory, disks, NICs. */
  summary: string | null;
  /** The disk the snippet's installDisk stands for. */
  installDisk: string | null;
  cabledMac: string | null;
  facts: HardwareFacts | null;
}

// RFC 4578 §2.1 and the IANA processor architecture registry.
const ARCH_NAMES: Record<string, string> = {
  '0': 'x86 BIOS', '6': 'x86 UEFI', '7': 'x64 UEFI', '9': 'x64 UEFI', '10': 'arm32 UEFI', '11': 'arm64 UEFI',
  '16': 'x64 UEFI HTTP', '19': 'arm64 UEFI HTTP', i386: 'x86 (iPXE)', x86_64: 'x64 (iPXE)', arm64: 'arm64 (iPXE)',
};

const ZERO_UUID = /^[0-]+$/;

export function discoveredView(store: Store): DiscoveredView[] {
  const list = store.listDiscovered();
  const commissions = allCommissions(store);
  const uses = new Map<string, number>();
  // Only the inventory's UUIDs, not whole node records: this runs on every overview render.
  const nodeUuids = store.readers.inventoryUuids();
  const all = [...list.map((d) => d.uuid), ...nodeUuids];
  for (const u of all) if (u) uses.set(u.toLowerCase(), (uses.get(u.toLowerCase()) ?? 0) + 1);
  return list.map((d) => {
    const uuid = d.uuid?.toLowerCase() ?? null;
    const uuidFlag: UuidFlag = !uuid ? null : ZERO_UUID.test(uuid) ? 'all-zero' : (uses.get(uuid) ?? 0) > 1 ? 'duplicate' : null;
    const c = commissions.get(d.mac);
    const entry = c?.facts ? commissionedEntry(d.mac, c.facts) : undefined;
    const commission: CommissionView | null = c ? {
      state: c.state, bootedAt: c.bootedAt, readAt: c.readAt, endpoint: c.endpoint, lastError: c.lastError,
      summary: c.facts ? factsSummary(c.facts) : null, installDisk: entry?.disk ? describeDisk(entry.disk) : null,
      cabledMac: entry?.mac ?? null, facts: c.facts,
    } : null;
    const view = { ...d, uuidFlag, commission };
    return { ...view, archName: d.arch ? (ARCH_NAMES[d.arch] ?? d.arch) : null, snippet: inventorySnippet([view]) };
  });
}

type SnippetSource = DiscoveredRecord & { uuidFlag: UuidFlag; commission?: { facts: HardwareFacts | null } | null };

/**
 * YAML for the inventory's `nodes:` list. A flagged UUID is left out: it
 * would not identify the machine. A commissioned machine's entry names its
 * cabled NIC and an install-disk selector for the disk rackboot would pick.
 */
export function inventorySnippet(list: SnippetSource[]): string {
  const entries = list.map((d) => {
    const read = d.commission?.facts ? commissionedEntry(d.mac, d.commission.facts) : undefined;
    return {
      name: `node-${d.mac.replace(/:/g, '')}`,
      mac: read?.mac ?? d.mac,
      role: 'worker',
      ...(d.uuid && !d.uuidFlag ? { uuid: d.uuid } : {}),
      installDisk: read?.installDisk ?? '/dev/sda',
    };
  });
  return stringify(entries, { indent: 2 });
}
