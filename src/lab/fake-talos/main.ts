// `rackboot lab`'s fake Talos node as a process (lab only, never a product
// path). It serves the machine API on --listen in maintenance mode; once a
// config is pushed it serves mTLS with a server cert minted from the lab's
// own OS CA (--secrets), as a node whose trustd issued it would. With
// --pull-url it fetches its config first, as Talos does for talos.config=;
// with --config-file it starts with that config (a pull node whose stand-in
// kernel already made this boot's one fetch).
// --talos-version (or --profile v1.11|v1.12|v1.13+) picks the version profile
// it behaves as (profiles.ts); default the newest.
// It writes what it did (mode, calls per method) to --status as JSON, for
// `rackboot lab status` and the lab test. SIGTERM stops it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseSecrets } from '../../talos/secrets.js';
import { maintenanceCert, osCaServerCert } from './certs.js';
import { FakeEtcd, parseMachineConfig } from './cluster.js';
import { FakeTalosNode } from './node.js';
import { isProfileName, profileFor } from './profiles.js';

export interface FakeNodeStatus { hostname: string; mode: string; profile: string; calls: Record<string, number>; pulled: boolean; updatedAt: string }

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    hostname: { type: 'string' },
    secrets: { type: 'string' },
    status: { type: 'string' },
    'pull-url': { type: 'string' },
    'config-file': { type: 'string' },
    'install-delay-ms': { type: 'string', default: '2000' },
    'talos-version': { type: 'string' },
    profile: { type: 'string' },
  },
});
if (!values.listen || !values.hostname || !values.secrets || !values.status) {
  process.stderr.write('usage: main.js --listen IP:PORT --hostname NAME --secrets DATA_DIR/secrets.yaml --status FILE [--pull-url URL | --config-file FILE] [--install-delay-ms MS] [--talos-version vX.Y.Z | --profile v1.11|v1.12|v1.13+]\n');
  process.exit(2);
}
if (values.profile !== undefined && !isProfileName(values.profile)) {
  process.stderr.write(`unknown --profile ${values.profile}: v1.11, v1.12 or v1.13+\n`);
  process.exit(2);
}
const profile = values.profile !== undefined && isProfileName(values.profile) ? values.profile : profileFor(values['talos-version']);
const i = values.listen.lastIndexOf(':');
const host = values.listen.slice(0, i);
const port = Number(values.listen.slice(i + 1));
const statusFile = values.status;
const secrets = parseSecrets(readFileSync(values.secrets, 'utf8'));

const node = new FakeTalosNode({
  host, port, hostname: values.hostname, etcd: new FakeEtcd(), clusterName: 'lab', profile,
  maintenanceCert: await maintenanceCert([host]), serverCert: await osCaServerCert(secrets, [host]),
  installDelayMs: Number(values['install-delay-ms']),
});

let pulled = false;
if (values['config-file']) node.config = parseMachineConfig(readFileSync(values['config-file']), undefined);
else if (values['pull-url']) {
  // Talos retries talos.config= with backoff until it answers 200.
  for (;;) {
    try {
      const res = await fetch(values['pull-url']);
      if (res.ok) {
        node.config = parseMachineConfig(Buffer.from(await res.arrayBuffer()), undefined);
        pulled = true;
        break;
      }
      process.stderr.write(`config fetch: HTTP ${res.status}\n`);
    } catch (err) {
      process.stderr.write(`config fetch: ${(err as Error).message}\n`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function writeStatus(): void {
  const s: FakeNodeStatus = { hostname: values.hostname!, mode: node.mode, profile, calls: node.calls, pulled, updatedAt: new Date().toISOString() };
  writeFileSync(`${statusFile}.tmp`, JSON.stringify(s));
  renameSync(`${statusFile}.tmp`, statusFile);
}

await node.start();
writeStatus();
const timer = setInterval(writeStatus, 500);
process.stdout.write(`fake talos node ${values.hostname} on ${host}:${port} (${node.mode}, Talos ${profile} profile)\n`);
const stop = () => {
  clearInterval(timer);
  writeStatus();
  void node.stop().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
