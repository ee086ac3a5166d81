// The lab's fake Talos nodes. When a lab machine's stand-in kernel has
// printed its marker and powered off, a fake node takes over that machine's
// network identity: its own namespace, a veth on the lab bridge carrying the
// machine's MAC and address, the machine API on :50000. Lab only.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeNodeStatus } from './fake-talos/main.js';
import { builtPath } from './built.js';

const FAKE_MAIN = builtPath('lab/fake-talos/main.js');
export const TALOS_API_PORT = 50000;

export interface FakeNodeSpec {
  labNs: string;
  bridge: string;
  /** 1-based machine number: names the namespace and the veth. */
  index: number;
  name: string;
  mac: string;
  ip: string;
  prefixLength: number;
  secretsFile: string;
  dir: string;
  /** Where a pull node fetches its config; with bootUrl, the talos.config= URL of the served script wins (it carries the boot token). */
  pullUrl?: string;
  /** A pull node whose stand-in kernel already spent this boot's token: the config, rendered for the lab. */
  configFile?: string;
  /** The inventory's Talos version: picks the fake's version profile (default the newest). */
  talosVersion?: string;
  /** Fetch this URL from the node's namespace first (the no-VM lab: what the firmware's script fetch would do). */
  bootUrl?: string;
}

export interface FakeNodeRecord { name: string; ns: string; ip: string; pid: number; statusFile: string; startedAt: string }

const run = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
export const fakeNodeNs = (labNs: string, index: number) => `${labNs}n${index}`;

export function startFakeNode(s: FakeNodeSpec): FakeNodeRecord {
  if (!existsSync(FAKE_MAIN)) throw new Error(`${FAKE_MAIN} is missing: build rackboot first (npx tsc -p .)`);
  const ns = fakeNodeNs(s.labNs, s.index);
  const hostSide = `${s.labNs}v${s.index}`;
  const nodeSide = `${s.labNs}p${s.index}`;
  try { run('netns', 'del', ns); } catch { /* not there */ }
  run('netns', 'add', ns);
  run('-n', ns, 'link', 'set', 'lo', 'up');
  run('link', 'add', hostSide, 'netns', s.labNs, 'type', 'veth', 'peer', 'name', nodeSide, 'netns', ns);
  run('-n', s.labNs, 'link', 'set', hostSide, 'master', s.bridge);
  run('-n', s.labNs, 'link', 'set', hostSide, 'up');
  run('-n', ns, 'link', 'set', nodeSide, 'address', s.mac);
  run('-n', ns, 'addr', 'add', `${s.ip}/${s.prefixLength}`, 'dev', nodeSide);
  run('-n', ns, 'link', 'set', nodeSide, 'up');
  let pullUrl = s.pullUrl;
  if (s.bootUrl) {
    // A bound lease first, as iPXE takes one before it asks for its script: in full mode the
    // script and the config go only to the address the node's MAC holds a lease for.
    run('netns', 'exec', ns, '/bin/busybox', 'udhcpc', '-i', nodeSide, '-n', '-q', '-t', '5', '-s', '/bin/true');
    const script = run('netns', 'exec', ns, 'curl', '-sf', '-m', '5', s.bootUrl);
    pullUrl = / talos\.config=(\S+)/.exec(script)?.[1] ?? pullUrl;
  }
  const statusFile = join(s.dir, `${s.name}.talos.json`);
  const args = [FAKE_MAIN, '--listen', `${s.ip}:${TALOS_API_PORT}`, '--hostname', s.name, '--secrets', s.secretsFile, '--status', statusFile];
  if (s.pullUrl) args.push('--pull-url', pullUrl!);
  if (s.configFile) args.push('--config-file', s.configFile);
  if (s.talosVersion) args.push('--talos-version', s.talosVersion);
  const fd = openSync(join(s.dir, `${s.name}.talos.log`), 'a');
  try {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { detached: true, stdio: ['ignore', fd, fd] });
    p.unref();
    if (!p.pid) throw new Error(`could not start the fake Talos node for ${s.name}`);
    return { name: s.name, ns, ip: s.ip, pid: p.pid, statusFile, startedAt: new Date().toISOString() };
  } finally {
    closeSync(fd);
  }
}

export function readFakeStatus(file: string): FakeNodeStatus | undefined {
  try { return JSON.parse(readFileSync(file, 'utf8')) as FakeNodeStatus; } catch { return undefined; }
}

/** Kills what runs in one fake node's namespace and deletes it; false when there was none. */
export function stopFakeNode(labNs: string, index: number): boolean {
  const ns = fakeNodeNs(labNs, index);
  if (!run('netns', 'list').split('\n').some((l) => l.split(' ')[0] === ns)) return false;
  for (const pid of run('netns', 'pids', ns).split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
  run('netns', 'del', ns);
  return true;
}

/** Kills what runs in each fake node's namespace and deletes it. */
export function stopFakeNodes(labNs: string, count: number, say: (l: string) => void): void {
  for (let i = 1; i <= count; i++) if (stopFakeNode(labNs, i)) say(`deleted namespace ${fakeNodeNs(labNs, i)}`);
}
