// The HTTP(S) leg of the Redfish client. BMC certificates are self-signed,
// so TLS trusts either the system CAs or one pinned SHA-256 certificate
// fingerprint; the connection is checked before a single byte of the request
// (which carries credentials) is written. Every failure becomes a BmcError
// that says whether the network, the certificate or the BMC was at fault.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { BmcError } from './types.js';

export interface HttpTarget {
  host: string;
  port: number;
  tls: boolean;
  /** SHA-256 of the BMC's certificate (hex, colons optional); when set, it is the only certificate accepted. */
  fingerprint?: string;
  timeoutMs: number;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const MAX_BODY = 4 << 20;

export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/^sha256:/i, '').replace(/[:\s]/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

export function httpCall(t: HttpTarget, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<HttpReply> {
  const where = `${t.tls ? 'https' : 'http'}://${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: BmcError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest({
      host: t.host, port: t.port, method, path,
      headers: {
        Accept: 'application/json', 'OData-Version': '4.0', Connection: 'close',
        ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        ...headers,
      },
      ...(t.tls ? { createConnection: (_o: unknown, done: (err: Error | null, s: Duplex) => void) => void secureSocket(t, where, done) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) fail(new BmcError('bmc', `${where}${path}: reply larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('error', (e) => fail(new BmcError('network', `${where}${path}: ${e.message}`)));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = text.trim() ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    const timer = setTimeout(() => fail(new BmcError('network', `${where}: no answer to ${method} ${path} within ${t.timeoutMs / 1000} s`)), t.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof BmcError) return fail(e);
      if (e.code && NETWORK_CODES.has(e.code)) return fail(new BmcError('network', `${where}: ${e.code} (${e.message}); is the BMC at that address and port reachable?`));
      fail(new BmcError('network', `${where}: ${e.message}`));
    });
    req.end(payload);
  });
}

function secureSocket(t: HttpTarget, where: string, done: (err: Error | null, s: Duplex) => void): void {
  const servername = isIP(t.host) ? undefined : t.host;
  // Verification is done here, by hand, so a pinned self-signed certificate can pass and nothing else can.
  const socket = tlsConnect({ host: t.host, port: t.port, servername, rejectUnauthorized: false });
  socket.once('error', (e: NodeJS.ErrnoException) => done(e, socket));
  socket.once('secureConnect', () => {
    const cert = socket.getPeerCertificate();
    const seen = cert?.fingerprint256 ? cert.fingerprint256.replace(/:/g, '').toUpperCase() : '';
    const pinned = t.fingerprint ? normalizeFingerprint(t.fingerprint) : undefined;
    let problem: string | undefined;
    if (pinned) {
      if (seen !== pinned) problem = `its certificate's SHA-256 fingerprint ${colons(seen)} is not the pinned ${colons(pinned)} (another host at that address, or a renewed BMC certificate?)`;
    } else if (!socket.authorized) {
      problem = `its certificate is not trusted (${String(socket.authorizationError)}); if this is the BMC's own self-signed certificate, pin it with bmc.tlsFingerprint: ${colons(seen)}`;
    } else {
      const mismatch = checkServerIdentity(t.host, cert as PeerCertificate);
      if (mismatch) problem = `its certificate does not name ${t.host} (${mismatch.message})`;
    }
    if (problem) {
      socket.destroy();
      return done(new BmcError('certificate', `${where}: ${problem}`), socket);
    }
    done(null, socket);
  });
}

function colons(hex: string): string {
  return hex.match(/.{2}/g)?.join(':') ?? hex;
}
