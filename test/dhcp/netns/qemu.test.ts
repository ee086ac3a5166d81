// A real BIOS machine: QEMU (TCG) with an e1000 NIC and its iPXE ROM, on a
// bridge in a namespace with rackboot in full mode (CLIENTS.md recipe).
// iPXE must get its reserved address and the script URL from rackboot, and
// then fetch that script over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { buildCli, cleanupDir, Rackboot, tempDir, waitFor, writeConfig } from './harness.js';

const why = missingPrerequisites(['/usr/bin/qemu-system-x86_64', '/usr/lib/ipxe/qemu/efi-e1000.rom']);
const x = uniqueSuffix();
const MAC = '52:54:00:12:34:01';

let vmns: Netns | undefined;
let dir: string | undefined;
let rb: Rackboot;

describe.skipIf(why)('QEMU BIOS machine with the e1000 iPXE ROM', () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    vmns = Netns.create(`rbdv${x}`);
    vmns.addBridge(`rbdb${x}`, '10.77.0.1/24');
    vmns.addTap(`rbdt${x}`, `rbdb${x}`);
    // A bridge whose only port is an unopened tap has no carrier, and Node
    // lists only running interfaces: give it a veth port so it is up now.
    vmns.exec('ip', ['link', 'add', `rbdl${x}`, 'type', 'veth', 'peer', 'name', `rbdm${x}`]);
    vmns.exec('ip', ['link', 'set', `rbdl${x}`, 'master', `rbdb${x}`]);
    vmns.exec('ip', ['link', 'set', `rbdl${x}`, 'up']);
    vmns.exec('ip', ['link', 'set', `rbdm${x}`, 'up']);
    const config = writeConfig(dir, {
      interface: `rbdb${x}`, serverAddress: '10.77.0.1',
      dhcp: { mode: 'full', subnet: '10.77.0.0/24', gateway: '10.77.0.1' },
      http: { listen: '10.77.0.1:8080', publicUrl: 'http://10.77.0.1:8080' },
    }, [{ name: 'cp-1', mac: MAC, ip: '10.77.0.11' }]);
    rb = await Rackboot.start(vmns, cli, config, join(dir, 'data'));
  }, 240_000);

  afterAll(async () => {
    await vmns?.destroy();
    cleanupDir(dir);
  }, 60_000);

  it('gets its reserved address and the script URL, then fetches /boot.ipxe', async () => {
    vmns!.spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '256', '-nographic', '-monitor', 'none', '-no-reboot', '-boot', 'n',
      '-uuid', '11223344-5566-7788-99aa-bbccddeeff01',
      '-netdev', `tap,id=n0,ifname=rbdt${x},script=no,downscript=no`, '-device', `e1000,netdev=n0,mac=${MAC}`,
      '-serial', `file:${join(dir!, 'vm.serial')}`,
    ]);
    const fetched = () => rb.lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/boot.ipxe');
    await waitFor(fetched, 150_000, () => `iPXE never fetched /boot.ipxe; dhcp log: ${JSON.stringify(rb.dhcpLines(MAC).map((l) => l.msg))}`);

    const dhcp = rb.dhcpLines(MAC);
    const offer = dhcp.find((l) => l.type === 'DISCOVER' && String(l.msg).startsWith('dhcp: offer'));
    expect(String(offer?.msg)).toContain('offer 10.77.0.11, boot file http://10.77.0.1:8080/boot.ipxe (iPXE user class)');
    expect(rb.lease(MAC)).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    const events = rb.query<{ message: string; data_json: string }>("SELECT message, data_json FROM events WHERE node='cp-1' AND kind='dhcp'");
    expect(events.some((e) => e.message.startsWith('ack 10.77.0.11'))).toBe(true);
    // What the ROM told us, recorded on the node: arch 0, iPXE, the SMBIOS UUID from -uuid.
    const seen = JSON.parse(events[0]!.data_json) as Record<string, string>;
    expect(seen).toMatchObject({ mac: MAC, arch: '0 (x86 BIOS)', userClass: 'iPXE', uuid: '11223344-5566-7788-99aa-bbccddeeff01' });
    expect(seen.vendorClass).toMatch(/^PXEClient:Arch:00000:UNDI:002001/);
  }, 200_000);
});
