// Which store writes wait for the disk. A sighting (a node's last-seen time,
// a TFTP transfer's event) is committed without a flush: in a boot storm
// each was an fdatasync on the event loop. A state change still is flushed.
// The store sits on a file system whose flushes the test holds (HeldDisk);
// the writes run in a child process (the built store, dist/), because a
// write that waits for the disk would hold this process too.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldDisk, heldDiskMissing } from '../helpers/held-disk.js';
import { REPO } from '../helpers/cli.js';

const why = heldDiskMissing();
let disk: HeldDisk | undefined;

// Node a is in the store; then, on each line from stdin, one write; "done <write>" on stdout after it returns.
const WRITER = `
import { Store } from ${JSON.stringify(join(REPO, 'dist/store/store.js'))};
import { parseInventory } from ${JSON.stringify(join(REPO, 'dist/inventory/load.js'))};
import { recordTftpSighting } from ${JSON.stringify(join(REPO, 'dist/tftp/sightings.js'))};
import { createInterface } from 'node:readline';
const store = new Store(process.argv[1]);
const inv = parseInventory('cluster:\\n  name: c\\n  controlPlaneEndpoint: https://10.0.0.1:6443\\n  talosVersion: v1.11.5\\nnodes:\\n  - name: a\\n    mac: 52:54:00:00:00:01\\n    role: controlplane\\n', 'x');
store.syncInventory(inv.inventory);
store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ('52:54:00:00:00:01', '10.0.0.9', 'bound', 9999999999999, 0)").run();
const writes = {
  touch: () => store.touch('a'),
  tftp: () => recordTftpSighting(store, { ip: '10.0.0.9', file: 'undionly.kpxe', outcome: 'sent', message: 'sent undionly.kpxe' }),
  state: () => store.setState('a', 'booting', 'test'),
};
process.stdout.write('ready\\n');
createInterface({ input: process.stdin }).on('line', (w) => { writes[w](); process.stdout.write('done ' + w + '\\n'); });
`;

describe.skipIf(why)('store writes while the disk holds its flushes', () => {
  beforeAll(() => {
    disk = HeldDisk.create();
  });
  afterAll(() => {
    disk?.release();
    disk?.destroy();
  });

  it('a sighting (last seen, a TFTP event) returns at once; a state change waits for the disk', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, join(disk!.dir, 'state.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Generous liveness bound: "at once" here means before the disk is released, not a latency.
    const saw = async (line: string, ms = 15_000): Promise<boolean> => {
      const until = Date.now() + ms;
      while (!out.split('\n').includes(line)) {
        if (Date.now() > until || child.exitCode !== null) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    };
    try {
      expect(await saw('ready'), err).toBe(true);
      disk!.hold();
      child.stdin.write('touch\ntftp\n');
      expect(await saw('done touch'), err).toBe(true);
      expect(await saw('done tftp'), err).toBe(true);
      child.stdin.write('state\n');
      expect(await saw('done state', 2000)).toBe(false);
      disk!.release();
      expect(await saw('done state'), err).toBe(true);
    } finally {
      disk!.release();
      child.kill('SIGKILL');
    }
  }, 60_000);
});
