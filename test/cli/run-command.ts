import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandArgs, UsageError, type Command } from '../../src/cli/command.js';

export async function runCommand(cmd: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await cmd.run(parseCommandArgs(cmd, argv), { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } catch (e) {
    if (e instanceof UsageError) return { code: 2, out: out.join('\n'), err: e.message };
    throw e;
  }
}

/** A scratch site: rackboot.yaml pointing at the example inventory and a fresh data dir. */
export function scratchSite(extraSettings = ''): { dir: string; config: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const inventory = new URL('../../inventory/cluster.yaml', import.meta.url).pathname;
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\ninventory: ${inventory}\nassetsDir: ${join(dir, 'assets')}\n${extraSettings}`);
  return { dir, config, dataDir };
}
