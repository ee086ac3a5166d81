import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { pendingUkiFetches } from '../../../src/store/uki-fetches.js';
import { heldDiskMissing } from '../../helpers/held-disk.js';
import { requestWhileFlushHeld } from './held-flush.js';

let a: TestAppliance;
const UKI = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(300_000, 3)]);
beforeEach(async () => {
  a = await testAppliance();
  const inv = a.watcher.inventory!;
  // worker-1 (10.77.0.21) boots the Secure Boot UKI; worker-2 stays on iPXE.
  a.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, httpBoot: 'uki' as const, secureBoot: true } : n)) });
  writeFileSync(join(a.assetDir, 'metal-amd64-secureboot-uki.efi'), UKI);
});
afterEach(async () => a.close());

const req = (method: 'GET' | 'HEAD', url: string, from = '10.77.0.21') => a.app.inject({ method, url, remoteAddress: from });

describe('GET /uki/<mac>.efi', () => {
  it('serves the node its Secure Boot UKI whole (application/efi, Content-Length), moves it to booting and records the fetch', async () => {
    const res = await req('GET', '/uki/52-54-00-12-34-11.efi');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/efi');
    expect(res.headers['content-length']).toBe(String(UKI.length));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.rawPayload.equals(UKI)).toBe(true);
    const node = a.store.getNode('worker-1')!;
    expect(node.state).toBe('booting');
    expect(node.stateReason).toMatch(/metal-amd64-secureboot-uki\.efi served/);
    expect(pendingUkiFetches(a.store.db)).toMatchObject([{ node: 'worker-1', name: 'metal-amd64-secureboot-uki.efi', stillBooting: true, servedTo: '10.77.0.21' }]);
  });

  it('answers a HEAD with the size and moves nothing', async () => {
    const res = await req('HEAD', '/uki/52:54:00:12:34:11.efi');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(UKI.length));
    expect(a.store.getNode('worker-1')!.state).toBe('registered');
    expect(pendingUkiFetches(a.store.db)).toEqual([]);
  });

  it('refuses another machine (403), an iPXE node and an unknown MAC (404), and moves nothing', async () => {
    expect((await req('GET', '/uki/52-54-00-12-34-11.efi', '10.77.0.11')).statusCode).toBe(403);
    expect((await req('GET', '/uki/52-54-00-12-34-12.efi', '10.77.0.22')).statusCode).toBe(404);
    expect((await req('GET', '/uki/52-54-00-aa-bb-cc.efi')).statusCode).toBe(404);
    expect((await req('GET', '/uki/not-a-mac.efi')).statusCode).toBe(404);
    expect(a.store.getNode('worker-1')!.state).toBe('registered');
  });

  it('says why when the UKI is not cached', async () => {
    const inv = a.watcher.inventory!;
    a.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, httpBoot: 'uki' as const } : n)) });
    const res = await req('GET', '/uki/52-54-00-12-34-11.efi');
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/metal-amd64-uki\.efi for Talos v1\.11\.5 .* is not cached; run rackboot assets fetch/);
  });

  it('after an install, the network boot finishes it: installed, no UKI (404, the firmware goes on to the disk)', async () => {
    a.lifecycle.machine.transition('worker-1', 'booting', 'test');
    a.lifecycle.machine.transition('worker-1', 'maintenance', 'test');
    a.lifecycle.machine.transition('worker-1', 'configuring', 'test');
    const res = await req('GET', '/uki/52-54-00-12-34-11.efi');
    expect(res.statusCode).toBe(404);
    const node = a.store.getNode('worker-1')!;
    expect(node.state).toBe('installed');
    expect(node.markedForInstall).toBe(false);
  });
});

describe.skipIf(heldDiskMissing())('GET /uki/<mac>.efi while the disk holds its flushes', () => {
  it('sends the UKI only once the move to booting and the fetch record are on disk, and answers other requests meanwhile', async () => {
    const run = await requestWhileFlushHeld(
      { method: 'GET', url: '/uki/52-54-00-12-34-11.efi', remoteAddress: '10.77.0.21' },
      (b) => b.store.getNode('worker-1')!.state === 'booting',
      (b) => {
        const inv = b.watcher.inventory!;
        b.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, httpBoot: 'uki' as const, secureBoot: true } : n)) });
        writeFileSync(join(b.assetDir, 'metal-amd64-secureboot-uki.efi'), UKI);
      },
    );
    expect(run.otherAnsweredWhileHeld).toBe(true);
    expect(run.beforeRelease).toEqual(['other']);
    expect(run.after).toEqual(['other', 'reply']);
    expect(run.res.statusCode).toBe(200);
    expect(run.res.rawPayload.equals(UKI)).toBe(true);
  }, 60_000);
});
