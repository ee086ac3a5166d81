import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashToken, isLegacyTokenHash, verifyToken } from '../../src/store/admin.js';

describe('admin token hashes', () => {
  it('a keyed hash: its own random key, the right token matches, a wrong one costs microseconds', () => {
    const token = randomBytes(24).toString('base64url');
    const a = hashToken(token);
    const b = hashToken(token);
    expect(a).toMatch(/^hmac-sha256\$[0-9a-f]{64}\$[0-9a-f]{64}$/);
    expect(a).not.toBe(b); // a fresh key each time: equal tokens do not look equal in two stores
    expect(a).not.toContain(token);
    expect(verifyToken(token, a)).toBe(true);
    expect(verifyToken(token + 'x', a)).toBe(false);
    expect(verifyToken('', a)).toBe(false);
    expect(isLegacyTokenHash(a)).toBe(false);
    const t0 = performance.now();
    for (let i = 0; i < 2_000; i++) verifyToken(`wrong-${i}`, a);
    // 2000 scrypt checks took about 54 s; 2000 keyed hashes take a few milliseconds.
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('still reads a scrypt hash from before, and refuses what it does not know', () => {
    const salt = randomBytes(16);
    const legacy = `scrypt$${salt.toString('hex')}$${scryptSync('old-token-0123456789', salt, 32).toString('hex')}`;
    expect(isLegacyTokenHash(legacy)).toBe(true);
    expect(verifyToken('old-token-0123456789', legacy)).toBe(true);
    expect(verifyToken('old-token-012345678', legacy)).toBe(false);
    for (const bad of ['', 'plain', 'md5$00$00', 'hmac-sha256$zz$zz', 'hmac-sha256$00$']) expect(verifyToken('x', bad)).toBe(false);
  });
});
