// The Node flags the daemon runs with in production are the ones in the
// systemd unit's ExecStart (the Docker image's ENTRYPOINT carries the same;
// test/packaging checks that). Benches start the daemon with these flags,
// so what they measure is what gets deployed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './bundle.mjs';

/** Flags between `node` and the script in `ExecStart=... node FLAGS /opt/rackboot/dist/cli.js ...`. */
export function nodeFlagsOfUnit(unitText) {
  const m = /^ExecStart=\S*?(?:\/env )?node((?: -[^\s]+)*) \S+\/dist\/cli\.js /m.exec(unitText);
  if (!m) throw new Error('no `node ... dist/cli.js` in the unit\'s ExecStart');
  return m[1].split(' ').filter(Boolean);
}

export function daemonNodeFlags() {
  return nodeFlagsOfUnit(readFileSync(join(REPO, 'systemd', 'rackboot.service'), 'utf8'));
}
