// The "no IPv6 here" router advertisement: its bytes, and a real peer
// (rdisc6 from ndisc6) soliciting it from rackboot in a namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { encodeRouterAdvertisement, isRouterSolicitation } from '../../src/ndp/router-advert.js';
import { loadSettings } from '../../src/settings/settings.js';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, Rackboot, tempDir, writeConfig } from '../dhcp/netns/harness.js';
import { tempDirs } from '../helpers/tmp.js';
import { writeFileSync } from 'node:fs';

describe('router advertisement codec (RFC 4861 4.2)', () => {
  it('says: no default router, no DHCPv6, no prefixes', () => {
    const ra = encodeRouterAdvertisement({ sourceMac: '52:54:00:ab:cd:ef' });
    expect(ra.toString('hex')).toBe(
      '86' + '00' + '0000' + '00' + '00' + '0000' + '00000000' + '00000000' + // type 134, code, checksum, hop limit, M/O clear, lifetime 0, timers 0
      '01' + '01' + '525400abcdef', // source link-layer address option
    );
    expect(encodeRouterAdvertisement()).toHaveLength(16);
  });

  it('with DHCPv6 on: M and O set, router lifetime still 0, the prefix on-link without autonomous configuration (4.6.2)', () => {
    const prefix = Buffer.from('20010db8000700000000000000000000', 'hex');
    const ra = encodeRouterAdvertisement({ sourceMac: '52:54:00:ab:cd:ef', managed: { prefix, length: 64, lifetimeSeconds: 3600 } });
    expect(ra.toString('hex')).toBe(
      '86' + '00' + '0000' + '00' + 'c0' + '0000' + '00000000' + '00000000' + // M=1 O=1, lifetime 0
      '01' + '01' + '525400abcdef' +
      '03' + '04' + '40' + '80' + '00000e10' + '00000e10' + '00000000' + '20010db8000700000000000000000000', // prefix /64, L=1 A=0
    );
  });

  it('recognises a router solicitation and nothing else', () => {
    expect(isRouterSolicitation(Buffer.from('8500000000000000', 'hex'))).toBe(true);
    expect(isRouterSolicitation(Buffer.from('8501000000000000', 'hex'))).toBe(false);
    expect(isRouterSolicitation(Buffer.from('8600000000000000', 'hex'))).toBe(false);
    expect(isRouterSolicitation(Buffer.from('850000', 'hex'))).toBe(false);
  });
});

describe('settings', () => {
  const tmp = tempDirs('rb-ra-');
  it('answers solicitations only where rackboot owns the network (full mode), unless told otherwise', () => {
    const file = (text: string) => {
      const f = join(tmp(), 'rackboot.yaml');
      writeFileSync(f, text);
      return f;
    };
    expect(loadSettings({ config: file('dhcp:\n  mode: proxy\n') }).dhcp.routerAdvertisement).toBe(false);
    expect(loadSettings({ config: file('dhcp:\n  mode: full\n  subnet: 10.0.0.0/24\n') }).dhcp.routerAdvertisement).toBe(true);
    expect(loadSettings({ config: file('dhcp:\n  mode: full\n  subnet: 10.0.0.0/24\n  routerAdvertisement: false\n') }).dhcp.routerAdvertisement).toBe(false);
  });
});

const why = missingPrerequisites(['/usr/bin/rdisc6']);
const x = uniqueSuffix();
const spaces: Netns[] = [];
let dir: string | undefined;
let rb: Rackboot | undefined;

describe.skipIf(why)('a real IPv6 host soliciting routers on the provisioning link', () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    const sw = makeSwitch(`rbrw${x}`);
    const srv = Netns.create(`rbrs${x}`);
    const cl = Netns.create(`rbrc${x}`);
    spaces.push(sw, srv, cl);
    plug(sw, srv, `rbrp${x}`, `rbrP${x}`, { cidr: '10.77.0.1/24' });
    plug(sw, cl, `rbrc${x}`, `rbrC${x}`);
    const config = writeConfig(dir, {
      interface: `rbrp${x}`, serverAddress: '10.77.0.1',
      dhcp: { mode: 'full', subnet: '10.77.0.0/24' },
      http: { listen: '10.77.0.1:8080', publicUrl: 'http://10.77.0.1:8080' },
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
    rb = await Rackboot.start(srv, cli, config, join(dir, 'data'));
  }, 240_000);

  afterAll(async () => {
    for (const s of spaces.reverse()) await s.destroy();
    cleanupDir(dir);
  });

  it('gets an advertisement with router lifetime 0 and no managed/other flags, within a second', async () => {
    // A fresh link's address is tentative until duplicate address detection ends (about 1-2 s).
    for (const [ns, iface] of [[spaces[1]!, `rbrp${x}`], [spaces[2]!, `rbrc${x}`]] as const) {
      for (let i = 0; i < 100 && !/inet6 fe80::\S+ scope link\s*$/m.test(ns.exec('ip', ['-6', 'addr', 'show', 'dev', iface])); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const out = spaces[2]!.exec('rdisc6', ['-1', '-r', '5', '-w', '1000', `rbrc${x}`], { timeoutMs: 20_000 });
    expect(out).toMatch(/Router lifetime\s*:\s*0 \(0x0+\) seconds/);
    expect(out).toMatch(/Stateful address conf\.\s*:\s*No/);
    expect(out).toMatch(/Stateful other conf\.\s*:\s*No/);
    expect(out).toMatch(/from fe80::/);
    expect(out).not.toMatch(/Prefix\s*:/);
    // It came from rackboot's provisioning interface: its MAC is the advertised source.
    const serverMac = /link\/ether (\S+)/.exec(spaces[1]!.exec('ip', ['link', 'show', 'dev', `rbrp${x}`]))![1]!;
    expect(out.toLowerCase()).toContain(`source link-layer address: ${serverMac}`);
    const ndp = rb!.lines.filter((l) => l.svc === 'ndp');
    expect(ndp.some((l) => String(l.msg).includes('answering IPv6 router solicitations'))).toBe(true);
  }, 60_000);
});
