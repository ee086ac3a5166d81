// The two ways rackboot talks TLS to a Talos node on port 50000.
// Maintenance: the node has no config yet and serves a self-signed cert; like
// `talosctl --insecure` we cannot verify it, but may pin its public key.
// Configured: mTLS with the talosconfig admin cert, the OS CA as the only
// trust root, TLS 1.2 or later (grpc-js always offers ALPN h2).
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, createSecureContext, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { PinMismatchError } from './errors.js';

export interface AdminIdentity {
  /** PEM of the OS CA certificate (the machine config's machine.ca.crt). */
  ca: string;
  /** PEM client certificate, O=os:admin, signed by the OS CA. */
  crt: string;
  /** PEM private key of `crt`. */
  key: string;
}

export function configuredCredentials(id: AdminIdentity): grpc.ChannelCredentials {
  const ctx = createSecureContext({ ca: id.ca, cert: id.crt, key: id.key, minVersion: 'TLSv1.2' });
  return grpc.credentials.createFromSecureContext(ctx);
}

/** Hex sha256 of a DER SubjectPublicKeyInfo. */
export function spkiSha256(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

/** Accepts a pin as hex or base64 (the two common spellings). */
export function normalizePin(pin: string): string {
  const p = pin.trim().replace(/^sha256[:/]/i, '');
  if (/^[0-9a-fA-F]{64}$/.test(p)) return p.toLowerCase();
  const b = Buffer.from(p, 'base64');
  if (b.length !== 32) throw new Error(`pin ${JSON.stringify(pin)} is neither 64 hex digits nor a base64 sha256`);
  return b.toString('hex');
}

function certSpkiSha256(cert: PeerCertificate): string {
  return spkiSha256(new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' }));
}

/** The maintenance server's certificate, fetched without verifying it. */
export function fetchServerCertificate(host: string, port: number, timeoutMs: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], minVersion: 'TLSv1.2', 
      // SNI may not carry an IP address (RFC 6066 section 3).
      servername: isIP(host) ? '' : host });
    const timer = setTimeout(() => sock.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)), timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = sock.getPeerCertificate(true);
      sock.end();
      if (!cert?.raw) reject(new Error(`${host}:${port} presented no certificate`));
      else resolve(cert);
    });
    sock.once('error', (err) => (clearTimeout(timer), reject(err)));
  });
}

/**
 * Maintenance-mode credentials. Without a pin the server is not verified at
 * all. With a pin, the server's cert is fetched and checked first, then used
 * as the sole trust root of the gRPC channel, whose identity check compares
 * the key again on every connection: a different key is refused before any
 * request (and so any machine config) is sent.
 */
export async function maintenanceCredentials(endpoint: { host: string; port: number }, opts: { pinSha256?: string; timeoutMs?: number } = {}): Promise<grpc.ChannelCredentials> {
  if (!opts.pinSha256) {
    return grpc.credentials.createFromSecureContext(createSecureContext({ minVersion: 'TLSv1.2' }), { rejectUnauthorized: false });
  }
  const pin = normalizePin(opts.pinSha256);
  const name = `${endpoint.host}:${endpoint.port}`;
  const cert = await fetchServerCertificate(endpoint.host, endpoint.port, opts.timeoutMs ?? 5000);
  const actual = certSpkiSha256(cert);
  if (actual !== pin) throw new PinMismatchError(name, pin, actual);
  const pem = new X509Certificate(cert.raw).toString();
  return grpc.credentials.createFromSecureContext(createSecureContext({ ca: pem, minVersion: 'TLSv1.2' }), {
    checkServerIdentity: (_host, peer) => {
      const got = certSpkiSha256(peer);
      return got === pin ? undefined : new PinMismatchError(name, pin, got);
    },
  });
}
