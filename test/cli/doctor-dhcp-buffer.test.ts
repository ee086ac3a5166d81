import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dhcpReceiveBufferFinding, DHCP_RECEIVE_BUFFER_BYTES, grantedReceiveBuffer } from '../../src/cli/doctor-dhcp-buffer.js';
import { runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const repo = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const tmp = tempDirs('rb-doctor-rcvbuf-');

describe('doctor: the DHCP socket receive buffer', () => {
  it('knows the size the addon asks for, and the sysctl drop-in allows exactly that', () => {
    const define = /#define UDP4_RCVBUF \((\d+) << (\d+)\)/.exec(repo('native/bindtodevice/bindtodevice.c'))!;
    expect(Number(define[1]) << Number(define[2])).toBe(DHCP_RECEIVE_BUFFER_BYTES);
    const settings = repo('systemd/60-rackboot.conf').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(settings).toEqual([`net.core.rmem_max = ${DHCP_RECEIVE_BUFFER_BYTES}`]);
  });

  it('warns, with the fix, when the kernel grants less than was asked (Debian default rmem_max)', () => {
    const f = dhcpReceiveBufferFinding(212992, DHCP_RECEIVE_BUFFER_BYTES, 212992);
    expect(f).toMatchObject({ level: 'warn', check: 'DHCP receive buffer' });
    expect(f.detail).toContain('gets 208 KiB of the 4096 KiB it asks for');
    expect(f.detail).toContain('net.core.rmem_max is 212992');
    expect(f.fix).toContain('systemd/60-rackboot.conf');
    expect(f.fix).toContain('sysctl -w net.core.rmem_max=4194304');
    expect(dhcpReceiveBufferFinding(DHCP_RECEIVE_BUFFER_BYTES)).toMatchObject({ level: 'ok', detail: '4096 KiB of the 4096 KiB the DHCP socket asks for' });
  });

  it('measures what a socket asking without CAP_NET_ADMIN is given: the request, capped by rmem_max', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    expect(await grantedReceiveBuffer(DHCP_RECEIVE_BUFFER_BYTES)).toBe(Math.min(DHCP_RECEIVE_BUFFER_BYTES, rmemMax));
    expect(await grantedReceiveBuffer(64 * 1024)).toBe(64 * 1024);
  });

  it('is one of doctor\'s findings when serve would run DHCP, and not otherwise', () => {
    const dir = tmp();
    const cfg = (mode: string) => {
      const file = join(dir, `${mode}.yaml`);
      writeFileSync(file, `interface: lo\nserverAddress: 127.0.0.1\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\ndhcp:\n  mode: ${mode}\ndataDir: ${dir}/data\ninventory: ${process.cwd()}/inventory/cluster.yaml\nassetsDir: ${dir}/assets\n`);
      return file;
    };
    const findings = (mode: string) => JSON.parse(runCli(['doctor', '--json', '--config', cfg(mode)]).stdout || '[]') as Array<{ check: string; level: string }>;
    expect(findings('proxy').filter((f) => f.check === 'DHCP receive buffer')).toHaveLength(1);
    expect(findings('off').filter((f) => f.check === 'DHCP receive buffer')).toHaveLength(0);
  });
});
