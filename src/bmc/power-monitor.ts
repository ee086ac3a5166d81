// Power state and BMC reachability for the status page, read in the
// background and kept in memory. Each read has a deadline of its own and
// rounds run a few BMCs at a time, so a BMC that stops answering costs its
// own node one slot per round and never holds up the others; a node whose
// previous read is still running is skipped rather than asked twice.
import type { NodeSpec } from '../inventory/types.js';
import { operateMany, operateNode, type PowerOutcome } from './operate.js';
import { FAULT_LABEL, type BmcFault, type PowerState } from './types.js';

/** What one read of a node's BMC found. */
export interface PowerReading {
  /** The BMC address it was read from (a changed address makes old readings stale). */
  address: string;
  at: number;
  ok: boolean;
  state?: PowerState;
  fault?: BmcFault;
  message?: string;
}

/** A node's power as the page and the API show it. */
export interface PowerView {
  address: string;
  /** on/off from the latest read; unknown when it failed or none was made yet. */
  state: PowerState | 'unknown';
  /** When the latest read finished (null: not read yet). */
  readAt: number | null;
  /** Whether the BMC answered at all: false only for network faults; null when not read or never tried. */
  reachable: boolean | null;
  fault: BmcFault | null;
  /** The fault in plain words: who was at fault, then the BMC's or client's message. */
  error: string | null;
  /** The last state read successfully, when the latest read failed. */
  lastKnown: { state: PowerState; at: number } | null;
}

export interface PowerMonitorOptions {
  dataDir: string;
  nodes: () => readonly NodeSpec[];
  /** Whole-read limit per node; the BMC client's own per-call limit is the same. */
  timeoutMs: number;
  /** BMCs read at once in a round. */
  parallel?: number;
  now?: () => number;
  /** Reads one node's power state (tests replace it); default: operateNode's status. */
  read?: (node: NodeSpec, timeoutMs: number) => Promise<PowerOutcome>;
}

const PARALLEL = 8;

export class PowerMonitor {
  private readonly readings = new Map<string, PowerReading>();
  private readonly lastGood = new Map<string, { address: string; state: PowerState; at: number }>();
  /** Reads under way; an entry stays until the client call ends, even when its deadline already answered. */
  private readonly inFlight = new Map<string, Promise<PowerReading>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Moves whenever a node's state, reachability or fault changes (the page's live feed watches it). */
  version = 0;

  constructor(private readonly opts: PowerMonitorOptions) {}

  /** Reads every node with a BMC now, then every `intervalMs` after a round ends. */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer || this.stopped) return;
    const round = () => {
      this.running = this.pollOnce().finally(() => {
        this.running = undefined;
        if (!this.stopped) (this.timer = setTimeout(round, intervalMs)).unref();
      });
    };
    this.timer = setTimeout(round, 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One round over every node with a BMC; nodes still being read are left to finish. */
  async pollOnce(): Promise<void> {
    const nodes = this.opts.nodes().filter((n) => n.bmc && !this.inFlight.has(n.name));
    await operateMany(nodes, this.opts.parallel ?? PARALLEL, async (n) => {
      const r = await this.read(n);
      return { node: n.name, ok: r.ok, message: r.message ?? '' };
    });
  }

  /** Reads one node now (a read already running for it is shared, not repeated). */
  read(node: NodeSpec): Promise<PowerReading> {
    const running = this.inFlight.get(node.name);
    if (running) return running;
    const { reading, settled } = this.readNow(node);
    this.inFlight.set(node.name, reading);
    void settled.finally(() => this.inFlight.delete(node.name));
    return reading;
  }

  /** Records what a power action found out (its settled state, or a fault that says whether the BMC answered). */
  noteOutcome(node: NodeSpec, outcome: PowerOutcome): void {
    if (!node.bmc) return;
    if (outcome.ok && outcome.state) this.record(node.name, { address: node.bmc.address, at: this.now(), ok: true, state: outcome.state });
    else if (!outcome.ok && outcome.fault && outcome.fault !== 'bmc') {
      this.record(node.name, { address: node.bmc.address, at: this.now(), ok: false, fault: outcome.fault, message: outcome.message });
    }
  }

  /** The node's power as last read; null when the node has no BMC. */
  view(node: NodeSpec): PowerView | null {
    if (!node.bmc) return null;
    const address = node.bmc.address;
    const r = this.readings.get(node.name);
    const current = r && r.address === address ? r : undefined;
    const good = this.lastGood.get(node.name);
    const known = good && good.address === address ? good : undefined;
    if (!current) return { address, state: 'unknown', readAt: null, reachable: null, fault: null, error: null, lastKnown: null };
    return {
      address,
      state: current.ok ? current.state! : 'unknown',
      readAt: current.at,
      reachable: current.ok ? true : current.fault === 'network' ? false : current.fault === 'config' ? null : true,
      fault: current.fault ?? null,
      error: current.ok ? null : current.message ?? FAULT_LABEL[current.fault ?? 'bmc'],
      lastKnown: !current.ok && known ? { state: known.state, at: known.at } : null,
    };
  }

  private readNow(node: NodeSpec): { reading: Promise<PowerReading>; settled: Promise<unknown> } {
    const address = node.bmc!.address;
    const timeoutMs = this.opts.timeoutMs;
    const read = this.opts.read ?? ((n: NodeSpec, t: number) => operateNode(undefined, n, 'status', { dataDir: this.opts.dataDir, actor: 'poller', timeoutMs: t }));
    let timer: NodeJS.Timeout | undefined;
    // The client's own limits apply per call (a Redfish read is several); this one bounds the whole read.
    const deadline = new Promise<PowerOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ node: node.name, ok: false, fault: 'network', message: `${FAULT_LABEL.network}: ${address}: no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    });
    const attempt = read(node, timeoutMs).catch((err: unknown): PowerOutcome => ({ node: node.name, ok: false, fault: 'bmc', message: `${FAULT_LABEL.bmc}: ${(err as Error).message}` }));
    const reading = Promise.race([attempt, deadline]).then((outcome) => {
      clearTimeout(timer);
      const r: PowerReading = outcome.ok
        ? { address, at: this.now(), ok: true, state: outcome.state }
        : { address, at: this.now(), ok: false, fault: outcome.fault, message: outcome.message };
      this.record(node.name, r);
      return r;
    });
    // A read cut short by the deadline is still running: the node stays busy until it ends.
    return { reading, settled: Promise.all([reading, attempt]) };
  }

  private record(name: string, reading: PowerReading): void {
    const before = this.readings.get(name);
    if (!before || before.ok !== reading.ok || before.state !== reading.state || before.fault !== reading.fault || before.address !== reading.address) this.version++;
    this.readings.set(name, reading);
    if (reading.ok && reading.state) this.lastGood.set(name, { address: reading.address, state: reading.state, at: reading.at });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
