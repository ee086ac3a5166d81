// The lab's Talos lifecycle end to end, without QEMU (a full VM lab run is
// too slow for CI on two cores): `labUp({ vms: false })` runs the real
// `rackboot serve` with its Talos service in a namespace, and fake Talos
// nodes plug into the lab bridge with the inventory's MACs and addresses.
// One control plane and two workers (lab-3 pulls its config) must reach
// `ready` with exactly one Bootstrap, and the kubeconfig must be fetched,
// once per Talos version profile the fake answers as (profiles.ts).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lab.js';
import { labStatus, type LabStatus } from '../../src/lab/status.js';
import { standinPrerequisites } from '../../src/lab/standin.js';
import { missingPrerequisites, sh, uniqueSuffix } from '../helpers/netns.js';

const why = missingPrerequisites(['/usr/bin/curl']) ?? (standinPrerequisites().length ? standinPrerequisites().join(', ') : undefined);
// A release of each profile: v1.11 and v1.12 keep a maintenance server of their own, v1.13 folds it into apid.
const VERSIONS = [['v1.11.5', 'v1.11'], ['v1.12.0', 'v1.12'], ['v1.13.0', 'v1.13+']] as const;

describe.each(VERSIONS)('lab on Talos %s', (talosVersion, profile) => {
const dir = mkdtempSync(join(tmpdir(), 'rbl-lab-'));
const ns = `rbl${uniqueSuffix()}`;

afterAll(async () => {
  await labDown({ dir, ns, say: () => {} });
  rmSync(dir, { recursive: true, force: true });
  const left = sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(ns));
  expect(left).toEqual([]);
}, 30_000);

it.skipIf(why)('push and pull nodes go maintenance → … → ready with one Bootstrap, and the kubeconfig is fetched', async () => {
  const progress: string[] = [];
  await labUp({ dir, nodes: 3, ns, vms: false, say: () => {}, progress: { isTTY: false, write: (l) => progress.push(l) }, talosVersion });
  // Not a terminal: plain lines saying what it waited for (the live line is test/factory/progress.test.ts's).
  expect(progress[0]).toBe('waiting for rackboot serve to listen (HTTP, then DHCP and TFTP): 0 s');
  let s: LabStatus | undefined;
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    s = labStatus(dir)!;
    if (s.machines.every((m) => m.state === 'ready') && s.cluster.kubeconfig) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const show = JSON.stringify(s?.machines.map((m) => ({ name: m.name, state: m.state, path: m.path, talos: m.talos })), null, 1);
  expect(s!.machines.map((m) => m.state), show).toEqual(['ready', 'ready', 'ready']);

  const byName = new Map(s!.machines.map((m) => [m.name, m]));
  // The fakes behave as the lab inventory's Talos version.
  for (const m of s!.machines) expect(m.talos!.profile).toBe(profile);
  // Push nodes pass through every state on the happy path, in order.
  for (const name of ['lab-1', 'lab-2']) {
    const path = byName.get(name)!.path;
    const order = ['booting', 'maintenance', 'configuring', 'installing', 'installed', 'ready'].map((st) => path.indexOf(st));
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), `${name}: ${path.join(' → ')}`).toBe(true);
    expect(byName.get(name)!.talos!.calls.ApplyConfiguration).toBe(1);
  }
  // The pull node got its config over HTTP: nothing was pushed to it.
  expect(byName.get('lab-3')!.talos!.pulled).toBe(true);
  expect(byName.get('lab-3')!.talos!.calls.ApplyConfiguration ?? 0).toBe(0);
  expect(byName.get('lab-3')!.path).toContain('installed');

  // Give the orchestrator two more passes: still exactly one Bootstrap.
  await new Promise((r) => setTimeout(r, 11_000));
  s = labStatus(dir)!;
  const bootstraps = s.machines.reduce((n, m) => n + (m.talos?.calls.Bootstrap ?? 0), 0);
  expect(bootstraps).toBe(1);
  expect(s.machines.find((m) => m.name === 'lab-1')!.talos!.calls.Bootstrap).toBe(1);
  expect(s.cluster).toMatchObject({ bootstrap: 'bootstrapped', bootstrapNode: 'lab-1' });
  expect(existsSync(s.cluster.kubeconfig!)).toBe(true);
  expect(s.machines.every((m) => m.talos?.mode === 'configured')).toBe(true);
}, 180_000);
});
