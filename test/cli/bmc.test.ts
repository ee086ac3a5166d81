// rackboot bmc password and rackboot power, against real peers: the Redfish
// fake, ipmi_sim, and a BMC that accepts connections and never answers.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { power } from '../../src/cli/bmc.js';
import { cliActor } from '../../src/cli/actor.js';
import { writePassword } from '../../src/bmc/credentials.js';
import { Store } from '../../src/store/store.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { startIpmiSim, type IpmiSim } from '../../src/lab/ipmi-sim.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { CLI } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';
import { runCommand } from './run-command.js';

const tmp = tempDirs('rackboot-cli-bmc-');
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function site(nodes: string): { dir: string; config: string; dataDir: string } {
  const dir = tmp();
  writeFileSync(join(dir, 'cluster.yaml'), `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: v1.11.5
nodes:
${nodes}`);
  writeFileSync(join(dir, 'rackboot.yaml'), 'dataDir: ./data\ninventory: ./cluster.yaml\n');
  return { dir, config: join(dir, 'rackboot.yaml'), dataDir: join(dir, 'data') };
}

const node = (name: string, mac: string, bmc: string) => `  - name: ${name}
    mac: ${mac}
    role: worker
    bmc:
${bmc.split('\n').map((l) => `      ${l}`).join('\n')}
`;

function powerEvents(dataDir: string, name: string) {
  const s = new Store(join(dataDir, 'rackboot.db'));
  try {
    return s.events({ node: name }).filter((e) => e.kind === 'power');
  } finally {
    s.close();
  }
}

/** A TCP peer that accepts and never answers: a hung BMC. */
async function hungBmc(): Promise<number> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => { sockets.forEach((s) => s.destroy()); return new Promise((r) => server.close(r)); });
  return (server.address() as { port: number }).port;
}

describe('rackboot bmc password', () => {
  it('stores the password from stdin in a 0600 file and never prints it', () => {
    const s = site(node('n1', '52:54:00:00:00:01', 'address: ipmi://127.0.0.1:6230\nusername: admin'));
    const secret = 'Sw0rdf1sh-cli';
    const r = spawnSync(process.execPath, [CLI, 'bmc', 'password', 'n1', '--config', s.config], { input: `${secret}\n`, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const file = join(s.dataDir, 'bmc', 'n1.password');
    expect(r.stdout).toContain(`stored in ${file} (mode 0600)`);
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(readFileSync(file, 'utf8')).toBe(`${secret}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(s.dataDir, 'bmc')).mode & 0o777).toBe(0o700);
    const long = spawnSync(process.execPath, [CLI, 'bmc', 'password', 'n1', '--config', s.config], { input: `${'x'.repeat(21)}\n`, encoding: 'utf8', timeout: 30_000 });
    expect(long.status).toBe(1);
    expect(long.stderr).toMatch(/IPMI 2.0 passwords are at most 20 bytes; nothing stored/);
    expect(readFileSync(file, 'utf8')).toBe(`${secret}\n`);
  });

  it('on a terminal, prompts and reads without echo', async () => {
    const s = site(node('n1', '52:54:00:00:00:01', 'address: ipmi://127.0.0.1\nusername: admin'));
    const secret = 'tty-Secret-42';
    // util-linux script(1) gives the command a pseudo-terminal; what it prints is what a person would see.
    const child = spawn('script', ['-q', '-c', `${process.execPath} ${CLI} bmc password n1 --config ${s.config}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let typed = false;
    child.stdout!.on('data', (d: Buffer) => {
      screen += d;
      if (!typed && screen.includes('BMC password for n1 (admin at ipmi://127.0.0.1): ')) {
        typed = true;
        child.stdin!.write(`${secret}\r`);
      }
    });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(screen).toContain('n1: BMC password stored in');
    expect(screen).not.toContain(secret);
    expect(readFileSync(join(s.dataDir, 'bmc', 'n1.password'), 'utf8')).toBe(`${secret}\n`);
  });
});

describe('rackboot power', () => {
  it('powers a Redfish node on with PXE first, reads its state, and audits each action', async () => {
    const fake = await new RedfishFake().start();
    cleanups.push(() => fake.stop());
    const s = site(node('n1', '52:54:00:00:00:01', `address: redfish+http://127.0.0.1:${fake.port}\nusername: ${fake.username}\nbootMode: legacy`));
    const missing = await runCommand(power, ['n1', 'status', '--config', s.config]);
    expect(missing).toMatchObject({ code: 1, err: expect.stringMatching(/n1: rackboot configuration: no BMC password for n1 .*run: rackboot bmc password n1/) });
    writePassword(join(s.dataDir, 'bmc', 'n1.password'), fake.password);
    expect(await runCommand(power, ['n1', 'status', '--config', s.config])).toMatchObject({ code: 0, out: 'n1: off' });
    const on = await runCommand(power, ['n1', 'on', '--pxe', '--config', s.config]);
    expect(on).toMatchObject({ code: 0, out: 'n1: power on after setting PXE (legacy) once' });
    expect(fake.machine.log).toEqual(['start boot=pxe']);
    expect(await runCommand(power, ['n1', 'status', '--config', s.config])).toMatchObject({ code: 0, out: 'n1: on' });
    expect(await runCommand(power, ['n1', 'pxe-once', '--config', s.config])).toMatchObject({ code: 0 });
    expect(fake.bootOverride).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'Legacy' });
    const events = powerEvents(s.dataDir, 'n1');
    expect(events.map((e) => e.data)).toEqual([
      { request: 'on', actor: cliActor(), ok: true, pxeFirst: true },
      { request: 'pxe-once', actor: cliActor(), ok: true, pxeFirst: false },
    ]);
    expect(events[0]!.message).toBe(`power on by ${cliActor()} through redfish+http://127.0.0.1:${fake.port}: done`);
    expect(JSON.stringify(events)).not.toContain(fake.password);
  });

  it('--all drives IPMI and Redfish nodes, and a hung BMC fails alone within its timeout', async () => {
    const fake = await new RedfishFake().start();
    cleanups.push(() => fake.stop());
    const sim: IpmiSim = await startIpmiSim(tmp());
    cleanups.push(() => sim.stop());
    const hung = await hungBmc();
    const s = site(
      node('rf', '52:54:00:00:00:01', `address: redfish+http://127.0.0.1:${fake.port}\nusername: ${fake.username}`) +
      node('ipmi', '52:54:00:00:00:02', `address: ipmi://127.0.0.1:${sim.port}\nusername: ${sim.username}\nipmiCipherSuite: 3`) +
      node('hung', '52:54:00:00:00:03', `address: redfish+http://127.0.0.1:${hung}\nusername: x`) +
      '  - name: plain\n    mac: 52:54:00:00:00:04\n    role: worker\n',
    );
    writePassword(join(s.dataDir, 'bmc', 'rf.password'), fake.password);
    writePassword(join(s.dataDir, 'bmc', 'ipmi.password'), sim.password);
    writePassword(join(s.dataDir, 'bmc', 'hung.password'), 'whatever');
    const started = Date.now();
    const r = await runCommand(power, ['--all', 'cycle', '--pxe', '--timeout-seconds', '2', '--config', s.config]);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.code).toBe(1);
    expect(r.out.split('\n').sort()).toEqual(['ipmi: power cycle after setting PXE (uefi) once', 'rf: power cycle after setting PXE (uefi) once']);
    expect(r.err).toMatch(/^hung: network fault \(the BMC did not answer\): .*no answer to GET \/redfish\/v1\/ within 2 s$/);
    expect(fake.machine.log).toEqual(['start boot=pxe']);
    expect(sim.events()).toEqual(['boot pxe', 'start boot=pxe']);
    expect(powerEvents(s.dataDir, 'hung').map((e) => e.data)).toEqual([{ request: 'cycle', actor: cliActor(), ok: false, fault: 'network', pxeFirst: true }]);
    expect(powerEvents(s.dataDir, 'plain')).toEqual([]);
    const status = await runCommand(power, ['--all', 'status', '--timeout-seconds', '2', '--config', s.config]);
    expect(status.out.split('\n').sort()).toEqual(['ipmi: on', 'rf: on']);
  });

  it('a BMC that accepts power on and ignores it is a failure, not a success', async () => {
    const fake = await new RedfishFake({ ignoreResets: true }).start();
    cleanups.push(() => fake.stop());
    const s = site(node('n1', '52:54:00:00:00:01', `address: redfish+http://127.0.0.1:${fake.port}\nusername: ${fake.username}`));
    writePassword(join(s.dataDir, 'bmc', 'n1.password'), fake.password);
    const r = await runCommand(power, ['n1', 'on', '--settle-seconds', '1', '--config', s.config]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^n1: the BMC refused or failed the request: .* accepted power on but the machine still reports off after 1 s \(a BMC that ignores commands\?\)$/);
    expect(fake.resets).toEqual(['On']);
    expect(powerEvents(s.dataDir, 'n1').map((e) => e.data)).toEqual([{ request: 'on', actor: cliActor(), ok: false, fault: 'bmc', pxeFirst: false }]);
  });

  it('on --registered powers on, PXE first, only the nodes still registered, in waves of power.waveSize', async () => {
    const fakes = await Promise.all([0, 1, 2, 3].map(() => new RedfishFake().start()));
    for (const f of fakes) cleanups.push(async () => { await f.machine.stop(); await f.stop(); });
    const names = ['a', 'b', 'c', 'seen'];
    const s = site(names.map((n, i) => node(n, `52:54:00:00:01:0${i}`, `address: redfish+http://127.0.0.1:${fakes[i]!.port}\nusername: root`)).join('') +
      '  - name: nobmc\n    mac: 52:54:00:00:01:09\n    role: worker\n');
    writeFileSync(s.config, 'dataDir: ./data\ninventory: ./cluster.yaml\npower:\n  waveSize: 2\n  waveIntervalSeconds: 1\n');
    names.forEach((n, i) => writePassword(join(s.dataDir, 'bmc', `${n}.password`), fakes[i]!.password));
    const inv = loadInventoryFile(join(s.dir, 'cluster.yaml'));
    if (!inv.ok) throw new Error('inventory');
    const store = new Store(join(s.dataDir, 'rackboot.db'));
    store.syncInventory(inv.inventory);
    store.setState('seen', 'booting', 'PXE boot seen (test)', { markedForInstall: true });
    store.close();

    const r = await runCommand(power, ['on', '--registered', '--config', s.config]);
    expect(r.err).toBe('nobmc: registered, but no bmc in the inventory; power it on by hand');
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toEqual(['a', 'b', 'c'].map((n) => `${n}: power on after setting PXE (uefi) once`));
    expect(fakes.map((f) => f.machine.log)).toEqual([['start boot=pxe'], ['start boot=pxe'], ['start boot=pxe'], []]);
    const at = (n: string) => powerEvents(s.dataDir, n)[0]!.at;
    expect(at('c') - Math.max(at('a'), at('b'))).toBeGreaterThanOrEqual(1000); // the second wave waited
    expect(await runCommand(power, ['a', 'on', '--registered', '--config', s.config])).toMatchObject({ code: 2, err: '--registered goes only with on, and no NODE or --all' });
  });

  it('says what is wrong with its arguments', async () => {
    const s = site('  - name: plain\n    mac: 52:54:00:00:00:04\n    role: worker\n');
    expect(await runCommand(power, ['plain', 'explode', '--config', s.config])).toMatchObject({ code: 2, err: expect.stringMatching(/ACTION must be one of on, off, soft, cycle, status, pxe-once/) });
    expect(await runCommand(power, ['plain', 'off', '--pxe', '--config', s.config])).toMatchObject({ code: 2, err: '--pxe goes only with on or cycle' });
    expect(await runCommand(power, ['plain', 'off', '--config', s.config])).toMatchObject({ code: 1, err: 'plain: no bmc in the inventory for this node; power it by hand' });
    expect(await runCommand(power, ['--all', 'status', '--config', s.config])).toMatchObject({ code: 1, err: 'rackboot power: no node in the inventory has a bmc' });
  });
});
