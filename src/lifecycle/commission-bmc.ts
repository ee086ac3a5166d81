// Which BMC, if any, may power off a commissioned machine after its facts
// are read. BMCs are declared per inventory node, so the only way to tie one
// to an unknown MAC is the machine itself: an inventory node with a BMC whose
// `uuid` is the SMBIOS UUID the machine just reported (a node listed under
// another NIC's MAC, say). Only a UUID that identifies one machine counts:
// all zeros, or shared by two nodes, matches nothing. Serials are not used:
// boards ship with blank or "To be filled by O.E.M." serials.
import type { NodeRecord } from '../store/store.js';
import type { HardwareFacts } from '../talos/hardware.js';

const ZERO_UUID = /^[0-]*$/;

export function commissionBmcNode(nodes: NodeRecord[], facts: HardwareFacts): NodeRecord | undefined {
  const uuid = facts.system?.uuid.trim().toLowerCase() ?? '';
  if (!uuid || ZERO_UUID.test(uuid)) return undefined;
  const same = nodes.filter((n) => n.inInventory && (n.uuid ?? n.spec.uuid ?? '').toLowerCase() === uuid);
  if (same.length !== 1 || !same[0]!.spec.bmc) return undefined;
  return same[0];
}
