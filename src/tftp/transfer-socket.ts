// A transfer's own UDP socket (its TID, RFC 1350 §4), connected to the
// client's TID so the kernel drops packets from anyone else.
//
// Three ways, chosen once per service:
// - native ACKs (ack-fast-path.ts): the addon receives too, and answers the
//   common ACK with the next window without entering JavaScript.
// - batched (the native addon's openConnectedUdp/sendBlocks): a window goes
//   out in one sendmmsg(2), each DATA packet a 4-byte header plus an iovec
//   into the cached file, so nothing is allocated or copied per block. The
//   addon makes and connects the socket; Node adopts it with bind({ fd }) and
//   only receives on it.
// - per packet (dgram.send of an encoded packet), where the addon is not built
//   or lacks these calls: the path rackboot had before.
// A profile of an 8 MiB transfer over loopback put 26% of the daemon's time in
// dgram's send path (3.6 µs a packet), more than all of our own code.

import { createSocket, type Socket } from 'node:dgram';
import { constants } from 'node:os';
import { optionalAddonCalls } from '../net/addon.js';
import type { Step, Transfer } from './transfer.js';
import { openAckFastPath, type TftpAcks } from './ack-fast-path.js';

export interface UdpBatch {
  openConnectedUdp(localAddr: string, remoteAddr: string, remotePort: number): number;
  /** DATA blocks from..to of data in one sendmmsg; the number sent, or -errno. */
  sendBlocks(fd: number, data: Uint8Array, blksize: number, from: number, to: number): number;
  /** One datagram; the bytes sent, or -errno. */
  sendDatagram(fd: number, data: Uint8Array): number;
}

/** The addon's batch calls, or undefined when it is not built or predates them. */
export function loadUdpBatch(): UdpBatch | undefined {
  return optionalAddonCalls<UdpBatch>(['openConnectedUdp', 'sendBlocks', 'sendDatagram']);
}

export interface TransferSocketEvents {
  message(msg: Buffer): void;
  /** ICMP port unreachable: the client's port has closed. */
  peerGone(): void;
  error(err: Error): void;
  /** Bound and connected: sends reach the client from here on. */
  ready(): void;
}

/** What an I/O fast path did on its own since it was last asked. */
export interface CaughtUp {
  /** Windows it sent, each answering an ACK JavaScript never saw. */
  windows: number;
  /** DATA payload bytes it sent. */
  bytes: number;
  /** How long ago (ms) the window now out was sent. */
  windowAgeMs: number;
}

export interface TransferSocket {
  /** Sends what the step asks for; returns the DATA payload bytes that left. */
  send(step: Step, transfer: Transfer): number;
  /**
   * Where the socket moves the transfer on by itself (native ACKs): applies
   * that to the transfer. Undefined when it had not moved it on.
   */
  catchUp?(transfer: Transfer, now: number): CaughtUp | undefined;
  close(): void;
}

export interface TransferSocketTarget {
  family: 'udp4' | 'udp6';
  /** Local address to bind (the service's address), on an ephemeral port. */
  host: string;
  ip: string;
  port: number;
}

/** The addon's calls a service found: batched sends, and the native ACK receiver with them. */
export interface TransferIo {
  batch?: UdpBatch;
  acks?: TftpAcks;
  /** Experiment: the ACK receiver on a thread per transfer instead of a uv_poll. */
  ackThread?: boolean;
}

export function openTransferSocket(io: TransferIo, to: TransferSocketTarget, t: Transfer, ev: TransferSocketEvents): TransferSocket {
  if (io.batch && io.acks) return openAckFastPath(io.batch, io.acks, to, t, ev, io.ackThread);
  return io.batch ? openBatched(io.batch, to, ev) : openPerPacket(to, ev);
}

function listen(sock: Socket, ev: TransferSocketEvents): void {
  sock.on('message', (msg) => ev.message(msg));
  sock.on('error', (err: NodeJS.ErrnoException) => {
    // On a connected socket an ICMP port unreachable surfaces as ECONNREFUSED.
    if (err.code === 'ECONNREFUSED') ev.peerGone();
    else ev.error(err);
  });
}

/**
 * For a native send's result: a negative count is -errno, the error a socket
 * would report; true when the send failed.
 */
export function sendFailed(n: number, ev: TransferSocketEvents, isClosed: () => boolean): boolean {
  if (n >= 0) return false;
  // EAGAIN/ENOBUFS: the send buffer is full. What did not leave is a lost
  // packet, which the retransmit timer recovers, as for one lost on the wire.
  if (n === -constants.errno.EAGAIN || n === -constants.errno.ENOBUFS) return true;
  if (n === -constants.errno.ECONNREFUSED) ev.peerGone();
  // Reported after the step that sent, which the caller is still applying.
  else queueMicrotask(() => isClosed() || ev.error(Object.assign(new Error(`send: errno ${-n}`), { errno: -n })));
  return true;
}

function openBatched(batch: UdpBatch, to: TransferSocketTarget, ev: TransferSocketEvents): TransferSocket {
  const fd = batch.openConnectedUdp(to.host, to.ip, to.port);
  const sock = createSocket({ type: to.family });
  listen(sock, ev);
  // Node owns the descriptor from here (closing the socket closes it).
  sock.bind({ fd });
  let closed = false;
  const failed = (n: number) => sendFailed(n, ev, () => closed);
  queueMicrotask(() => closed || ev.ready());
  return {
    send(step, t) {
      if (step.oack && failed(batch.sendDatagram(fd, step.oack))) return 0;
      const r = step.blocks;
      if (!r) return 0;
      const n = batch.sendBlocks(fd, t.data, t.blksize, r.from, r.to);
      if (failed(n) || n === 0) return 0;
      return t.payloadBytes({ from: r.from, to: r.from + n - 1 });
    },
    close() {
      closed = true;
      sock.close();
    },
  };
}

function openPerPacket(to: TransferSocketTarget, ev: TransferSocketEvents): TransferSocket {
  const sock = createSocket({ type: to.family });
  listen(sock, ev);
  let closed = false;
  sock.bind({ address: to.host, port: 0 }, () => {
    if (closed) return;
    sock.connect(to.port, to.ip, () => closed || ev.ready());
  });
  return {
    send(step, t) {
      for (const pkt of t.packets(step)) sock.send(pkt);
      return step.blocks ? t.payloadBytes(step.blocks) : 0;
    },
    close() {
      closed = true;
      sock.close();
    },
  };
}
