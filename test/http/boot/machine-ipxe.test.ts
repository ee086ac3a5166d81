import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSightings, testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { initSecrets } from '../../../src/talos/secrets.js';
import { heldDiskMissing } from '../../helpers/held-disk.js';
import { requestWhileFlushHeld } from './held-flush.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
});
afterEach(async () => a.close());

/** From cp-1's address unless told otherwise: the fake neighbour table puts each node at its inventory address. */
const get = (url: string, from = '10.77.0.11') => a.app.inject({ method: 'GET', url, remoteAddress: from });

describe('GET /boot.ipxe', () => {
  it('chains to the per-machine script, trying every NIC', async () => {
    const res = await get('/boot.ipxe');
    expect(res.statusCode).toBe(200);
    expect(res.body.startsWith('#!ipxe\n')).toBe(true);
    expect(res.body).toContain('chain --autofree ${rackboot-url}/ipxe?mac=${net${idx}/mac:hexhyp}&uuid=${uuid}&arch=${buildarch}&serial=${serial:uristring}');
    expect(res.body).toContain('set rackboot-url http://10.77.0.1:8080');
    expect(res.body).toMatch(/inc idx\ngoto nic/);
  });
});

describe('GET /ipxe', () => {
  it('gives a node marked for install the Talos kernel with the required arguments, and records booting', async () => {
    const res = await get('/ipxe?mac=52-54-00-12-34-01&uuid=11223344-5566-7788-99AA-BBCCDDEEFF01&arch=x86_64');
    expect(res.statusCode).toBe(200);
    const kernelLine = res.body.split('\n').find((l) => l.startsWith('kernel '))!;
    expect(kernelLine).toMatch(/^kernel http:\/\/10\.77\.0\.1:8080\/assets\/2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8\/v1\.11\.5\/kernel-amd64 initrd=initramfs-amd64\.xz /);
    for (const arg of ['talos.platform=metal', 'console=tty0', 'slab_nomerge', 'pti=on', 'init_on_alloc=1', 'console=ttyS0']) {
      expect(kernelLine.split(' ')).toContain(arg);
    }
    expect(kernelLine).not.toContain('talos.config=');
    expect(res.body).toContain('initrd --name initramfs-amd64.xz http://10.77.0.1:8080/assets/2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8/v1.11.5/initramfs-amd64.xz');
    const node = a.store.getNode('cp-1')!;
    expect(node.state).toBe('booting');
    expect(node.lastSeen).not.toBeNull();
  });

  it('adds talos.config= for a pull-mode node', async () => {
    const inv = a.watcher.inventory!;
    a.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, configMode: 'pull' as const } : n)) });
    const res = await get('/ipxe?mac=52:54:00:12:34:11&arch=x86_64', '10.77.0.21');
    expect(res.body).toMatch(/ talos\.config=http:\/\/10\.77\.0\.1:8080\/config\?mac=52:54:00:12:34:11&token=[0-9a-f]{32} /);
  });

  it('sends an installed node to its local disk, never to the installer', async () => {
    a.lifecycle.markInstalled('cp-2', 'install finished');
    const res = await get('/ipxe?mac=52:54:00:12:34:02&arch=x86_64', '10.77.0.12');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('boots from local disk');
    expect(res.body).toContain('sanboot --no-describe --drive 0x80');
    expect(res.body).not.toMatch(/^kernel /m);
    expect(a.store.getNode('cp-2')!.state).toBe('installed');
  });

  it('records an unknown MAC as discovered and tells it to retry', async () => {
    const res = await get('/ipxe?mac=52:54:00:aa:bb:cc&uuid=00000000-0000-0000-0000-000000000000&arch=x86_64');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('52:54:00:aa:bb:cc is not in the inventory');
    expect(res.body).toMatch(/sleep 60\nchain --autofree http:\/\/10\.77\.0\.1:8080\/ipxe\?mac=52:54:00:aa:bb:cc/);
    expect(res.body).not.toMatch(/^kernel /m);
    writeSightings(a);
    const d = a.store.listDiscovered();
    expect(d.map((x) => [x.mac, x.source, x.uuid, x.arch])).toEqual([['52:54:00:aa:bb:cc', 'http', '00000000-0000-0000-0000-000000000000', 'x86_64']]);
  });

  it('a node removed from the inventory is treated as unknown', async () => {
    const inv = a.watcher.inventory!;
    a.store.syncInventory({ ...inv, nodes: inv.nodes.filter((n) => n.name !== 'worker-2') });
    const res = await get('/ipxe?mac=52:54:00:12:34:12&arch=x86_64');
    expect(res.body).toContain('is not in the inventory');
  });

  it('explains missing boot assets instead of sending a kernel that 404s', async () => {
    const b = await testAppliance({ withAssets: false });
    try {
      const res = await b.app.inject({ method: 'GET', url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64', remoteAddress: '10.77.0.11' });
      expect(res.body).toContain('are not cached');
      expect(res.body).not.toMatch(/^kernel /m);
      expect(b.store.getNode('cp-1')!.state).toBe('registered');
    } finally {
      await b.close();
    }
  });

  it.each([
    ['/ipxe', 400, 'mac must be a MAC address'],
    ['/ipxe?mac=nonsense', 400, 'mac must be a MAC address'],
    ['/ipxe?mac=52:54:00:12:34:01&arch=mips', 400, 'unsupported arch'],
  ])('%s → %i with a JSON message', async (url, status, message) => {
    const res = await get(url);
    expect(res.statusCode).toBe(status);
    expect(res.json().message).toContain(message);
  });

  it('no sequence of requests reinstalls an installed node', async () => {
    a.lifecycle.markInstalled('cp-1', 'done');
    for (let i = 0; i < 5; i++) {
      const res = await get('/ipxe?mac=52:54:00:12:34:01&arch=x86_64');
      expect(res.body).not.toMatch(/^kernel /m);
    }
    expect(a.store.getNode('cp-1')!.markedForInstall).toBe(false);
  });
});

describe('GET /ipxe from an address that is not the machine', () => {
  const CP1 = '52:54:00:12:34:01';
  const refusals = (name: string) => a.store.events({ node: name }).filter((e) => e.message.startsWith('iPXE script refused')).map((e) => e.message);

  it('another host on the L2 asking with cp-1\'s MAC: 403, no script, no state change, an event with the reason', async () => {
    a.neighbours.set('10.77.0.99', '52:54:00:99:99:99');
    const res = await get(`/ipxe?mac=${CP1}&arch=x86_64`, '10.77.0.99');
    expect(res.statusCode).toBe(403);
    expect(res.body).toBe('forbidden\n');
    const node = a.store.getNode('cp-1')!;
    expect(node.state).toBe('registered');
    expect(node.lastSeen).toBeNull();
    expect(refusals('cp-1')).toEqual([`iPXE script refused: request from 10.77.0.99, whose neighbour entry carries 52:54:00:99:99:99, not cp-1's ${CP1}`]);
  });

  it('a routed address (no neighbour entry) in proxy/off mode: 403', async () => {
    const res = await get(`/ipxe?mac=${CP1}&arch=x86_64`, '10.99.0.5');
    expect(res.statusCode).toBe(403);
    expect(a.store.getNode('cp-1')!.state).toBe('registered');
    expect(refusals('cp-1')[0]).toContain('a routed address cannot be tied to cp-1');
  });

  it('a stranger cannot declare a configuring node installed (what a real network boot after configuring means)', async () => {
    a.store.setState('cp-1', 'booting', 'test');
    a.store.setState('cp-1', 'configuring', 'test');
    a.neighbours.set('10.77.0.99', '52:54:00:99:99:99');
    expect((await get(`/ipxe?mac=${CP1}&arch=x86_64`, '10.77.0.99')).statusCode).toBe(403);
    const node = a.store.getNode('cp-1')!;
    expect(node.state).toBe('configuring');
    expect(node.markedForInstall).toBe(true);
  });

  it('pull: the token in the machine\'s install script opens /config once; a stranger\'s /ipxe gets no token', async () => {
    const inv = a.watcher.inventory!;
    a.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, configMode: 'pull' as const } : n)) });
    await initSecrets(a.settings.dataDir);
    a.neighbours.set('10.77.0.99', '52:54:00:99:99:99');
    const stranger = await get('/ipxe?mac=52:54:00:12:34:11&arch=x86_64', '10.77.0.99');
    expect(stranger.statusCode).toBe(403);
    expect(stranger.body).not.toContain('token=');
    const script = (await get('/ipxe?mac=52:54:00:12:34:11&arch=x86_64', '10.77.0.21')).body;
    const url = / talos\.config=(\S+)/.exec(script)![1]!;
    const path = url.replace('http://10.77.0.1:8080', '');
    expect((await get(path, '10.77.0.99')).statusCode).toBe(403);
    const first = await get(path, '10.77.0.21');
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('hostname: worker-1');
    expect((await get(path, '10.77.0.21')).statusCode).toBe(403);
    expect(a.store.getNode('worker-1')!.state).toBe('configuring');
  }, 60_000);
});

describe.skipIf(heldDiskMissing())('GET /ipxe while the disk holds its flushes', () => {
  it('sends the install script only once the move to booting is on disk, and answers other requests meanwhile', async () => {
    const run = await requestWhileFlushHeld(
      { method: 'GET', url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64', remoteAddress: '10.77.0.11' },
      (b) => b.store.getNode('cp-1')!.state === 'booting',
    );
    // Committed (visible, kill -9 safe), its flush still held: another request answered, no script yet.
    expect(run.otherAnsweredWhileHeld).toBe(true);
    expect(run.beforeRelease).toEqual(['other']);
    expect(run.after).toEqual(['other', 'reply']);
    expect(run.res.statusCode).toBe(200);
    expect(run.res.body).toMatch(/^kernel /m);
  }, 60_000);
});
