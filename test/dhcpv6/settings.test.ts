// The dhcpv6 block of rackboot.yaml: off by default, checked against the prefix and the HTTP listener.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from '../../src/settings/settings.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-v6set-');
const load = (text: string) => {
  const f = join(tmp(), 'rackboot.yaml');
  writeFileSync(f, text);
  return loadSettings({ config: f });
};
const errorOf = (text: string) => {
  try { load(text); return ''; } catch (e) { return (e as Error).message; }
};

describe('dhcpv6 settings', () => {
  it('are off by default', () => {
    expect(load('dhcp:\n  mode: full\n  subnet: 10.0.0.0/24\n').dhcpv6.enabled).toBe(false);
  });
  it('default the pool to <prefix>::1000-::1fff and canonicalise addresses', () => {
    const s = load('http:\n  listen: "[::]:8080"\ndhcpv6:\n  enabled: true\n  prefix: 2001:db8:7::/64\n  address: 2001:DB8:7:0::1\n');
    expect(s.dhcpv6).toMatchObject({ enabled: true, address: '2001:db8:7::1', pool: { start: '2001:db8:7::1000', end: '2001:db8:7::1fff' }, leaseSeconds: 3600, rapidCommit: true });
  });
  it('refuse an address outside the prefix, a missing prefix, and an IPv4-only HTTP listener', () => {
    expect(errorOf('http:\n  listen: "[::]:8080"\ndhcpv6:\n  enabled: true\n  prefix: 2001:db8:7::/64\n  address: 2001:db8:8::1\n')).toMatch(/dhcpv6.address 2001:db8:8::1 is outside/);
    expect(errorOf('dhcpv6:\n  enabled: true\n  address: 2001:db8:8::1\n')).toMatch(/needs dhcpv6.prefix/);
    expect(errorOf('dhcpv6:\n  enabled: true\n  prefix: 2001:db8:7::/64\n  address: 2001:db8:7::1\n')).toMatch(/does not listen on IPv6/);
    expect(errorOf('http:\n  listen: "[::]:8080"\ndhcpv6:\n  enabled: true\n  prefix: 2001:db8:7::/48\n  address: 2001:db8:7::1\n')).not.toBe('');
  });
});
