// The Redfish fake is checked by two clients nobody here wrote: DMTF's
// redfishtool and OpenStack's sushy. If they read and drive it, it speaks
// enough Redfish for our own client's tests to mean something.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { RedfishFake } from './service.js';

const run = promisify(execFile);
const SUSHY_CHECK = fileURLToPath(new URL('./sushy-check.py', import.meta.url));
let fake: RedfishFake | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function redfishtool(f: RedfishFake, args: string[]) {
  // redfishtool takes the password on its command line; this is a test BMC's throwaway password.
  const { stdout } = await run('redfishtool', ['-r', `127.0.0.1:${f.port}`, '-S', 'Never', '-A', 'Session', '-u', f.username, '-p', f.password, '-T', '5', ...args]);
  return stdout;
}

describe('Redfish fake, checked by independent clients', () => {
  it('redfishtool reads the system, sets a one-time PXE override and powers the machine on and off', async () => {
    fake = await new RedfishFake().start();
    const system = JSON.parse(await redfishtool(fake, ['Systems', '-I', '1', 'get'])) as Record<string, unknown>;
    expect(system).toMatchObject({ Id: '1', PowerState: 'Off', Actions: { '#ComputerSystem.Reset': { target: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset' } } });
    await redfishtool(fake, ['Systems', '-I', '1', 'setBootOverride', 'Once', 'Pxe']);
    expect(fake.bootOverride).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' });
    await redfishtool(fake, ['Systems', '-I', '1', 'reset', 'On']);
    expect(fake.machine.on, fake.requests.join('\n')).toBe(true);
    expect(fake.machine.log).toEqual(['start boot=pxe']);
    expect(fake.bootOverride.BootSourceOverrideEnabled).toBe('Disabled'); // consumed by that boot
    await redfishtool(fake, ['Systems', '-I', '1', 'reset', 'ForceOff']);
    expect(fake.machine.on).toBe(false);
    expect(fake.requests).toContain('POST /redfish/v1/SessionService/Sessions 201');
  });

  it('sushy logs in, reads allowed reset values, sets boot options with its ETag and powers on', async () => {
    fake = await new RedfishFake({ resetTypes: ['On', 'ForceOff', 'ForceRestart'] }).start();
    const child = execFile('/usr/bin/python3', [SUSHY_CHECK, `http://127.0.0.1:${fake.port}`, fake.username]);
    child.stdin!.end(fake.password + '\n');
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      let errText = '';
      child.stdout!.on('data', (d: Buffer) => (text += d));
      child.stderr!.on('data', (d: Buffer) => (errText += d));
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`sushy-check exited ${code}: ${errText}`))));
    });
    const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result).toMatchObject({ redfish_version: '1.11.0', before: 'Off', after: 'On', managers: ['BMC'] });
    expect(result.allowed).toHaveLength(3);
    expect(fake.machine.log).toEqual(['start boot=pxe']);
    expect(fake.resets).toEqual(['On']);
    expect(fake.ifMatches).toEqual(['W/"1"']); // sushy sent the system's ETag back
  });
});
