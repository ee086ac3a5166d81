// ProxyDHCP (PXE 2.1 §2.2.5, RFC 4578): another server hands out addresses;
// we answer only PXE clients, only for inventory MACs, and only with where
// to boot. A DISCOVER on 67 gets a proxy OFFER (no yiaddr); a REQUEST on
// 4011 (OVMF sends it from 4011, iPXE from 68) gets an ACK back to the port
// it came from. Option 43 sub-option 6 = 8 tells the ROM to take the file
// from the offer instead of running boot-server discovery.
import { MessageType as T, type DhcpPacket } from '../codec.js';
import { enc, Opt, PXE_DISCOVERY_CONTROL } from '../options.js';
import { BROADCAST, ZERO } from '../ipv4.js';
import {
  addBootFile, bootFileFor, destination, drop, finish, isEthernet, recordEvent, replyLimit, replySkeleton, sight, sightingOf,
  type HandlerContext, type Outcome, type Received, type ReplyKind,
} from './common.js';

export const PROXY_PORT = 4011;

export function handleProxy(ctx: HandlerContext, rx: Received): Outcome {
  const req = rx.packet;
  const o = req.options;
  if (!isEthernet(req)) return drop('not-request', `htype ${req.htype}/hlen ${req.hlen} is not Ethernet`);
  if (!/^(PXEClient|HTTPClient)/.test(o.vendorClass ?? '')) {
    // Not ours to answer; but from a node that fetched its UKI, it is the booted kernel (uki-watch.ts).
    if (!ctx.readOnly && (o.messageType === T.DISCOVER || o.messageType === T.REQUEST)) ctx.lifecycle.kernelDhcpSeen(req.mac);
    return drop('not-pxe', `vendor class ${JSON.stringify(o.vendorClass ?? null)}`);
  }

  let type: ReplyKind;
  if (rx.via === 'proxy' && (o.messageType === T.REQUEST || o.messageType === T.INFORM)) type = 'proxy-ack';
  else if (rx.via === 'dhcp' && o.messageType === T.DISCOVER) type = 'proxy-offer';
  else if (rx.via === 'dhcp' && o.messageType === T.REQUEST && o.serverId === ctx.serverAddress) type = 'proxy-ack';
  else if (rx.via === 'dhcp' && o.messageType === T.REQUEST) return drop('other-server', `REQUEST for ${o.serverId ?? 'the address server'}`);
  else return drop('unsupported-type', `message type ${o.messageType} on the ${rx.via} port`);

  // Only DISCOVERs are recorded: they start every boot, and one row per boot is enough.
  const action = type === 'proxy-offer' ? sight(ctx, req) : ctx.lifecycle.bootActionForMac(req.mac);
  // Safe default on a shared network: a proxy answers only machines the operator listed.
  if (action.kind === 'unknown') return drop('unknown-mac', `${req.mac} is not in the inventory`);
  const boot = bootFileFor(ctx, req, action);
  if (boot.kind !== 'file') return drop('no-boot-file', `${action.node.name}: ${boot.why}`);

  const reply = replySkeleton(req, type === 'proxy-offer' ? T.OFFER : T.ACK, ctx.serverAddress);
  reply.options.push([Opt.VENDOR_CLASS, enc.str(boot.httpClient ? 'HTTPClient' : 'PXEClient')]);
  if (req.raw.has(Opt.CLIENT_UUID)) reply.options.push([Opt.CLIENT_UUID, req.raw.get(Opt.CLIENT_UUID)!]);
  reply.options.push([Opt.VENDOR_SPECIFIC, enc.subs([[PXE_DISCOVERY_CONTROL, enc.u8(8)]])]);
  addBootFile(ctx, req, reply, boot);
  // addBootFile adds option 60 HTTPClient itself for HTTP boot; keep only the first.
  reply.options = reply.options.filter(([c], i, all) => c !== Opt.VENDOR_CLASS || all.findIndex(([x]) => x === c) === i);

  const to = type === 'proxy-ack' ? ackDestination(req, rx) : destination(req, false);
  const detail = `${type} for ${action.node.name}: ${boot.file} (${boot.why})`;
  // Neither proxy reply needs a stored write (no address is handed out), so
  // both go out while the store refuses writes; only the event is lost.
  if (type === 'proxy-ack') recordEvent(ctx, { node: action.node.name, mac: req.mac, kind: 'dhcp', message: detail, data: sightingOf(req) });
  return { kind: 'reply', type, packet: finish(req, reply), to, maxSize: replyLimit(req), detail };
}

/** PXE 2.1 §2.2.6: the boot-server ACK goes back to the client's address and source port. */
function ackDestination(req: DhcpPacket, rx: Received): { address: string; port: number } {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: 67 };
  if (req.ciaddr !== ZERO) return { address: req.ciaddr, port: rx.from.port };
  if (rx.from.address !== ZERO) return { address: rx.from.address, port: rx.from.port };
  return { address: BROADCAST, port: 68 };
}
