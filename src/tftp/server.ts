// The TFTP service: a thin socket shell around files.ts (what may be sent),
// options.ts (how) and transfer.ts (the per-transfer state machine).
// Read-only. Each transfer gets its own ephemeral-port socket (its TID,
// RFC 1350 §4; transfer-socket.ts), connected to the client's TID, so
// packets from strangers are dropped by the kernel rather than answered with
// ERROR 5. Requests are answered from the listening socket only with errors;
// an ERROR is never answered with an ERROR.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import { bindListener, listenerAddress } from '../net/listener.js';
import { decodePacket, encodeError, encodeOack, ERR, toNetascii, type TftpPacket } from './codec.js';
import { ErrorBudget, replyToMalformed } from './malformed.js';
import { negotiate } from './options.js';
import { Transfer, type Step } from './transfer.js';
import { loadUdpBatch, openTransferSocket, type CaughtUp, type TransferIo, type TransferSocket, type TransferSocketEvents } from './transfer-socket.js';
import { loadTftpAcks } from './ack-fast-path.js';
import { TftpFiles, type VirtualFiles } from './files.js';
import { ClientTable, type TftpMetrics } from './clients.js';
import { recordTftpSighting } from './sightings.js';
import { FinishedRequests } from './finished-requests.js';

export interface TftpServiceDeps {
  settings: Pick<Settings, 'tftp'>;
  /** Address to bind: the provisioning address when one is configured. */
  host: string;
  log: Logger;
  store?: Store;
  /** Generated files served by name, e.g. boot.ipxe for firmware that cannot fetch HTTP. */
  virtualFiles?: VirtualFiles;
  /** First retransmit interval when the client sets none (default 1000 ms). */
  retransmitMs?: number;
  /**
   * Floor of the retransmit interval once round trips are measured (default
   * 200 ms, TCP's minimum RTO on Linux). A lost DATA on a busy rack then costs
   * about this much instead of retransmitMs and its doubling.
   */
  minRetransmitMs?: number;
  /** Consecutive timeouts before a transfer is given up (default 5). */
  maxRetries?: number;
  /**
   * Send each window in one batched call through the native addon (see
   * transfer-socket.ts). Default: when the addon has the calls; true insists
   * (start fails without them); false sends one packet per call.
   */
  batchedSends?: boolean;
  /**
   * Let the native addon receive the ACKs and send the next window itself
   * for the common ACK (ack-fast-path.ts). Default: when batched sends are
   * on and the addon has the calls; false keeps Node's receive path.
   */
  nativeAcks?: boolean;
  /**
   * The native ACK receiver off the event loop, on the one receiver thread
   * every such transfer shares (tftp-ack-thread.c), instead of a uv_poll on
   * the loop, so lock-step transfers do not wait for a busy loop. Default:
   * off; the daemon turns it on (DAEMON_ACK_THREAD). Since the receiver is
   * one thread and not one per transfer, a lone transfer is as fast there
   * as on the loop, and costs no more CPU (bench/HISTORY.md, round 11).
   */
  ackThread?: boolean;
  /** How long a late copy of a finished transfer's request is dropped (finished-requests.ts; default 3 s). */
  finishedMemoryMs?: number;
}

/**
 * The daemon's ackThread. On the loop, 200-machine storm rounds were
 * bimodal when the machine slowed (TFTP 2.2-2.4 s per machine, the loop
 * held over 50 ms in 4-7 s; bench/HISTORY.md, rounds 9 and 10); the
 * shared receiver thread costs a lone transfer nothing (round 11).
 */
export const DAEMON_ACK_THREAD = true;

export interface TftpService {
  name: 'tftp';
  /** The UDP port actually bound (differs from settings with port 0). */
  port: number;
  close(): Promise<void>;
  metrics(): TftpMetrics;
}

/**
 * How long a transfer whose client's port has closed (ICMP port unreachable)
 * still waits for the final ACK before it ends unconfirmed. That ACK can be
 * right behind the error: Linux reports a socket's pending error before the
 * datagrams already queued on it, and the link, or the kernel across CPUs,
 * can deliver the ICMP first.
 */
export const PEER_GONE_GRACE_MS = 100;

/** How long another request from a running transfer's port waits for that transfer's last packet (followUp). */
export const FOLLOW_UP_WAIT_MS = 100;

interface Active {
  ip: string;
  port: number;
  file: string;
  /** The RRQ's bytes (latin1): with ip:port, what finished-requests.ts remembers. */
  request: string;
  /** Another request from this transfer's port, waiting for it to end (followUp). */
  next?: { msg: Buffer; rinfo: RemoteInfo; timer: NodeJS.Timeout };
  size: number;
  startedAt: number;
  socket?: TransferSocket;
  transfer?: Transfer;
  timer?: NodeJS.Timeout;
  timerMs?: number;
  /** Armed at the first ICMP port unreachable: PEER_GONE_GRACE_MS. */
  peerGone?: NodeJS.Timeout;
  /** DATA payload bytes sent, retransmissions included; added to the client's counters at the end. */
  bytesSent: number;
}

export async function startTftpService(deps: TftpServiceDeps): Promise<TftpService> {
  const { settings, log } = deps;
  const cfg = settings.tftp;
  const files = new TftpFiles(cfg.root, deps.virtualFiles ?? {});
  const clients = new ClientTable();
  const active = new Map<string, Active>();
  const finished = new FinishedRequests(deps.finishedMemoryMs);
  const retransmitMs = deps.retransmitMs ?? 1000;
  const minRetransmitMs = Math.min(deps.minRetransmitMs ?? 200, retransmitMs);
  const maxRetries = deps.maxRetries ?? 5;
  const batch = deps.batchedSends === false ? undefined : loadUdpBatch();
  if (deps.batchedSends === true && !batch) throw new Error('TFTP batched sends need the bindtodevice addon with openConnectedUdp/sendBlocks; rebuild it (see src/net/addon.ts)');
  const io: TransferIo = { batch, acks: batch && deps.nativeAcks !== false ? loadTftpAcks() : undefined, ackThread: deps.ackThread ?? false };
  let limitReported = false;
  let closed = false;

  const family = deps.host.includes(':') ? 'udp6' : 'udp4';
  const main = createSocket({ type: family });
  await bindListener('TFTP', listenerAddress('udp', deps.host, cfg.port), () => new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => (main.close(), reject(err));
    main.once('error', failed);
    main.bind({ address: deps.host, port: cfg.port }, () => (main.off('error', failed), resolve()));
  }));
  main.on('error', (err) => log.error({ err }, 'TFTP socket error'));
  const boundPort = main.address().port;
  log.info({ host: deps.host, port: boundPort, root: cfg.root, maxBlksize: cfg.maxBlksize, maxWindowsize: cfg.maxWindowsize, maxTransfers: cfg.maxTransfers, batchedSends: !!batch, nativeAcks: !!io.acks, ackThread: !!(io.acks && io.ackThread) }, 'TFTP listening');

  const errorBudget = new ErrorBudget();
  /** ERRORs from the listening port answer unverified source addresses: budgeted per client. */
  const sendError = (sock: Socket, to: RemoteInfo, code: number, message: string) => {
    if (sock === main && !errorBudget.allow(to.address)) return;
    sock.send(encodeError(code, message), to.port, to.address);
  };

  const sighting = (a: Active, outcome: string, message: string, bytes?: number) => {
    if (!deps.store) return;
    try {
      recordTftpSighting(deps.store, { ip: a.ip, file: a.file, outcome, message, bytes, ms: Date.now() - a.startedAt });
    } catch (err) {
      log.warn({ err }, 'could not record TFTP event');
    }
  };

  /** Stops a transfer's timers and closes its socket. */
  function release(a: Active): void {
    if (a.timer) clearTimeout(a.timer);
    if (a.next) clearTimeout(a.next.timer);
    if (a.peerGone) clearTimeout(a.peerGone);
    a.socket?.close();
  }

  function finish(key: string, a: Active, end: NonNullable<Step['end']>): void {
    release(a);
    active.delete(key);
    if (active.size < cfg.maxTransfers) limitReported = false;
    const t = a.transfer!;
    if (end.outcome === 'complete' || end.outcome === 'unconfirmed' || end.outcome === 'probe') finished.remember(key, a.request);
    clients.count(a.ip, 'retransmissions', t.retransmissions);
    clients.count(a.ip, 'bytesSent', a.bytesSent);
    const ms = Date.now() - a.startedAt;
    const ctx = { client: `${a.ip}:${a.port}`, file: a.file, ms };
    switch (end.outcome) {
      case 'complete':
        clients.count(a.ip, 'completed');
        clients.event(a.ip, 'served', a.file, end.detail);
        log.info({ ...ctx, blocks: t.totalBlocks, retransmissions: t.retransmissions }, `TFTP served ${a.file}: ${end.detail}`);
        sighting(a, 'complete', `TFTP served ${a.file} to ${a.ip}`, a.size);
        break;
      case 'probe':
        clients.count(a.ip, 'probes');
        clients.event(a.ip, 'probe', a.file, end.detail);
        log.debug(ctx, `TFTP ${end.detail}`);
        break;
      case 'aborted':
        clients.count(a.ip, 'aborted');
        clients.event(a.ip, 'aborted', a.file, end.detail);
        log.info(ctx, `TFTP transfer of ${a.file} aborted: ${end.detail}`);
        sighting(a, 'aborted', `TFTP transfer of ${a.file} to ${a.ip} aborted by the client`);
        break;
      case 'unconfirmed':
        clients.count(a.ip, 'unconfirmed');
        clients.event(a.ip, 'unconfirmed', a.file, end.detail);
        log.info(ctx, `TFTP sent all of ${a.file} but the final ACK never came (the client may have it): ${end.detail}`);
        sighting(a, 'unconfirmed', `TFTP sent ${a.file} to ${a.ip}; final ACK missing`, a.size);
        break;
      case 'timeout':
        clients.count(a.ip, 'timeouts');
        clients.event(a.ip, 'timeout', a.file, end.detail);
        log.warn(ctx, `TFTP transfer of ${a.file} gave up: ${end.detail}`);
        sighting(a, 'timeout', `TFTP transfer of ${a.file} to ${a.ip} timed out`);
        break;
    }
    const next = a.next;
    if (next) queueMicrotask(() => closed || onRequest(next.msg, next.rinfo, true));
  }

  /**
   * Another request from the port of a transfer still running: the client
   * is done with that transfer, but its last ACK or ERROR can still be
   * queued behind this read (the receiver thread hands it to the loop
   * through a wake-up; on the loop's own path two sockets are read in no set
   * order). So the request waits for the transfer to end, and at most
   * FOLLOW_UP_WAIT_MS: then the transfer ends as the client left it. OVMF
   * asks for its file from the port its size probe used (pxe/CLIENTS.md).
   */
  function followUp(key: string, a: Active, msg: Buffer, rinfo: RemoteInfo): void {
    // A retransmission of the waiting request replaces it; one timer.
    if (a.next) return void (a.next = { ...a.next, msg, rinfo });
    a.next = { msg, rinfo, timer: setTimeout(() => active.get(key) === a && apply(key, a, a.transfer!.onSuperseded()), FOLLOW_UP_WAIT_MS) };
  }

  /** What the native ACK path did on its own, applied to the transfer before anything else decides. */
  function catchUp(a: Active): CaughtUp | undefined {
    const c = a.socket?.catchUp?.(a.transfer!, performance.now());
    if (c) {
      a.bytesSent += c.bytes;
      clients.count(a.ip, 'nativeAckWindows', c.windows);
    }
    return c;
  }

  function onTimer(key: string, a: Active): void {
    const c = catchUp(a);
    // Moved on since the timer was armed: the window now out gets its full interval.
    if (c && !a.transfer!.finished) {
      a.timerMs = undefined;
      a.timer = setTimeout(() => onTimer(key, a), Math.max(1, a.transfer!.retransmitMs - c.windowAgeMs));
      return;
    }
    apply(key, a, a.transfer!.onTimeout());
  }

  function apply(key: string, a: Active, step: Step): void {
    a.bytesSent += a.socket!.send(step, a.transfer!);
    if (step.timer === 'stop') {
      if (a.timer) clearTimeout(a.timer);
      a.timer = undefined;
    } else if (typeof step.timer === 'number') {
      // One timer per transfer, re-armed per window: refresh() avoids a new timer object per ACK.
      if (a.timer && a.timerMs === step.timer) a.timer.refresh();
      else {
        if (a.timer) clearTimeout(a.timer);
        a.timer = setTimeout(() => onTimer(key, a), step.timer);
        a.timerMs = step.timer;
      }
    }
    if (step.end) finish(key, a, step.end);
  }

  function onTransferPacket(key: string, a: Active, msg: Buffer): void {
    catchUp(a);
    const decoded = decodePacket(msg);
    if (!decoded.ok) return clients.count(a.ip, 'malformed');
    const pkt = decoded.packet;
    if (pkt.op === 'ACK') apply(key, a, a.transfer!.onAck(pkt.block, performance.now()));
    else if (pkt.op === 'ERROR') apply(key, a, a.transfer!.onError(pkt.code, pkt.message));
    else clients.count(a.ip, 'unexpected');
  }

  function startTransfer(key: string, rinfo: RemoteInfo, request: string, pkt: Extract<TftpPacket, { filename: string }>, data: Uint8Array): void {
    const neg = negotiate(pkt.options, data.length, cfg);
    const a: Active = { ip: rinfo.address, port: rinfo.port, file: pkt.filename, request, size: data.length, startedAt: Date.now(), bytesSent: 0 };
    a.transfer = new Transfer({
      data,
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      oack: neg.oack && encodeOack(neg.oack),
      timeoutMs: neg.timeoutMs ?? retransmitMs,
      fixedTimeout: neg.timeoutMs !== undefined,
      minTimeoutMs: minRetransmitMs,
      maxRetries,
    });
    active.set(key, a);
    const events: TransferSocketEvents = {
      message: (msg) => {
        try {
          onTransferPacket(key, a, msg);
        } catch (err) {
          log.error({ err, client: key }, 'TFTP transfer packet handling failed');
        }
      },
      // The client has exited, perhaps with its final ACK still on the way.
      peerGone: () => {
        if (a.transfer!.finished) return;
        a.peerGone ??= setTimeout(() => (catchUp(a), apply(key, a, a.transfer!.onPeerGone())), PEER_GONE_GRACE_MS);
      },
      error: (err) => {
        if (a.transfer!.finished) return;
        log.warn({ err, client: key }, 'TFTP transfer socket error');
        catchUp(a);
        apply(key, a, a.transfer!.onError(0, `socket error: ${err.message}`));
      },
      ready: () => {
        if (closed || active.get(key) !== a) return;
        log.debug({ client: key, file: pkt.filename, options: neg.oack, size: data.length, ackThread: !!(io.acks && io.ackThread) }, 'TFTP transfer starts');
        apply(key, a, a.transfer!.start(performance.now()));
      },
    };
    try {
      a.socket = openTransferSocket(io, { family, host: deps.host, ip: a.ip, port: a.port }, a.transfer, events);
    } catch (err) {
      active.delete(key);
      throw err;
    }
  }

  /** `waited`: a request followUp held back, counted when it was first read. */
  function onRequest(msg: Buffer, rinfo: RemoteInfo, waited = false): void {
    const ip = rinfo.address;
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      clients.count(ip, 'malformed');
      const reply = replyToMalformed(msg, decoded.error.kind);
      log.debug({ client: `${ip}:${rinfo.port}`, reason: decoded.error.message, error: reply?.code }, reply ? 'TFTP malformed request refused' : 'TFTP malformed packet dropped');
      if (reply) sendError(main, rinfo, reply.code, reply.message);
      return;
    }
    const pkt = decoded.packet;
    if (pkt.op === 'WRQ') {
      clients.count(ip, 'writeRefused');
      clients.event(ip, 'write-refused', pkt.filename, 'WRQ refused');
      log.info({ client: ip, file: pkt.filename }, 'TFTP write request refused (read-only)');
      return sendError(main, rinfo, ERR.ACCESS_VIOLATION, 'Access violation: this server is read-only');
    }
    // Anything but a request on the listening port is a stray; never answer an ERROR.
    if (pkt.op !== 'RRQ') return clients.count(ip, 'unexpected');
    if (!waited) clients.count(ip, 'requests');
    const key = `${ip}:${rinfo.port}`;
    const request = msg.toString('latin1');
    const running = active.get(key);
    // A retransmitted RRQ (same client, same port, same bytes) belongs to the transfer already running.
    if (running?.request === request) return clients.count(ip, 'duplicateRequests');
    if (running) return followUp(key, running, msg, rinfo);
    // One read after its transfer ended: a late copy, not a new request (finished-requests.ts).
    if (finished.justFinished(key, request)) return clients.count(ip, 'lateDuplicateRequests');
    if (active.size >= cfg.maxTransfers) {
      clients.count(ip, 'busy');
      clients.event(ip, 'busy', pkt.filename, `${active.size} transfers active`);
      if (!limitReported) {
        limitReported = true;
        log.warn({ active: active.size, client: key, file: pkt.filename }, `TFTP transfer limit reached: ${active.size} transfers active (tftp.maxTransfers); new requests are dropped until one ends, clients retry`);
      }
      return;
    }
    // RFC 1350: "mail" is for WRQ only (and obsolete); a read in that mode is illegal.
    if (pkt.mode === 'mail') {
      clients.count(ip, 'denied');
      clients.event(ip, 'denied', pkt.filename, 'mail mode');
      return sendError(main, rinfo, ERR.ILLEGAL_OPERATION, 'Mode mail is not supported');
    }
    const file = files.resolve(pkt.filename);
    if (!file.ok) {
      const denied = file.code === 'access-violation';
      clients.count(ip, denied ? 'denied' : 'notFound');
      clients.event(ip, denied ? 'denied' : 'not-found', pkt.filename, file.reason);
      log.info({ client: key, file: pkt.filename, reason: file.reason }, denied ? 'TFTP request refused' : 'TFTP file not found');
      if (denied) return sendError(main, rinfo, ERR.ACCESS_VIOLATION, 'Access violation');
      return sendError(main, rinfo, ERR.FILE_NOT_FOUND, file.code === 'too-large' ? 'File too large for TFTP' : 'File not found');
    }
    startTransfer(key, rinfo, request, pkt as Extract<TftpPacket, { filename: string }>, pkt.mode === 'netascii' ? toNetascii(file.data) : file.data);
  }

  main.on('message', (msg, rinfo) => {
    try {
      onRequest(msg, rinfo);
    } catch (err) {
      // A bug must cost one request, never the service.
      clients.count(rinfo.address, 'malformed');
      log.error({ err, client: `${rinfo.address}:${rinfo.port}` }, 'TFTP request handling failed');
    }
  });

  return {
    name: 'tftp',
    port: boundPort,
    metrics: () => ({ activeTransfers: active.size, cachedFiles: files.cachedFiles, ...clients.snapshot() }),
    async close() {
      if (closed) return;
      closed = true;
      for (const a of active.values()) release(a);
      active.clear();
      await new Promise<void>((resolve) => main.close(() => resolve()));
      log.info('TFTP stopped');
    },
  };
}
