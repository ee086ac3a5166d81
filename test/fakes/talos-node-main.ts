// The fake Talos node as a process, for the lab and for poking at by hand:
//   node --import ./test/fakes/ts-register.mjs test/fakes/talos-node-main.ts \
//     --listen 127.0.0.2:50000 --hostname cp1 --pki-dir /tmp/fake-pki
// It writes a fresh throwaway PKI into --pki-dir (os-ca.crt, admin.crt,
// admin.key, talosconfig) and serves maintenance mode until a config whose
// machine.ca.crt is that os-ca.crt is applied. --profile v1.11|v1.12|v1.13+
// picks the Talos version it behaves as (default the newest). SIGTERM/SIGINT stop it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { makeTestPki } from './pki.js';
import { FakeEtcd, loadConfigSchema } from './talos-cluster.js';
import { FakeTalosNode } from './talos-node.js';
import { isProfileName, NEWEST_PROFILE } from '../../src/lab/fake-talos/profiles.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.2:50000' },
    hostname: { type: 'string', default: 'talos-fake' },
    'pki-dir': { type: 'string' },
    'install-delay-ms': { type: 'string', default: '500' },
    profile: { type: 'string', default: NEWEST_PROFILE },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values['pki-dir'] || !isProfileName(values.profile!)) {
  process.stdout.write('usage: talos-node-main.ts --pki-dir DIR [--listen HOST:PORT] [--hostname NAME] [--install-delay-ms MS] [--profile v1.11|v1.12|v1.13+]\n');
  process.exit(values.help ? 0 : 2);
}
const listen = values.listen!;
const i = listen.lastIndexOf(':');
const host = listen.slice(0, i);
const port = Number(listen.slice(i + 1));
const dir = values['pki-dir']!;

const pki = await makeTestPki();
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'os-ca.crt'), pki.osCa.crt);
writeFileSync(join(dir, 'admin.crt'), pki.admin.crt);
writeFileSync(join(dir, 'admin.key'), pki.admin.key, { mode: 0o600 });
const b64 = (s: string) => Buffer.from(s).toString('base64');
writeFileSync(join(dir, 'talosconfig'), stringify({
  context: 'fake', contexts: { fake: { endpoints: [host], nodes: [host], ca: b64(pki.osCa.crt), crt: b64(pki.admin.crt), key: b64(pki.admin.key) } },
}), { mode: 0o600 });

const schema = loadConfigSchema();
if ('missing' in schema) process.stderr.write(`warning: ${schema.missing}; applied configs are not schema-checked\n`);
const node = new FakeTalosNode({
  host, port, hostname: values.hostname!, etcd: new FakeEtcd(), profile: isProfileName(values.profile!) ? values.profile : NEWEST_PROFILE,
  maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]),
  validate: 'validate' in schema ? schema.validate : undefined, installDelayMs: Number(values['install-delay-ms']),
});
await node.start();
process.stdout.write(`fake talos node ${values.hostname} listening on ${host}:${port} (maintenance, Talos ${node.profile.name} profile); pki in ${dir}\n`);
const stop = () => void node.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
