import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCommandArgs, type Command } from '../../src/cli/command.js';
import { reimage } from '../../src/cli/reimage.js';
import { cliActor } from '../../src/cli/actor.js';
import { discovered } from '../../src/cli/discovered.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { Store } from '../../src/store/store.js';
import { startCli } from '../helpers/cli.js';
import { BOOTSTRAP_KEY } from '../../src/lifecycle/cluster-state.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rackboot-cli-lc-'));
  writeFileSync(join(dir, 'cluster.yaml'), `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: v1.11.5
nodes:
  - name: cp-1
    mac: 52:54:00:00:00:01
    role: controlplane
`);
  writeFileSync(join(dir, 'rackboot.yaml'), 'dataDir: ./data\ninventory: ./cluster.yaml\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(cmd: Command, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.run(parseCommandArgs(cmd, [...argv, '--config', join(dir, 'rackboot.yaml')]), { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function node() {
  const s = new Store(join(dir, 'data', 'rackboot.db'));
  try {
    return s.getNode('cp-1')!;
  } finally {
    s.close();
  }
}

describe('rackboot reimage', () => {
  it('marks a node without a daemon, and --cancel undoes it', async () => {
    const s = new Store(join(dir, 'data', 'rackboot.db'));
    s.syncInventory((await import('../../src/inventory/load.js')).loadInventoryFile(join(dir, 'cluster.yaml')).inventory!);
    s.setState('cp-1', 'ready', 'setup', { markedForInstall: false });
    s.close();
    const r = await run(reimage, ['cp-1', '--reason', 'disk swap']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/reimage-pending/);
    expect(node()).toMatchObject({ state: 'reimage-pending', markedForInstall: true, stateReason: `reimage requested by ${cliActor()}: disk swap` });
    expect(cliActor()).toMatch(/^cli:[^\s:]+/);
    const c = await run(reimage, ['cp-1', '--cancel']);
    expect(c.code).toBe(0);
    expect(node()).toMatchObject({ state: 'ready', markedForInstall: false });
  });

  it('fails plainly for unknown nodes and a cancel with nothing pending', async () => {
    expect((await run(reimage, ['nope'])).err).toMatch(/no such node in the inventory: nope/);
    const c = await run(reimage, ['cp-1', '--cancel']);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/only a pending reimage can be cancelled/);
  });
});

describe('rackboot reimage of the last etcd member', () => {
  it('is refused without --destroy-etcd, naming why; with it, the bootstrap is cleared for a fresh one', async () => {
    const s = new Store(join(dir, 'data', 'rackboot.db'));
    s.syncInventory(loadInventoryFile(join(dir, 'cluster.yaml')).inventory!);
    s.setState('cp-1', 'ready', 'setup', { markedForInstall: false });
    s.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
    s.close();
    const refused = await run(reimage, ['cp-1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^rackboot reimage: cp-1 is the last etcd member \(no other control plane is ready\): reimaging it wipes etcd/);
    expect(refused.err).toMatch(/rackboot reimage cp-1 --destroy-etcd/);
    expect(node().state).toBe('ready');
    const ok = await run(reimage, ['cp-1', '--destroy-etcd']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/etcd goes with it: once cp-1 is installed again, the cluster is bootstrapped afresh from the same secrets/);
    expect(node().state).toBe('reimage-pending');
    const after = new Store(join(dir, 'data', 'rackboot.db'));
    try {
      expect(after.getClusterState(BOOTSTRAP_KEY)).toBe('pending');
    } finally {
      after.close();
    }
    await expect(run(reimage, ['cp-1', '--cancel', '--destroy-etcd'])).rejects.toThrow('--destroy-etcd does not go with --cancel');
  });
});

describe('rackboot reimage beside a daemon that holds the store\'s write lock', () => {
  /** The store as the daemon has it, with the inventory loaded, inside a write transaction. */
  function daemonHoldingTheLock(): Store {
    mkdirSync(join(dir, 'data'));
    const s = new Store(join(dir, 'data', 'rackboot.db'));
    s.syncInventory(loadInventoryFile(join(dir, 'cluster.yaml')).inventory!);
    s.db.exec('BEGIN IMMEDIATE');
    return s;
  }

  async function cliWhileHeld(holdMs: number): Promise<{ code: number | null; output: string; exitedAt: number; releasedAt: number; before: ReturnType<typeof node> }> {
    const daemon = daemonHoldingTheLock();
    const before = node();
    const p = startCli(['reimage', 'cp-1', '--reason', 'disk swap', '--config', join(dir, 'rackboot.yaml')]);
    let exitedAt = 0;
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => ((exitedAt = Date.now()), resolve(code))));
    await new Promise((r) => setTimeout(r, holdMs));
    daemon.db.exec('COMMIT');
    const releasedAt = Date.now();
    daemon.close();
    return { code: await exited, output: p.output(), exitedAt, releasedAt, before };
  }

  it('waits for the lock, then marks the node', async () => {
    const r = await cliWhileHeld(1500);
    expect(r.output).toMatch(/cp-1: reimage-pending/);
    expect(r.code).toBe(0);
    expect(r.exitedAt).toBeGreaterThanOrEqual(r.releasedAt);
    expect(node()).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
  });

  it('gives up after 5 s with a plain error and changes nothing', async () => {
    // Held well past the CLI's start-up plus its 5 s busy timeout, even on a loaded machine.
    const r = await cliWhileHeld(10_000);
    expect(r.code).toBe(1);
    expect(r.output).toBe('rackboot reimage: the store stayed locked by another writer (a running daemon?) for 5 s, so the write that waited was not made; try again\n');
    expect(r.exitedAt).toBeLessThan(r.releasedAt);
    expect(r.before.state).toBe('registered');
    expect(node()).toEqual(r.before);
  }, 20_000);
});

describe('rackboot discovered', () => {
  it('lists unknown machines with flags and a snippet; --json gives the same data', async () => {
    expect((await run(discovered, [])).out).toBe('No unknown machines have asked to boot.');
    const s = new Store(join(dir, 'data', 'rackboot.db'));
    s.recordDiscovered({ mac: 'de:ad:00:00:00:01', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000', arch: '0' });
    s.close();
    const text = await run(discovered, []);
    expect(text.out).toMatch(/de:ad:00:00:00:01 +00000000-0000-0000-0000-000000000000 \(ALL-ZERO UUID\) +x86 BIOS/);
    expect(text.out).toMatch(/- name: node-dead00000001\n {2}mac: de:ad:00:00:00:01/);
    const json = JSON.parse((await run(discovered, ['--json'])).out);
    expect(json[0]).toMatchObject({ mac: 'de:ad:00:00:00:01', uuidFlag: 'all-zero' });
  });
});
