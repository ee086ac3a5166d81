// Serial-over-LAN, end to end: a BIOS machine (QEMU behind its ipmi_sim BMC,
// src/lab/lab-bmc.ts) whose serial port is its BMC's SOL device is powered
// on with PXE first through rackboot's admin API. rackboot opens the SOL
// session just before the power action and puts what the serial console
// shows into the node's console buffer. Proof point: iPXE's banner, as the
// firmware wrote it before any OS ran, is in the node's console marked as
// coming from SOL.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { until } from '../helpers/qmp.js';
import { passwordPath, writePassword } from '../../src/bmc/credentials.js';
import { LAB_ADMIN_LISTEN } from '../../src/lab/appliance-files.js';
import { selfSignedFiles } from '../../src/http/admin/tls.js';
import { LAB_BMC_USER, LAB_CIPHER_SUITE, labBmcHost, newBmcPassword, startLabBmc } from '../../src/lab/lab-bmc.js';
import { Store } from '../../src/store/store.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { World } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, '/usr/bin/ipmi_sim', '/usr/bin/ipmitool']);
const NODE = { name: 'sol-1', mac: '52:54:00:e2:00:16', role: 'worker' as const, bmc: { address: `ipmi://${labBmcHost(1)}`, username: LAB_BMC_USER, bootMode: 'legacy' as const, ipmiCipherSuite: LAB_CIPHER_SUITE } };
/** iPXE's banner line (src/core/main.c prints it once its console is up). */
const IPXE_BANNER = /^iPXE \S+ -- Open Source Network Boot Firmware --/;

interface ConsoleLineView { at: number; msg: string; fields: Record<string, unknown> }

describe.skipIf(why)('e2e, Serial-over-LAN while a machine PXE-boots', () => {
  let world: World;
  let password: string;

  beforeAll(async () => {
    world = await World.start({ name: 'sol', dhcpMode: 'full', nodes: [NODE], standin: inject('standin') });
    password = newBmcPassword();
    writePassword(passwordPath(world.paths.dataDir, NODE.name), password);
    const tap = `rbe${world.suffix}m`;
    world.ns.addTap(tap, world.bridge);
    await startLabBmc({
      ns: world.ns.name, dir: join(world.dir, 'bmc'), index: 1, password, log: join(world.dir, 'bmc.log'), sol: true,
      vm: { firmware: 'bios', mac: NODE.mac, tap, serialFile: join(world.dir, 'sol-1.serial') },
    });
  });
  afterAll(async () => {
    await world?.destroy(); // kills ipmi_sim and the QEMU it started: both live in the world's namespace
  });

  it('power on with PXE through the API: the firmware and iPXE screens are in the node console, marked sol', async () => {
    const cert = selfSignedFiles(world.paths.dataDir).cert;
    const answer = JSON.parse(world.ns.exec('curl', ['-sS', '-m', '30', '--cacert', cert, '-H', `Authorization: Bearer ${world.adminToken}`,
      '-H', 'Content-Type: application/json', '-d', JSON.stringify({ action: 'on', pxe: true }), `https://${LAB_ADMIN_LISTEN}/api/nodes/${NODE.name}/power`])) as { ok: boolean; message: string };
    expect(answer, answer.message).toMatchObject({ ok: true });

    const sol = () => world.api<ConsoleLineView[]>(`/api/nodes/${NODE.name}/console`).filter((l) => l.fields.source === 'sol');
    const serialFile = join(world.dir, 'sol-1.serial');
    await until(() => sol().some((l) => IPXE_BANNER.test(l.msg)), 90_000).catch(() => {
      throw new Error(`no iPXE banner over SOL; console: ${JSON.stringify(sol().slice(0, 20))}; serial:\n${existsSync(serialFile) ? readFileSync(serialFile, 'latin1').slice(0, 1500) : '(none)'}`);
    });
    const lines = sol().map((l) => l.msg);
    // The firmware's lines in order, without terminal control codes: SeaBIOS, then the iPXE ROM, then its banner.
    const seabios = lines.findIndex((l) => l.startsWith('SeaBIOS (version'));
    const banner = lines.findIndex((l) => IPXE_BANNER.test(l));
    expect(seabios, `SeaBIOS not captured: ${JSON.stringify(lines.slice(0, 10))}`).toBeGreaterThanOrEqual(0);
    expect(banner).toBeGreaterThan(seabios);
    expect(lines.join('\n')).not.toMatch(/\x1b/);
    // The same bytes the machine's serial port wrote (QEMU's log of it).
    expect(readFileSync(serialFile, 'latin1')).toContain(lines[banner]!.slice(0, 20));
    // One session, recorded; the password nowhere in rackboot's log.
    const s = new Store(join(world.paths.dataDir, 'rackboot.db'));
    try {
      const started = s.events({ node: NODE.name }).filter((e) => e.kind === 'sol' && e.message.includes('capture started'));
      expect(started).toHaveLength(1);
    } finally {
      s.close();
    }
    expect(JSON.stringify(world.logLines())).not.toContain(password);
    // An independent check that the password is not on ipmitool's command line while the session runs.
    const cmdlines = execFileSync('sh', ['-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "'], { encoding: 'latin1' });
    expect(cmdlines).toContain('sol activate');
    expect(cmdlines).not.toContain(password);
  });
});
