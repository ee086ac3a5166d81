// Gets a lab appliance ready the way an operator would: `rackboot init`
// creates the cluster secrets and `rackboot assets import` takes the
// stand-in kernel and initramfs as if they were the factory's files for the
// inventory's schematic and version.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetsImport } from '../cli/assets.js';
import { init } from '../cli/init.js';
import { talosconfig } from '../cli/talosconfig.js';
import { EXIT_OK, parseCommandArgs, type Command } from '../cli/command.js';
import type { AppliancePaths } from './appliance-files.js';
import type { StandinFiles } from './standin.js';

async function runCommand(cmd: Command, argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await cmd.run(parseCommandArgs(cmd, argv), io);
  if (code !== EXIT_OK) throw new Error(`rackboot ${cmd.name.join(' ')} ${argv.join(' ')} failed (${code}): ${lines.join('\n')}`);
  return lines;
}

/** Stages the stand-in under the factory's file names, with a sha256 listing import checks. */
export function stageStandin(dir: string, standin: StandinFiles): string {
  mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [['kernel-amd64', standin.kernel], ['initramfs-amd64.xz', standin.initramfs]];
  const sums: string[] = [];
  for (const [name, src] of files) {
    copyFileSync(src, join(dir, name));
    sums.push(`${createHash('sha256').update(readFileSync(src)).digest('hex')}  ${name}`);
  }
  writeFileSync(join(dir, 'sha256sum.txt'), sums.join('\n') + '\n');
  return dir;
}

export async function prepareAppliance(paths: AppliancePaths, standin: StandinFiles): Promise<string[]> {
  const stage = stageStandin(join(paths.dataDir, '..', 'standin-import'), standin);
  return [
    ...(await runCommand(init, ['--config', paths.config])),
    ...(await runCommand(assetsImport, ['--config', paths.config, '--dir', stage])),
  ];
}

/** `rackboot talosconfig`: with DATA_DIR/talosconfig present the daemon starts its Talos API service. */
export async function prepareTalosApi(paths: AppliancePaths): Promise<string[]> {
  return runCommand(talosconfig, ['--config', paths.config]);
}

/** secureboot: `rackboot assets import` of a UKI (the stand-in built as one) as the Factory's Secure Boot UKI. */
export async function importUki(paths: AppliancePaths, uki: string, name = 'metal-amd64-secureboot-uki.efi'): Promise<string[]> {
  const dir = join(paths.dataDir, '..', 'uki-import');
  mkdirSync(dir, { recursive: true });
  copyFileSync(uki, join(dir, name));
  return runCommand(assetsImport, ['--config', paths.config, '--dir', dir]);
}
