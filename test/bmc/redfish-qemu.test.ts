// The Redfish fake powering a QEMU machine: Reset On after a one-time PXE
// override starts QEMU booting from the network; ForceOff stops it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RedfishBmc } from '../../src/bmc/redfish.js';
import { ProcessMachine } from '../fakes/redfish/machine.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { qmp, until } from '../helpers/qmp.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-redfish-qemu-');
let fake: RedfishFake | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

describe('Redfish BMC driving a QEMU machine', () => {
  it('PXE once + On starts QEMU booting from the network; ForceOff stops it; the next On boots from disk', async () => {
    const qmpSocket = join(tmp(), 'qmp.sock');
    const machine = new ProcessMachine(['sh', '-c', `case "$1" in pxe) order=n ;; *) order=c ;; esac
exec qemu-system-x86_64 -nodefaults -display none -machine pc,accel=tcg -m 64 -boot order=$order -net none -qmp unix:${qmpSocket},server=on,wait=off`, 'machine']);
    fake = await new RedfishFake({ machine }).start();
    const bmc = new RedfishBmc({ host: '127.0.0.1', port: fake.port, tls: false, username: fake.username, password: fake.password });
    await bmc.pxeOnce('uefi');
    await bmc.power('on');
    const pid = machine.pid!;
    await until(async () => (await qmp(qmpSocket, 'query-status')).status === 'running');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['qemu-system-x86_64', 'order=n']));
    expect(await bmc.powerStatus()).toBe('on');
    await bmc.power('off');
    expect(await bmc.powerStatus()).toBe('off');
    await bmc.power('on');
    // The shell execs QEMU: wait for the process image to be QEMU's.
    await until(() => readFileSync(`/proc/${machine.pid!}/cmdline`, 'utf8').startsWith('qemu-system-x86_64'));
    expect(readFileSync(`/proc/${machine.pid!}/cmdline`, 'utf8').split('\0')).toContain('order=c');
    await bmc.close();
  }, 60_000);
});
