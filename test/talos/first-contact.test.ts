// First contact against every Talos profile: the maintenance API is found
// whichever way that version shows it, the install disk is checked against
// the names upstream's Disks reply carries, and the event names the mode the
// node reported, not the proto default.
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_PROFILES, makeRack, pxeBooted, w1AfterOnePass, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

async function firstContact(r: Rack, installDisk?: string): Promise<string[]> {
  if (installDisk) r.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.installDisk',?) WHERE name='w1'").run(installDisk);
  return w1AfterOnePass(r);
}

const SHOWS: Record<string, { how: RegExp; applied: string }> = {
  'v1.11': { how: /Version is Unimplemented without a client certificate/, applied: 'config applied: requested AUTO; the node reported no mode (Talos ≤ v1.12 maintenance leaves it unset)' },
  'v1.12': { how: /Version is Unimplemented without a client certificate/, applied: 'config applied: requested AUTO; the node reported no mode (Talos ≤ v1.12 maintenance leaves it unset)' },
  'v1.13+': { how: /Version answers a client without a certificate \(Talos v1\.13\.0/, applied: 'config applied: requested AUTO; the node applied NO_REBOOT (Applied configuration without a reboot)' },
};

describe.each(ALL_PROFILES)('first contact with Talos %s', (profile) => {
  it('finds the maintenance API, checks /dev/sda, sends the config, and names the mode the node reported', async () => {
    rack = await makeRack(['worker'], { profile });
    const events = await firstContact(rack);
    expect(rack.store.getNode('w1')!.state).toBe('installing');
    expect(events.find((m) => m.startsWith('booting → maintenance: Talos maintenance API answers'))).toMatch(SHOWS[profile]!.how);
    expect(events).toContain('install disk /dev/sda is /dev/sda (device name)');
    expect(events).toContain(SHOWS[profile]!.applied);
    expect(events.some((m) => m.includes('mode REBOOT'))).toBe(false);
    expect(rack.fakes.get('w1')!.applied.map((a) => a.mode)).toEqual(['AUTO']);
  });

  it('a config Talos cannot even parse fails the node, whichever code that version answers with', async () => {
    rack = await makeRack(['worker'], { profile });
    pxeBooted(rack, 'w1');
    const orch = rack.orchestrator({ renderConfig: async () => Buffer.from('version: v1alpha1\nmachine: [unclosed\n') });
    try {
      await orch.pass();
    } finally {
      await orch.close();
    }
    expect(rack.store.getNode('w1')).toMatchObject({ state: 'failed', stateReason: expect.stringContaining('Talos rejected the machine config: failed to parse config') });
    expect(rack.fakes.get('w1')!.applied).toHaveLength(0);
  });

  it('resolves a by-id install disk from the serial the node reports', async () => {
    rack = await makeRack(['worker'], { profile });
    const events = await firstContact(rack, '/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001');
    expect(events).toContain('install disk /dev/disk/by-id/ata-QEMU_HARDDISK_QM00001 is /dev/sda (serial QM00001)');
    expect(rack.store.getNode('w1')!.state).toBe('installing');
  });

  it('a by-path install disk cannot be checked from the reply: says so and sends the config', async () => {
    rack = await makeRack(['worker'], { profile });
    const events = await firstContact(rack, '/dev/disk/by-path/pci-0000:00:07.0-scsi-0:0:0:0');
    expect(events.some((m) => m.startsWith('install disk not checked: /dev/disk/by-path/pci-0000:00:07.0-scsi-0:0:0:0'))).toBe(true);
    expect(rack.store.getNode('w1')!.state).toBe('installing');
    expect(rack.fakes.get('w1')!.applied).toHaveLength(1);
  });
});

describe('first contact with many nodes at once', () => {
  it('talks to at most `talksInFlight` nodes over TLS at once, and pushes to all of them in one pass', async () => {
    rack = await makeRack(['worker', 'worker', 'worker', 'worker', 'worker', 'worker']);
    const names = [...rack.fakes.keys()];
    // The apply is the longest call of a talk here: while it is delayed, the talk holds its lane.
    for (const f of rack.fakes.values()) f.faults.delayMs.ApplyConfiguration = 80;
    pxeBooted(rack, ...names);
    let most = 0;
    const applying = () => [...rack!.fakes.values()].reduce((n, f) => n + (f.calls.ApplyConfiguration ?? 0) - f.applied.length, 0);
    const sampler = setInterval(() => (most = Math.max(most, applying())), 2);
    try {
      const report = await rack.onePass({ talksInFlight: 2 });
      expect(report.pushed.sort()).toEqual(names);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBe(2);
    for (const f of rack.fakes.values()) expect(f.applied).toHaveLength(1);
  });

  it('a node whose API port refuses takes no lane: it gets no TLS connection, and the node that is up is pushed to meanwhile', async () => {
    rack = await makeRack(['worker', 'worker']);
    await rack.fakes.get('w1')!.stop();
    pxeBooted(rack, 'w1', 'w2');
    const tlsFor: string[] = [];
    const report = await rack.onePass({ talksInFlight: 1, pollTimeoutMs: 1500, maintenancePinSha256: (node) => (tlsFor.push(node), undefined) });
    expect(report.pushed).toEqual(['w2']);
    expect(new Set(tlsFor)).toEqual(new Set(['w2']));
    expect(rack.store.getNode('w1')!.state).toBe('booting');
    expect(rack.store.events({ node: 'w1' }).map((e) => e.message)).toContain(`first contact: polling the maintenance API at ${rack.fakes.get('w1')!.endpoint}`);
  });
});
