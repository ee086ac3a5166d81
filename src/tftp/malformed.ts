// What the listening port answers to a request it cannot parse. RFC 1350 §5:
// an ERROR packet "can be the acknowledgment of any other type of packet"
// and code 4 is "Illegal TFTP operation"; without one the client waits out
// its own timeout and retries. So a malformed RRQ or WRQ (empty filename,
// unknown mode, broken strings or options) and a packet with an opcode TFTP
// does not define get ERROR 4. Malformed DATA, ACK, ERROR and OACK get
// nothing: on the listening port they belong to no transfer, and answering
// an ERROR with an ERROR could loop between two peers (RFC 1350 §7: errors
// are not acknowledged). Replies are budgeted per client address, because a
// forged source address would otherwise turn this into a reflector.
import { ERR, OP, type ParseErrorKind } from './codec.js';

export interface MalformedReply {
  code: number;
  message: string;
}

const WHY: Partial<Record<ParseErrorKind, string>> = {
  'empty-filename': 'empty filename',
  'bad-mode': 'unknown transfer mode (use octet or netascii)',
  'unterminated-string': 'filename or mode not NUL-terminated',
  'odd-options': 'an option has no value',
  'too-short': 'request too short',
};

/** The ERROR to send for a packet decodePacket rejected, or undefined to stay silent. */
export function replyToMalformed(buf: Uint8Array, kind: ParseErrorKind): MalformedReply | undefined {
  if (buf.length < 2) return undefined;
  const op = (buf[0]! << 8) | buf[1]!;
  if (op === OP.RRQ || op === OP.WRQ) {
    return { code: ERR.ILLEGAL_OPERATION, message: `Illegal TFTP operation: ${WHY[kind] ?? 'malformed request'}` };
  }
  if (kind === 'unknown-opcode' || !Object.values(OP).includes(op as never)) {
    return { code: ERR.ILLEGAL_OPERATION, message: `Illegal TFTP operation: unknown opcode ${op}` };
  }
  return undefined;
}

/**
 * At most `perSecond` error replies per client address per second. Memory is
 * bounded: past `maxClients` addresses the table starts over.
 */
export class ErrorBudget {
  private readonly spent = new Map<string, { second: number; count: number }>();
  constructor(private readonly now: () => number = Date.now, private readonly perSecond = 20, private readonly maxClients = 4096) {}

  allow(ip: string): boolean {
    const second = Math.floor(this.now() / 1000);
    const s = this.spent.get(ip);
    if (!s || s.second !== second) {
      if (!s && this.spent.size >= this.maxClients) this.spent.clear();
      this.spent.set(ip, { second, count: 1 });
      return true;
    }
    if (s.count >= this.perSecond) return false;
    s.count++;
    return true;
  }
}
