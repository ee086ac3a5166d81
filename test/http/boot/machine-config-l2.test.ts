// /ipxe and /config against real peers on one L2: `rackboot serve` (the
// built CLI, DHCP proxy mode, the default) in its own namespace, plugged
// into a bridge with two more namespaces: the node (its veth carries the
// node's MAC) and another host. The kernel's neighbour table is the real
// one; nothing is faked. The other host is refused the script and the
// config; the node gets its config once; a host that then takes the node's
// address (with its own MAC, then with the node's MAC too) is refused.
// A client behind a router (no neighbour entry) gets no script, and a
// config only with the token a verified boot was given.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkNamespaces, missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, Rackboot, tempDir, waitFor, writeConfig, type NodeEntry } from '../../dhcp/netns/harness.js';
import { loadInventoryFile } from '../../../src/inventory/load.js';
import { schematicId } from '../../../src/factory/schematic.js';
import { initSecrets } from '../../../src/talos/secrets.js';

const why = missingPrerequisites(['/usr/bin/curl']);
const x = uniqueSuffix();
const NS = { sw: `rbcw${x}`, srv: `rbcs${x}`, node: `rbcn${x}`, other: `rbco${x}`, node2: `rbcm${x}`, rtr: `rbcr${x}`, far: `rbcf${x}` };
const IF = { srv: `rbcs${x}`, node: `rbcn${x}`, other: `rbco${x}`, node2: `rbcm${x}`, rtr: `rbcr${x}`, rtrFar: `rbcq${x}`, far: `rbcf${x}` };
const NODE = { name: 'pull-1', mac: '52:54:00:c0:00:01', ip: '10.77.0.21' };
const NODE2 = { name: 'pull-2', mac: '52:54:00:c0:00:02', ip: '10.77.0.22' };
const OTHER_MAC = '52:54:00:c0:00:99';
const BASE = 'http://10.77.0.1:8080';

const spaces: Netns[] = [];
let dir: string | undefined;
let rb: Rackboot;
const ns = (name: string) => spaces.find((s) => s.name === name)!;

/** curl from inside a namespace: status and body. */
function curl(from: Netns, url: string): { status: number; body: string } {
  const out = from.exec('curl', ['-s', '-m', '10', '-w', '\n%{http_code}', url]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

describe.skipIf(why)('/ipxe and /config on a real L2 (proxy mode)', () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    for (const name of Object.values(NS)) spaces.push(name === NS.sw ? makeSwitch(name) : Netns.create(name));
    const sw = ns(NS.sw);
    plug(sw, ns(NS.srv), IF.srv, `rbcS${x}`, { cidr: '10.77.0.1/24' });
    plug(sw, ns(NS.node), IF.node, `rbcN${x}`, { cidr: `${NODE.ip}/24`, mac: NODE.mac });
    plug(sw, ns(NS.other), IF.other, `rbcO${x}`, { cidr: '10.77.0.99/24', mac: OTHER_MAC });
    plug(sw, ns(NS.node2), IF.node2, `rbcM${x}`, { cidr: `${NODE2.ip}/24`, mac: NODE2.mac });
    // A router between the provisioning L2 and another subnet, where `far` lives.
    plug(sw, ns(NS.rtr), IF.rtr, `rbcR${x}`, { cidr: '10.77.0.254/24' });
    linkNamespaces(ns(NS.far), IF.far, ns(NS.rtr), IF.rtrFar, { aCidr: '10.88.0.5/24', bCidr: '10.88.0.1/24' });
    ns(NS.rtr).exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    ns(NS.far).exec('ip', ['route', 'add', 'default', 'via', '10.88.0.1']);
    ns(NS.srv).exec('ip', ['route', 'add', '10.88.0.0/24', 'via', '10.77.0.254']);

    const assetsDir = join(dir, 'assets');
    const pullNodes: Array<NodeEntry & { configMode: 'pull' }> = [{ ...NODE, configMode: 'pull' }, { ...NODE2, configMode: 'pull' }];
    const config = writeConfig(dir, {
      interface: IF.srv, serverAddress: '10.77.0.1', assetsDir,
      dhcp: { mode: 'proxy' }, http: { listen: '10.77.0.1:8080', publicUrl: BASE },
    }, pullNodes);
    const inv = loadInventoryFile(join(dir, 'cluster.yaml'));
    if (!inv.ok) throw new Error('test inventory invalid');
    const assets = join(assetsDir, schematicId(inv.inventory.cluster.schematic), 'v1.11.5');
    mkdirSync(assets, { recursive: true });
    writeFileSync(join(assets, 'kernel-amd64'), 'kernel');
    writeFileSync(join(assets, 'initramfs-amd64.xz'), 'initramfs');
    await initSecrets(join(dir, 'data'));
    rb = await Rackboot.start(ns(NS.srv), cli, config, join(dir, 'data'));
  }, 90_000);

  afterAll(async () => {
    for (const s of spaces.reverse()) await s.destroy();
    cleanupDir(dir);
  });

  const state = (name = NODE.name) => rb.query<{ state: string }>('SELECT state FROM nodes WHERE name=?', name)[0]!.state;
  const refusals = (name = NODE.name) => rb.query<{ message: string }>("SELECT message FROM events WHERE node=? AND message LIKE '%refused:%' ORDER BY id", name).map((e) => e.message);

  it('refuses the node\'s script to another host on the L2, serves the config once to the node alone, and refuses a host that takes its address', async () => {
    const other = ns(NS.other);
    const node = ns(NS.node);

    // Another host asks for the node's script: 403, and the node does not move.
    const stranger = curl(other, `${BASE}/ipxe?mac=${NODE.mac}&arch=x86_64`);
    expect(stranger.status).toBe(403);
    expect(stranger.body).not.toContain('token=');
    expect(state()).toBe('registered');
    expect(refusals().at(-1)).toBe(`iPXE script refused: request from 10.77.0.99, whose neighbour entry carries ${OTHER_MAC}, not ${NODE.name}'s ${NODE.mac}`);

    // Today's attack: the config by MAC alone. Refused.
    expect(curl(other, `${BASE}/config?mac=${NODE.mac}`).status).toBe(403);

    // The node boots: its install script carries this boot's token.
    const script = curl(node, `${BASE}/ipxe?mac=${NODE.mac}&arch=x86_64`);
    expect(script.status).toBe(200);
    const configUrl = / talos\.config=(\S+)/.exec(script.body)?.[1];
    expect(configUrl, script.body).toMatch(new RegExp(`^${BASE}/config\\?mac=${NODE.mac}&token=[0-9a-f]{32}$`));
    expect(state()).toBe('booting');

    // Even holding the token (say it leaked), another MAC on the L2 is refused.
    expect(curl(other, configUrl!).status).toBe(403);
    expect(refusals().at(-1)).toContain(`whose neighbour entry carries ${OTHER_MAC}`);

    // The node itself gets its config, once.
    const served = curl(node, configUrl!);
    expect(served.status).toBe(200);
    expect(served.body).toContain(`hostname: ${NODE.name}`);
    await waitFor(() => state() === 'configuring', 5_000, `node is ${state()}, not configuring`);
    expect(curl(node, configUrl!).status).toBe(403);
    expect(refusals().at(-1)).toContain('already served to 10.77.0.21; a new fetch needs a new PXE boot');

    // The node goes quiet; the other host takes its address, with its own MAC.
    node.exec('ip', ['link', 'set', IF.node, 'down']);
    other.exec('ip', ['addr', 'flush', 'dev', IF.other]);
    other.exec('ip', ['addr', 'add', `${NODE.ip}/24`, 'dev', IF.other]);
    const takeover = curl(other, configUrl!);
    expect(takeover.status).toBe(403);
    expect(refusals().at(-1)).toContain(`request from ${NODE.ip}, whose neighbour entry carries ${OTHER_MAC}`);

    // And with the node's MAC spoofed as well: the boot's config was already served.
    other.exec('ip', ['link', 'set', IF.other, 'down']);
    other.exec('ip', ['link', 'set', IF.other, 'address', NODE.mac]);
    other.exec('ip', ['link', 'set', IF.other, 'up']);
    const spoofed = curl(other, configUrl!);
    expect(spoofed.status).toBe(403);
    expect(refusals().at(-1)).toContain('already served');
    expect(state()).toBe('configuring');
  }, 60_000);

  it('a routed client (no neighbour entry) gets no script, and the config only with the token of a verified boot', async () => {
    const far = ns(NS.far);
    expect(curl(far, `${BASE}/ipxe?mac=${NODE2.mac}&arch=x86_64`).status).toBe(403);
    expect(state(NODE2.name)).toBe('registered');
    expect(refusals(NODE2.name).at(-1)).toContain('request from 10.88.0.5: no neighbour entry shows');
    expect(curl(far, `${BASE}/config?mac=${NODE2.mac}`).status).toBe(403);

    // The machine boots on the L2; its config fetch then arrives routed (say its address moved behind a relay).
    const script = curl(ns(NS.node2), `${BASE}/ipxe?mac=${NODE2.mac}&arch=x86_64`);
    const configUrl = / talos\.config=(\S+)/.exec(script.body)?.[1];
    expect(configUrl, script.body).toBeDefined();
    const served = curl(far, configUrl!);
    expect(served.status).toBe(200);
    expect(served.body).toContain(`hostname: ${NODE2.name}`);
    expect(curl(far, configUrl!).status).toBe(403);
  }, 60_000);
});
