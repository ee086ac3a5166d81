// rackboot bootstrap and rackboot kubeconfig against fake nodes listening on
// their inventory IPs (127.0.66.x loopback) at the real port, 50000.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrap } from '../../src/cli/bootstrap.js';
import { parseCommandArgs, type Command } from '../../src/cli/command.js';
import { kubeconfig } from '../../src/cli/kubeconfig.js';
import { bootstrapState } from '../../src/talos/bootstrap.js';
import { ALL_PROFILES, makeRack, pxeBooted, type Rack } from '../talos/cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

async function run(cmd: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.run(parseCommandArgs(cmd, argv), { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.each(ALL_PROFILES)('rackboot bootstrap / kubeconfig against Talos %s', (profile) => {
  it('bootstraps once by hand, refuses to do it again, then prints and fetches the kubeconfig', async () => {
    rack = await makeRack(['controlplane'], { hostPrefix: '127.0.66.', firstHost: 1, port: 50000, profile });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(join(rack.dir, 'talosconfig'), stringify({
      context: 'admin@rackboot',
      contexts: { 'admin@rackboot': { endpoints: ['127.0.66.1'], ca: b64(rack.pki.osCa.crt), crt: b64(rack.pki.admin.crt), key: b64(rack.pki.admin.key) } },
    }));
    const settings = join(rack.dir, 'rackboot.yaml');
    writeFileSync(settings, `dataDir: ${rack.dir}\n`);
    const common = ['--config', settings];

    // Install cp1 with the daemon's machinery, but keep it from bootstrapping: its etcd state cannot be read.
    rack.fakes.get('cp1')!.faults.status.ServiceList = { code: 14, details: 'not yet', times: 1e6 };
    pxeBooted(rack, 'cp1');
    const orch = rack.orchestrator({ endpointOf: (n) => `${n.ip}:50000` });
    for (let i = 0; i < 30 && rack.store.getNode('cp1')!.state !== 'installed'; i++) await orch.pass();
    await orch.close();
    expect(rack.store.getNode('cp1')!.state).toBe('installed');
    expect(await run(bootstrap, common)).toMatchObject({ code: 1, err: expect.stringContaining('not bootstrapped') });
    rack.fakes.get('cp1')!.faults.status = {};

    // As upstream before a bootstrap: no member list (an error, not an empty list), etcd waiting.
    expect(await run(kubeconfig, common)).toMatchObject({ code: 1, err: expect.stringContaining('does not exist yet') });
    expect(await run(bootstrap, common)).toEqual({ code: 0, out: 'etcd bootstrapped on cp1', err: '' });
    expect(await run(bootstrap, common)).toEqual({ code: 0, out: 'already bootstrapped (cp1); Bootstrap not sent', err: '' });
    expect(rack.totalBootstraps()).toBe(1);
    expect(bootstrapState(rack.store)).toBe('bootstrapped');

    const fetched = await run(kubeconfig, [...common, '--fetch']);
    expect(fetched.code).toBe(0);
    expect(fetched.out).toMatch(/^apiVersion: v1\nkind: Config\n[\s\S]*current-context: admin@rackboot$/);
    expect(statSync(join(rack.dir, 'kubeconfig')).mode & 0o777).toBe(0o600);
    expect((await run(kubeconfig, common)).out).toBe(fetched.out);
  });
});
