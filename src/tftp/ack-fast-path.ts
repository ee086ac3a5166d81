// A transfer socket whose ACKs the native addon receives
// (native/bindtodevice/tftp-acks.c): a uv_poll on the connected transfer
// socket reads datagrams with recvmmsg and, for the common ACK (the last
// block of the window just sent, more to come), sends the next window with
// sendmmsg itself. JavaScript wakes only for the rest: the OACK's ACK 0,
// duplicate or earlier ACKs, the final ACK, ERROR, malformed datagrams,
// ICMP port unreachable and the retransmit timer. The transfer machine
// (transfer.ts) stays the policy: before it decides anything, catchUp()
// gives it what the fast path did (Transfer.advance), so it decides from the
// state it would have reached taking every ACK itself.
//
// Why: with windowsize 1 a transfer is a round trip per block, and Node's
// receive path per ACK (a Buffer, an rinfo object and an emit) plus our
// decode cost about as much as the kernel's side of the round trip. Measured
// 2026-12-03 (bench/tftp-cpu.mjs, daemon CPU per block at blksize 1468):
// 7.1 µs against dnsmasq's 4.6 and atftpd's 3.9 before this path.

import { closeSync } from 'node:fs';
import type { Step, Transfer } from './transfer.js';
import { sendFailed, type CaughtUp, type TransferSocket, type TransferSocketEvents, type TransferSocketTarget, type UdpBatch } from './transfer-socket.js';
import { optionalAddonCalls } from '../net/addon.js';

export interface TftpAcks {
  tftpAcksOpen(fd: number, data: Uint8Array, blksize: number, windowsize: number, onEvent: (kind: number, arg: Buffer | number) => void, threaded?: boolean): object;
  /** DATA from..to, expecting the ACK of `to` next; packets sent or -errno. */
  tftpAcksSend(handle: object, from: number, to: number, timed: boolean): number;
  /** [acked, windows, packets, bytes, windowAgeMs, ...rttMs] since the last sync. */
  tftpAcksSync(handle: object): number[];
  tftpAcksClose(handle: object): void;
}

/** The addon's ACK receiver calls, or undefined when the build lacks them. */
export function loadTftpAcks(): TftpAcks | undefined {
  return optionalAddonCalls<TftpAcks>(['tftpAcksOpen', 'tftpAcksSend', 'tftpAcksSync', 'tftpAcksClose']);
}

/** tftp-acks.c's event kinds. */
const DATAGRAM = 0;
const PORT_UNREACHABLE = 1;

export function openAckFastPath(batch: UdpBatch, acks: TftpAcks, to: TransferSocketTarget, t: Transfer, ev: TransferSocketEvents, threaded = false): TransferSocket {
  const fd = batch.openConnectedUdp(to.host, to.ip, to.port);
  let closed = false;
  let handle: object;
  try {
    handle = acks.tftpAcksOpen(fd, t.data, t.blksize, t.windowsize, (kind, arg) => {
      if (closed) return;
      if (kind === DATAGRAM) ev.message(arg as Buffer);
      else if (kind === PORT_UNREACHABLE) ev.peerGone();
      else ev.error(Object.assign(new Error(`receive: errno ${arg as number}`), { errno: arg as number }));
    }, threaded);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const failed = (n: number) => sendFailed(n, ev, () => closed);
  queueMicrotask(() => closed || ev.ready());
  return {
    send(step: Step, tr: Transfer) {
      if (step.oack && failed(batch.sendDatagram(fd, step.oack))) return 0;
      const r = step.blocks;
      if (!r) return 0;
      const n = acks.tftpAcksSend(handle, r.from, r.to, !step.retransmit);
      if (failed(n) || n === 0) return 0;
      return tr.payloadBytes({ from: r.from, to: r.from + n - 1 });
    },
    catchUp(tr: Transfer, now: number): CaughtUp | undefined {
      if (closed) return undefined;
      const [acked, windows, packets, bytes, windowAgeMs, ...rttMs] = acks.tftpAcksSync(handle);
      if (!windows) return undefined;
      tr.advance(acked!, packets!, rttMs, now, windowAgeMs);
      return { windows, bytes: bytes!, windowAgeMs: windowAgeMs! };
    },
    close() {
      if (closed) return;
      closed = true;
      acks.tftpAcksClose(handle);
    },
  };
}
