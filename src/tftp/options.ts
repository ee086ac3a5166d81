// Option negotiation for one read request (RFC 2347 §"Negotiation"): the
// server answers only the options it understands, with values it will use.
// An option it does not know, or a value it cannot accept, is left out of
// the OACK, which the RFC allows; the client then uses the default.

import type { TftpOptions } from './codec.js';

export interface NegotiationLimits {
  /** settings.tftp.maxBlksize: the largest DATA payload that fits the path MTU (1468 on Ethernet). */
  maxBlksize: number;
  /** settings.tftp.maxWindowsize. */
  maxWindowsize: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmit interval the client asked for (RFC 2349 timeout), if any. */
  timeoutMs: number | undefined;
  /** What goes in the OACK; undefined when no option was accepted, and the transfer starts with DATA 1. */
  oack: TftpOptions | undefined;
}

const DEFAULT_BLKSIZE = 512;

function integer(value: string): number | undefined {
  return /^[0-9]{1,10}$/.test(value) ? Number(value) : undefined;
}

export function negotiate(requested: TftpOptions, fileSize: number, limits: NegotiationLimits): Negotiated {
  const result: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: undefined, oack: undefined };
  const oack: TftpOptions = [];
  const seen = new Set<string>();
  for (const [name, value] of requested) {
    // A repeated option is ambiguous; the first one counts.
    if (seen.has(name)) continue;
    seen.add(name);
    const n = integer(value);
    switch (name) {
      case 'blksize':
        // RFC 2348: 8..65464; we answer with the smaller of the request and our limit.
        if (n === undefined || n < 8) break;
        result.blksize = Math.min(n, limits.maxBlksize);
        oack.push(['blksize', String(result.blksize)]);
        break;
      case 'tsize':
        // RFC 2349: in a read request the client sends 0 and we report the size.
        if (n === undefined) break;
        oack.push(['tsize', String(fileSize)]);
        break;
      case 'timeout':
        // RFC 2349: 1..255 seconds, accepted exactly as asked or not at all.
        if (n === undefined || n < 1 || n > 255) break;
        result.timeoutMs = n * 1000;
        oack.push(['timeout', String(n)]);
        break;
      case 'windowsize':
        // RFC 7440: 1..65535; the server may answer with a smaller value.
        if (n === undefined || n < 1 || n > 65535) break;
        result.windowsize = Math.min(n, limits.maxWindowsize);
        oack.push(['windowsize', String(result.windowsize)]);
        break;
      default:
        break;
    }
  }
  if (oack.length > 0) result.oack = oack;
  return result;
}
