// UDP receiver for Talos's kernel log stream (talos.logging.kernel=udp://…).
// Talos sends one JSON object per datagram. The sender's address says which
// node it is: the inventory IP, or the address a current DHCP lease gave
// that node's MAC. Anything that is not a JSON object, or comes from an
// address we cannot tie to a node, is dropped and counted.
import { createSocket, type Socket } from 'node:dgram';
import type { Store } from '../store/store.js';
import { bindListener, listenerAddress } from '../net/listener.js';
import type { MetricsSource } from '../lifecycle/ports.js';
import type { ConsoleLog } from './buffer.js';

const MAX_LINE = 8192;

export interface ConsoleCounters {
  console_datagrams_total: number;
  console_lines_total: number;
  console_malformed_total: number;
  console_unmatched_total: number;
}

/** Parses one datagram into JSON objects; returns undefined for malformed input. */
export function parseConsoleDatagram(buf: Buffer): Record<string, unknown>[] | undefined {
  if (buf.length === 0 || buf.length > 65507) return undefined;
  const out: Record<string, unknown>[] = [];
  for (const raw of buf.toString('utf8').split('\n')) {
    const text = raw.trim();
    if (!text) continue;
    if (text.length > MAX_LINE) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    out.push(v as Record<string, unknown>);
  }
  return out.length > 0 ? out : undefined;
}

/** Which node sends from `ip`: its inventory IP first, then an unexpired lease for its MAC. */
export function nodeForAddress(store: Store, ip: string, now = Date.now()): string | undefined {
  return store.readers.nodeForAddress(ip, now);
}

export class ConsoleReceiver implements MetricsSource {
  private socket: Socket | undefined;
  readonly counters: ConsoleCounters = { console_datagrams_total: 0, console_lines_total: 0, console_malformed_total: 0, console_unmatched_total: 0 };

  constructor(
    private readonly store: Store,
    private readonly log: ConsoleLog,
  ) {}

  /** Binds the UDP port; resolves with the bound port (useful with 0). */
  async listen(host: string, port: number): Promise<number> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.address));
    await bindListener('console receiver', listenerAddress('udp', host, port), () => new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    }));
    // A socket error after bind must not take the daemon down.
    socket.on('error', () => {});
    return socket.address().port;
  }

  /** The bound UDP port, once listening. */
  get port(): number | undefined {
    return this.socket?.address().port;
  }

  receive(msg: Buffer, from: string): void {
    this.counters.console_datagrams_total++;
    const objects = parseConsoleDatagram(msg);
    if (!objects) {
      this.counters.console_malformed_total++;
      return;
    }
    const node = nodeForAddress(this.store, from.replace(/^::ffff:/, ''));
    if (!node) {
      this.counters.console_unmatched_total++;
      return;
    }
    const at = Date.now();
    for (const fields of objects) {
      this.counters.console_lines_total++;
      const msgField = fields.msg;
      this.log.add(node, { at, msg: typeof msgField === 'string' ? msgField : JSON.stringify(fields), fields });
    }
  }

  metrics(): Record<string, number> {
    return { ...this.counters };
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}
