// Serial-over-LAN capture while a node PXE-boots: firmware and iPXE write
// only to the serial console, before Talos ships its kernel log, so this is
// the only way to see them without a crash cart. A capture starts when a
// power on or cycle with PXE first reaches the node (any actor: the CLI, the
// page, the automatic paths; seen in the store's `power` events), or just
// before such an action the daemon itself sends. It ends when the node's
// Talos kernel log arrives in the console buffer, after `bmc.solSeconds`,
// or when the daemon stops. At most one session per node; a BMC that refuses
// SOL or drops it is a `sol` event, never an error that stops anything.
import type { ConsoleLine, ConsoleLog } from '../console/buffer.js';
import type { NodeSpec } from '../inventory/types.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { ipmiOptionsFor } from './connect.js';
import { POWER_EVENT } from './operate.js';
import { SolSession, type SolEnd } from './sol.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const SOL_EVENT = 'sol';
/** `fields.source` of a console line captured over Serial-over-LAN. */
export const SOL_SOURCE = 'sol';

export interface SolCaptureOptions {
  store: Store;
  console: ConsoleLog;
  dataDir: string;
  /** The live inventory's nodes. */
  nodes: () => NodeSpec[];
  /** Longest capture in seconds, read at each start; 0 turns capture off. */
  seconds: () => number;
  /** Limit for the session's RMCP+ handshake (ipmitool's retries fit inside it). */
  timeoutMs: number;
  log?: Logger;
  /** How often the store's new power events are read. */
  pollMs?: number;
}

interface Capture { session: SolSession; timer: NodeJS.Timeout; why: string }

/** Whether a stored power event is a power on or cycle with PXE first that the BMC took. */
export function startsPxeBoot(data: unknown): boolean {
  const d = data as { request?: string; ok?: boolean; pxeFirst?: boolean } | null;
  return !!d && d.ok === true && d.pxeFirst === true && (d.request === 'on' || d.request === 'cycle');
}

export class SolCapture {
  private readonly captures = new Map<string, Capture>();
  private lastEventId = 0;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onConsoleLine = (node: string, line: ConsoleLine) => {
    // Talos's kernel log has taken over: the serial console has nothing more to add.
    if (line.fields.source !== SOL_SOURCE && this.captures.has(node)) this.end(node, 'the Talos kernel log took over');
  };

  constructor(private readonly opts: SolCaptureOptions) {}

  start(): void {
    // Power actions from before this start are not replayed.
    this.lastEventId = this.opts.store.events({ limit: 1 })[0]?.id ?? 0;
    this.opts.console.on('line', this.onConsoleLine);
    this.poll = setInterval(() => this.readPowerEvents(), this.opts.pollMs ?? 1000);
    this.poll.unref();
  }

  /** Nodes with a session running now. */
  active(): string[] {
    return [...this.captures.keys()];
  }

  /**
   * Called by the daemon's own power paths just before a PXE power action,
   * so the first firmware lines are not lost while the action is carried out.
   * Waits briefly for the session's handshake; never throws.
   */
  async beforePower(node: NodeSpec, actor: string): Promise<void> {
    const started = this.begin(node, `power action with PXE by ${actor}`);
    if (started) await Promise.race([started.session.ended, new Promise((r) => setTimeout(r, 1500))]);
  }

  private readPowerEvents(): void {
    if (this.closed) return;
    const events = this.opts.store.events({ afterId: this.lastEventId, limit: 5000 });
    for (const e of events) {
      this.lastEventId = Math.max(this.lastEventId, e.id);
      if (e.kind !== POWER_EVENT || !e.node || !startsPxeBoot(e.data)) continue;
      const spec = this.opts.nodes().find((n) => n.name === e.node);
      if (spec) this.begin(spec, `power ${(e.data as { request: string }).request} with PXE by ${(e.data as { actor?: string }).actor ?? 'someone'}`);
    }
  }

  /** Starts a capture for the node unless one runs, capture is off, or its BMC does not speak IPMI. */
  private begin(node: NodeSpec, why: string): Capture | undefined {
    const seconds = this.opts.seconds();
    if (this.closed || seconds <= 0 || !node.bmc || this.captures.has(node.name)) return undefined;
    let options;
    try {
      options = ipmiOptionsFor(node.name, node.bmc, { dataDir: this.opts.dataDir, timeoutMs: this.opts.timeoutMs });
    } catch (err) {
      this.record(node, `Serial-over-LAN capture not started: ${(err as Error).message}`, { started: false, reason: 'config' });
      return undefined;
    }
    if (!options) return undefined; // Redfish: no Serial-over-LAN through ipmitool.
    const session = new SolSession(options, (text) => {
      this.opts.console.add(node.name, { at: Date.now(), msg: text, fields: { source: SOL_SOURCE, msg: text } });
    });
    const timer = setTimeout(() => this.end(node.name, `its ${seconds} s bound (bmc.solSeconds) was reached`), seconds * 1000);
    timer.unref();
    const capture: Capture = { session, timer, why };
    this.captures.set(node.name, capture);
    this.record(node, `Serial-over-LAN capture started through ${session.describe} (${why})`, { started: true });
    void session.ended.then((end) => this.ended(node, capture, end));
    return capture;
  }

  private end(name: string, why: string): void {
    const capture = this.captures.get(name);
    if (!capture) return;
    capture.why = why;
    void capture.session.stop();
  }

  private ended(node: NodeSpec, capture: Capture, end: SolEnd): void {
    clearTimeout(capture.timer);
    if (this.captures.get(node.name) === capture) this.captures.delete(node.name);
    const lines = `${end.lines} line${end.lines === 1 ? '' : 's'}`;
    const message = end.reason === 'stopped'
      ? `Serial-over-LAN capture ended: ${capture.why} (${lines})`
      : end.reason === 'refused'
        ? `Serial-over-LAN refused by ${capture.session.describe}: ${end.detail}`
        : `Serial-over-LAN session dropped by ${capture.session.describe} after ${lines}: ${end.detail}`;
    if (end.reason !== 'stopped') this.opts.log?.warn({ node: node.name, reason: end.reason, detail: end.detail }, 'Serial-over-LAN capture ended early');
    // The store may be closed when the daemon stops; the event is then lost, not thrown.
    try {
      this.record(node, message, { started: false, reason: end.reason, lines: end.lines });
    } catch { /* closing */ }
  }

  private record(node: NodeSpec, message: string, data: Record<string, unknown>): void {
    this.opts.store.appendEvent({ node: node.name, mac: node.mac, kind: SOL_EVENT, message, data });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    this.opts.console.off('line', this.onConsoleLine);
    await Promise.all([...this.captures.entries()].map(([, c]) => ((c.why = 'rackboot stopped'), c.session.stop())));
    // Their `ended` handlers run before this resolves: the promise chain above runs first.
    await nextTurn();
  }
}
