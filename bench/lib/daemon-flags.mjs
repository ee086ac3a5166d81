// The Node flags the daemon runs with in production are the ones in the
// systemd unit's ExecStart, its environment the unit's Environment= lines
// (the Docker image's ENTRYPOINT and ENV carry the same; test/packaging
// checks that). Benches start the daemon with both, so what they measure is
// what gets deployed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './bundle.mjs';

/** Flags between `node` and the script in `ExecStart=... node FLAGS /opt/rackboot/dist/cli.js ...`. */
export function nodeFlagsOfUnit(unitText) {
  const m = /^ExecStart=\S*?(?:\/env )?node((?: -[^\s]+)*) \S+\/dist\/cli\.js /m.exec(unitText);
  if (!m) throw new Error('no `node ... dist/cli.js` in the unit\'s ExecStart');
  return m[1].split(' ').filter(Boolean);
}

const unitText = () => readFileSync(join(REPO, 'systemd', 'rackboot.service'), 'utf8');

export function daemonNodeFlags() {
  return nodeFlagsOfUnit(unitText());
}

/** The variables set by the unit's `Environment=NAME=value` lines (one assignment per line). */
export function environmentOfUnit(text) {
  return Object.fromEntries([...text.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/gm)].map((m) => [m[1], m[2]]));
}

/** The environment to start the daemon in: this process's, with the unit's variables over it. */
export function daemonEnv() {
  return { ...process.env, ...environmentOfUnit(unitText()) };
}
