// DHCPv6 wire format (RFC 8415): pure functions over bytes, no I/O and no
// policy. §8 gives the client/server message (type, 3-octet transaction id,
// options), §9 the relay agent message (type, hop count, link address, peer
// address, options). Option values are decoded by options.ts.
import { ipv6Bytes, ipv6Text } from './ipv6.js';
import { decodeOptions, optionBytes, Opt6, type Dhcpv6Options, type OptionList } from './options.js';

/** RFC 8415 §7.3 message types. */
export const Msg6 = {
  SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, CONFIRM: 4, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8,
  DECLINE: 9, RECONFIGURE: 10, INFORMATION_REQUEST: 11, RELAY_FORW: 12, RELAY_REPL: 13,
} as const;
export const MSG6_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Msg6).map(([k, v]) => [v, k]));

/** RFC 8415 §7.1 and §7.2: where clients and servers listen. */
export const CLIENT_PORT = 546;
export const SERVER_PORT = 547;
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2';
/** RFC 8415 §7.6: HOP_COUNT_LIMIT. */
export const HOP_COUNT_LIMIT = 8;
const RELAY_HEADER = 34;

export interface ClientServerMessage {
  kind: 'message';
  type: number;
  transactionId: number;
  options: Dhcpv6Options;
  raw: OptionList;
}

export interface RelayMessage {
  kind: 'relay';
  type: typeof Msg6.RELAY_FORW | typeof Msg6.RELAY_REPL;
  hopCount: number;
  linkAddress: string;
  peerAddress: string;
  options: Dhcpv6Options;
  raw: OptionList;
}

export type Dhcpv6Message = ClientServerMessage | RelayMessage;

export type Parse6ErrorKind =
  | 'too-short' // shorter than its header
  | 'bad-type' // a message type RFC 8415 does not define
  | 'option-overrun' // an option runs past the end of its area
  | 'bad-option' // a known option with the wrong shape, or a second copy of a single one
  | 'bad-relay'; // a relay message without a Relay Message option, or nested too deep

export interface Parse6Error { kind: Parse6ErrorKind; detail: string }
export type Parse6Result = { ok: true; message: Dhcpv6Message } | { ok: false; error: Parse6Error };

const fail = (kind: Parse6ErrorKind, detail: string): Parse6Result => ({ ok: false, error: { kind, detail } });

/** Parses one UDP payload. Never throws: every malformed input is a typed error. */
export function parseDhcpv6(buf: Buffer): Parse6Result {
  try {
    return parseUnchecked(buf);
  } catch (e) {
    // A decoder bug must cost one packet, never the daemon.
    return fail('bad-option', `internal decoder error: ${(e as Error).message}`);
  }
}

function parseUnchecked(buf: Buffer): Parse6Result {
  if (buf.length < 4) return fail('too-short', `${buf.length} bytes, a message needs at least 4`);
  const type = buf[0]!;
  if (type < Msg6.SOLICIT || type > Msg6.RELAY_REPL) return fail('bad-type', `message type ${type}`);
  const relay = type === Msg6.RELAY_FORW || type === Msg6.RELAY_REPL;
  if (relay && buf.length < RELAY_HEADER) return fail('too-short', `${buf.length} bytes, a relay message needs at least ${RELAY_HEADER}`);
  const decoded = decodeOptions(buf.subarray(relay ? RELAY_HEADER : 4));
  if (!decoded.ok) return fail(decoded.overrun ? 'option-overrun' : 'bad-option', decoded.error);
  if (!relay) {
    return { ok: true, message: { kind: 'message', type, transactionId: buf.readUIntBE(1, 3), options: decoded.options, raw: decoded.raw } };
  }
  // §9.1/§9.2: a relay message carries the relayed message in option 9.
  if (!decoded.options.relayMessage) return fail('bad-relay', 'relay message without a Relay Message option (RFC 8415 §9)');
  return {
    ok: true,
    message: {
      kind: 'relay', type, hopCount: buf[1]!, linkAddress: ipv6Text(buf, 2), peerAddress: ipv6Text(buf, 18),
      options: decoded.options, raw: decoded.raw,
    },
  };
}

/**
 * A Relay-Forward down to the client's message (RFC 8415 §19.1.2: relays
 * may relay relays). `relays[0]` is the outermost (the one that reached us).
 * More than HOP_COUNT_LIMIT levels is an error, not a recursion.
 */
export function unwrapRelays(buf: Buffer): { ok: true; relays: RelayMessage[]; inner: ClientServerMessage } | { ok: false; error: Parse6Error } {
  const relays: RelayMessage[] = [];
  let bytes = buf;
  for (;;) {
    const p = parseDhcpv6(bytes);
    if (!p.ok) return p;
    if (p.message.kind === 'message') return { ok: true, relays, inner: p.message };
    if (p.message.type !== Msg6.RELAY_FORW) return { ok: false, error: { kind: 'bad-relay', detail: 'a Relay-Reply sent to a server' } };
    relays.push(p.message);
    if (relays.length > HOP_COUNT_LIMIT + 1) return { ok: false, error: { kind: 'bad-relay', detail: `more than ${HOP_COUNT_LIMIT} relay levels (RFC 8415 §7.6)` } };
    bytes = p.message.options.relayMessage!;
  }
}

/** §8: type, transaction id (24 bits), options in the order given. */
export function encodeDhcpv6(m: { type: number; transactionId: number; options: OptionList }): Buffer {
  const h = Buffer.alloc(4);
  h[0] = m.type;
  h.writeUIntBE(m.transactionId & 0xffffff, 1, 3);
  return Buffer.concat([h, optionBytes(m.options)]);
}

/** §9: a relay message; `options` should hold the Relay Message (and the Interface-Id to echo, §19.3.8). */
export function encodeRelay(m: { type: number; hopCount: number; linkAddress: string; peerAddress: string; options: OptionList }): Buffer {
  const h = Buffer.alloc(RELAY_HEADER);
  h[0] = m.type;
  h[1] = m.hopCount;
  const link = ipv6Bytes(m.linkAddress);
  const peer = ipv6Bytes(m.peerAddress);
  if (!link || !peer) throw new Error(`relay addresses must be IPv6: ${m.linkAddress}, ${m.peerAddress}`);
  link.copy(h, 2);
  peer.copy(h, 18);
  return Buffer.concat([h, optionBytes(m.options)]);
}

/**
 * A server's answer to a relayed message, wrapped back through each relay
 * (RFC 8415 §19.3.8: Relay-Reply copies hop count, link and peer address,
 * and echoes the Interface-Id). `relays` as unwrapRelays gave them.
 */
export function wrapReply(relays: RelayMessage[], reply: Buffer): Buffer {
  let bytes = reply;
  for (let i = relays.length - 1; i >= 0; i--) {
    const r = relays[i]!;
    const options: OptionList = [];
    if (r.options.interfaceId) options.push([Opt6.INTERFACE_ID, r.options.interfaceId]);
    options.push([Opt6.RELAY_MSG, bytes]);
    bytes = encodeRelay({ type: Msg6.RELAY_REPL, hopCount: r.hopCount, linkAddress: r.linkAddress, peerAddress: r.peerAddress, options });
  }
  return bytes;
}
