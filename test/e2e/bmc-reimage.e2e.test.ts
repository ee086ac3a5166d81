// Reimage through the BMC, end to end: a lab machine (QEMU behind its
// ipmi_sim BMC, src/lab/lab-bmc.ts) is installed and running from its disk
// when it freezes (QMP stop). It is marked for reimage; Talos can take no
// Reset, so rackboot's fallback sets PXE-once and power-cycles it through
// the BMC. Proof point: the machine PXE-boots (DHCP from its MAC, its iPXE
// script) into the install kernel, after exactly one power-cycle.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { qmp, until } from '../helpers/qmp.js';
import { passwordPath, writePassword } from '../../src/bmc/credentials.js';
import { normalizeMac } from '../../src/inventory/mac.js';
import { LAB_BMC_USER, LAB_CIPHER_SUITE, labChassisEvents, labBmcHost, newBmcPassword, startLabBmc, type LabBmc } from '../../src/lab/lab-bmc.js';
import { MARKER_PREFIX, parseMarker } from '../../src/lab/standin-init.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { Store } from '../../src/store/store.js';
import { DISK_MARKER, writeBootDisk } from './disk.js';
import { httpRequests } from './timings.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { World } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, '/usr/bin/ipmi_sim', '/usr/bin/ipmitool']);
const NODE = { name: 'bmc-1', mac: '52:54:00:e2:00:15', role: 'worker' as const, bmc: { address: `ipmi://${labBmcHost(1)}`, username: LAB_BMC_USER, bootMode: 'legacy' as const, ipmiCipherSuite: LAB_CIPHER_SUITE } };

describe.skipIf(why)('e2e, reimage of a frozen machine through its IPMI BMC', () => {
  let world: World;
  let bmc: LabBmc;
  let password: string;
  const store = () => new Store(join(world.paths.dataDir, 'rackboot.db'));
  const ipmitool = (...args: string[]) => execFileSync('ip', ['netns', 'exec', world.ns.name, 'ipmitool', '-I', 'lanplus', '-C', String(LAB_CIPHER_SUITE), '-H', labBmcHost(1), '-U', LAB_BMC_USER, '-E', ...args], { encoding: 'utf8', env: { ...process.env, IPMI_PASSWORD: password } });

  beforeAll(async () => {
    world = await World.start({
      name: 'bmc', dhcpMode: 'full', nodes: [NODE], standin: inject('standin'),
      // Short fallback times so the case stays short: Reset is given up on after 2 s, swept every second.
      settings: { power: { resetFallbackSeconds: 2, bmcTimeoutSeconds: 20 }, lifecycle: { sweepSeconds: 1 } },
    });
    password = newBmcPassword();
    writePassword(passwordPath(world.paths.dataDir, NODE.name), password);
    const tap = `rbe${world.suffix}m`;
    world.ns.addTap(tap, world.bridge);
    bmc = await startLabBmc({
      ns: world.ns.name, dir: join(world.dir, 'bmc'), index: 1, password, log: join(world.dir, 'bmc.log'),
      vm: { firmware: 'bios', mac: NODE.mac, tap, serialFile: join(world.dir, 'bmc-1.serial'), disk: writeBootDisk(join(world.dir, 'bmc-1.img')) },
    });
  });
  afterAll(async () => {
    await world?.destroy(); // kills ipmi_sim and the QEMU it started: both live in the world's namespace
  });

  it('installed, frozen, marked: one PXE-once + power-cycle through the BMC, and the machine PXE-boots the installer', async () => {
    world.requireServices(['dhcp']);
    const serialFile = join(world.dir, 'bmc-1.serial');
    const serial = () => (existsSync(serialFile) ? readFileSync(serialFile, 'latin1') : '');
    const s = store();
    try {
      new Lifecycle(s).markInstalled(NODE.name, 'e2e: installed before the test');
    } finally {
      s.close();
    }
    // Powered on by an independent IPMI client, not by rackboot, so rackboot's log of power actions starts empty.
    ipmitool('chassis', 'power', 'on');
    await until(() => serial().includes(DISK_MARKER), 60_000);
    expect(serial(), 'the installed machine booted from the network').not.toContain(MARKER_PREFIX);
    await qmp(bmc.qmpSocket, 'stop');
    expect((await qmp(bmc.qmpSocket, 'query-status')).status).toBe('paused');
    const frozenAt = Date.now();
    const before = serial().length;

    const m = store();
    try {
      new Reimager(new StateMachine(m)).mark(NODE.name, 'e2e: frozen machine', 'e2e');
    } finally {
      m.close();
    }
    // The first proof point: the install kernel runs on the machine after the cycle.
    await until(() => parseMarker(serial().slice(before)) !== undefined, 150_000).catch(() => {
      throw new Error(`no install kernel after the reimage; chassis: ${labChassisEvents(bmc).join(', ')}; serial tail:\n${serial().slice(-1500)}`);
    });
    expect(parseMarker(serial().slice(before))).toMatchObject({ result: 'ok', mac: NODE.mac });

    // Exactly one power-cycle: the BMC's chassis hook saw one PXE flag, one stop and one PXE start after the freeze…
    expect(labChassisEvents(bmc)).toEqual(['start boot=default', 'boot pxe', 'stop', 'start boot=pxe']);
    // …and rackboot recorded one power action, the fallback's PXE-first cycle.
    const r = store();
    try {
      const power = r.events({ node: NODE.name }).filter((e) => e.kind === 'power').map((e) => e.data);
      expect(power).toEqual([expect.objectContaining({ request: 'cycle', actor: 'reimage-fallback', ok: true, pxeFirst: true })]);
      const steps = r.events({ node: NODE.name }).filter((e) => e.kind === 'reimage').map((e) => (e.data as { step: string }).step);
      expect(steps).toEqual(expect.arrayContaining(['requested', 'bmc-fallback', 'bmc-cycled']));
      expect(r.getNode(NODE.name)!.state).toBe('booting');
    } finally {
      r.close();
    }
    // It PXE-booted: DHCP from its MAC and its iPXE script fetched, both after the freeze.
    const dhcp = world.capture().filter((p) => p.kind === 'dhcp' && p.mac === NODE.mac && p.at >= frozenAt);
    expect(dhcp.some((p) => p.kind === 'dhcp' && p.type === 1), 'no DHCPDISCOVER from the machine after the cycle').toBe(true);
    const scripts = httpRequests(world).filter((q) => q.at >= frozenAt && q.url.startsWith('/ipxe?') && normalizeMac(new URLSearchParams(q.url.slice(6)).get('mac') ?? '') === NODE.mac);
    expect(scripts.length, 'no iPXE script fetched after the cycle').toBeGreaterThan(0);
  });
});
