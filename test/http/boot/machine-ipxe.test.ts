import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testAppliance, type TestAppliance } from '../../helpers/appliance.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
});
afterEach(async () => a.close());

const get = (url: string) => a.app.inject({ method: 'GET', url });

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
    const res = await get('/ipxe?mac=52:54:00:12:34:11&arch=x86_64');
    expect(res.body).toContain('talos.config=http://10.77.0.1:8080/config?mac=52:54:00:12:34:11');
  });

  it('sends an installed node to its local disk, never to the installer', async () => {
    a.lifecycle.markInstalled('cp-2', 'install finished');
    const res = await get('/ipxe?mac=52:54:00:12:34:02&arch=x86_64');
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
      const res = await b.app.inject({ method: 'GET', url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64' });
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
