// Per-client TFTP counters and recent events. TFTP carries no MAC, so a
// client is its IP address. Memory is bounded: a fixed number of recent
// events per client and a fixed number of clients (least recently seen go
// first), because source addresses of UDP packets are cheap to forge.

export const COUNTERS = [
  'requests', 'completed', 'unconfirmed', 'probes', 'aborted', 'timeouts', 'notFound', 'denied', 'writeRefused',
  'duplicateRequests', 'busy', 'malformed', 'unexpected', 'bytesSent', 'retransmissions',
  // Windows the native ACK path (ack-fast-path.ts) sent on ACKs JavaScript never saw.
  'nativeAckWindows',
  // Copies of a request read after its transfer ended, dropped (finished-requests.ts).
  'lateDuplicateRequests',
] as const;
export type CounterName = (typeof COUNTERS)[number];
export type Counters = Record<CounterName, number>;

export type TftpEventKind = 'served' | 'unconfirmed' | 'probe' | 'aborted' | 'timeout' | 'not-found' | 'denied' | 'write-refused' | 'busy';

export interface TftpEvent {
  at: number;
  kind: TftpEventKind;
  file: string;
  detail: string;
}

export interface ClientStats {
  ip: string;
  firstSeen: number;
  lastSeen: number;
  counters: Counters;
  events: TftpEvent[];
}

export interface TftpMetrics {
  activeTransfers: number;
  cachedFiles: number;
  totals: Counters;
  clients: ClientStats[];
}

function zero(): Counters {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters;
}

export class ClientTable {
  readonly totals = zero();
  private readonly clients = new Map<string, ClientStats>();

  constructor(private readonly now: () => number = Date.now, private readonly maxClients = 1024, private readonly maxEvents = 32) {}

  count(ip: string, name: CounterName, n = 1): void {
    this.totals[name] += n;
    this.client(ip).counters[name] += n;
  }

  event(ip: string, kind: TftpEventKind, file: string, detail: string): void {
    const c = this.client(ip);
    c.events.push({ at: this.now(), kind, file, detail });
    if (c.events.length > this.maxEvents) c.events.splice(0, c.events.length - this.maxEvents);
  }

  snapshot(): { totals: Counters; clients: ClientStats[] } {
    return {
      totals: { ...this.totals },
      clients: [...this.clients.values()].map((c) => ({ ...c, counters: { ...c.counters }, events: [...c.events] })),
    };
  }

  private client(ip: string): ClientStats {
    const now = this.now();
    let c = this.clients.get(ip);
    if (c) {
      // Re-insert so Map order is least recently seen first.
      this.clients.delete(ip);
    } else {
      c = { ip, firstSeen: now, lastSeen: now, counters: zero(), events: [] };
      if (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value!);
    }
    c.lastSeen = now;
    this.clients.set(ip, c);
    return c;
  }
}
