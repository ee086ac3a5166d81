// RedfishBmc against the Redfish fake (itself checked by redfishtool and sushy).
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RedfishBmc, type RedfishOptions } from '../../src/bmc/redfish.js';
import { BmcError } from '../../src/bmc/types.js';
import { RedfishFake, type RedfishFakeOptions } from '../fakes/redfish/service.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-redfish-');
let fake: RedfishFake | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function startFake(opts: RedfishFakeOptions = {}) {
  fake = await new RedfishFake(opts).start();
  return fake;
}

const client = (f: RedfishFake, over: Partial<RedfishOptions> = {}) =>
  new RedfishBmc({ host: '127.0.0.1', port: f.port, tls: false, username: f.username, password: f.password, timeoutMs: 5000, ...over });

async function fault(p: Promise<unknown>): Promise<BmcError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(BmcError);
  return e as BmcError;
}

describe('Redfish client', () => {
  it('finds the only system, sets PXE once with If-Match, and powers on, cycles and off with allowed ResetTypes', async () => {
    const f = await startFake();
    const bmc = client(f);
    expect(await bmc.powerStatus()).toBe('off');
    await bmc.pxeOnce('legacy');
    expect(f.bootOverride).toEqual({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe', BootSourceOverrideMode: 'Legacy' });
    expect(f.ifMatches).toEqual(['W/"1"']);
    await bmc.power('on');
    expect(await bmc.powerStatus()).toBe('on');
    await bmc.power('cycle');
    await bmc.power('soft');
    expect(await bmc.powerStatus()).toBe('off');
    await bmc.power('cycle'); // off: cycle powers on
    await bmc.power('off');
    expect(f.resets).toEqual(['On', 'PowerCycle', 'GracefulShutdown', 'On', 'ForceOff']);
    expect(f.machine.log).toEqual(['start boot=pxe', 'stop', 'start boot=default', 'graceful-stop', 'start boot=default', 'stop']);
    // One session for the whole conversation, then logged out.
    expect(f.requests.filter((r) => r.startsWith('POST /redfish/v1/SessionService/Sessions'))).toHaveLength(1);
    await bmc.close();
    expect(f.requests.at(-1)).toMatch(/^DELETE \/redfish\/v1\/SessionService\/Sessions\/\S+ 204$/);
  });

  it('uses the ResetTypes the system allows, and says so when none fits', async () => {
    const f = await startFake({ resetTypes: ['On', 'ForceOff', 'ForceRestart'] });
    const bmc = client(f, { systemPath: '/redfish/v1/Systems/1' });
    await bmc.power('on');
    await bmc.power('cycle');
    expect(f.resets).toEqual(['On', 'ForceRestart']);
    const e = await fault(bmc.power('soft'));
    expect(e.fault).toBe('bmc');
    expect(e.message).toMatch(/no ResetType for soft \(wanted GracefulShutdown; the system allows On, ForceOff, ForceRestart\)/);
  });

  it('reads the system again and retries when its ETag went stale (412)', async () => {
    const f = await startFake({ concurrentWrites: 1 });
    await client(f).pxeOnce('uefi');
    expect(f.requests.filter((r) => r.startsWith('PATCH'))).toEqual(['PATCH /redfish/v1/Systems/1 412', 'PATCH /redfish/v1/Systems/1 200']);
    expect(f.ifMatches).toEqual(['W/"1"', 'W/"2"']);
    expect(f.bootOverride).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe', BootSourceOverrideMode: 'UEFI' });
  });

  it('logs in again once when the BMC forgot the session, and works with basic auth', async () => {
    const f = await startFake();
    const bmc = client(f);
    await bmc.powerStatus();
    f.expireSessions();
    expect(await bmc.powerStatus()).toBe('off');
    expect(f.requests.filter((r) => r.startsWith('POST /redfish/v1/SessionService/Sessions'))).toHaveLength(2);
    const basic = client(f, { auth: 'basic' });
    expect(await basic.powerStatus()).toBe('off');
    expect(f.requests.filter((r) => r.startsWith('POST /redfish/v1/SessionService'))).toHaveLength(2);
  });

  it('lays refused credentials, silence, a closed port and a slow BMC where they belong', async () => {
    const f = await startFake({ delayMs: 400 });
    const creds = await fault(client(f, { password: 'wrong' }).powerStatus());
    expect(creds).toMatchObject({ fault: 'credentials', message: expect.stringMatching(/refused user "root" or its password \(401: There are insufficient privileges/) });
    expect(creds.message).not.toContain(f.password);
    const basic = await fault(client(f, { password: 'wrong', auth: 'basic' }).powerStatus());
    expect(basic.fault).toBe('credentials');
    const slow = await fault(client(f, { timeoutMs: 150 }).powerStatus());
    expect(slow).toMatchObject({ fault: 'network', message: expect.stringMatching(/no answer to GET \/redfish\/v1\/ within 0.15 s/) });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const refused = await fault(client(f, { port }).powerStatus());
    expect(refused).toMatchObject({ fault: 'network', message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('over TLS trusts only the pinned certificate, and sends nothing to any other', async () => {
    const dir = tmp();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=fake-bmc',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const f = await startFake({ tls: { cert, key: readFileSync(join(dir, 'key.pem'), 'utf8') } });
    const fingerprint = new X509Certificate(cert).fingerprint256;
    const unpinned = await fault(client(f, { tls: true }).powerStatus());
    expect(unpinned.fault).toBe('certificate');
    expect(unpinned.message).toContain(`pin it with bmc.tlsFingerprint: ${fingerprint}`);
    const wrongPin = await fault(client(f, { tls: true, fingerprint: 'AA'.repeat(32) }).powerStatus());
    expect(wrongPin).toMatchObject({ fault: 'certificate', message: expect.stringMatching(/is not the pinned AA:AA/) });
    expect(f.requests).toEqual([]); // no request, so no credentials, reached an untrusted peer
    const pinned = client(f, { tls: true, fingerprint: fingerprint.toLowerCase().replace(/:/g, '') });
    expect(await pinned.powerStatus()).toBe('off');
    await pinned.pxeOnce('uefi');
    expect(f.bootOverride.BootSourceOverrideTarget).toBe('Pxe');
  });
});
