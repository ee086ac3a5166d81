// Puts the outcome of a TFTP transfer into the appliance's event log. TFTP
// has no MAC; when our DHCP lease table maps the client's IP to one, the
// event is tied to that MAC and to the inventory node that owns it.

import type { Store } from '../store/store.js';

export interface TftpSighting {
  ip: string;
  file: string;
  outcome: string;
  message: string;
  bytes?: number;
  ms?: number;
}

/** Committed without a disk flush (Store.withoutFlush): one per transfer, on the event loop. */
export function recordTftpSighting(store: Store, s: TftpSighting): void {
  store.withoutFlush(() => record(store, s));
}

function record(store: Store, s: TftpSighting): void {
  const mac = store.readers.leasedMac(s.ip);
  const node = mac ? store.nodeByMac(mac) : undefined;
  store.appendEvent({
    node: node?.name ?? null,
    mac: mac ?? null,
    kind: 'tftp',
    message: s.message,
    data: { ip: s.ip, file: s.file, outcome: s.outcome, bytes: s.bytes, ms: s.ms },
  });
  if (node) store.touch(node.name);
}
