// The last N console lines per node, in memory. Bounded twice: lines per
// node and number of nodes, so a flood from spoofed sources cannot grow it.
import { EventEmitter } from 'node:events';

export interface ConsoleLine {
  /** Receive time, ms since epoch. */
  at: number;
  /** The message text (Talos's "msg" field, or the whole line when it has none). */
  msg: string;
  /** The parsed JSON object as sent, for anything beyond msg. */
  fields: Record<string, unknown>;
}

export class ConsoleLog extends EventEmitter {
  private readonly byNode = new Map<string, ConsoleLine[]>();
  /** Lines are kept in memory only: nothing from before this moment is here. */
  readonly startedAt = Date.now();

  constructor(
    readonly linesPerNode: number,
    readonly maxNodes = 1024,
  ) {
    super();
  }

  add(node: string, line: ConsoleLine): void {
    let lines = this.byNode.get(node);
    if (!lines) {
      if (this.byNode.size >= this.maxNodes) {
        const oldest = this.byNode.keys().next().value;
        if (oldest !== undefined) this.byNode.delete(oldest);
      }
      lines = [];
      this.byNode.set(node, lines);
    }
    lines.push(line);
    if (lines.length > this.linesPerNode) lines.splice(0, lines.length - this.linesPerNode);
    this.emit('line', node, line);
  }

  lines(node: string, limit = this.linesPerNode): ConsoleLine[] {
    return (this.byNode.get(node) ?? []).slice(-limit);
  }
}
