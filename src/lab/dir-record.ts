// Where `rackboot lab up` left its lab, so `lab status` and `lab down` find
// a lab started with --dir without being told again. One lab per host (its
// namespace name is fixed), so one record: in /run, which a reboot clears
// together with the namespace the lab lived in.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** RACKBOOT_RUN_DIR moves it (tests; hosts without /run). */
export function labDirRecordFile(env = process.env): string {
  return join(env.RACKBOOT_RUN_DIR ?? '/run/rackboot', 'lab-dir');
}

export function recordLabDir(dir: string, file = labDirRecordFile()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, `${dir}\n`);
}

export function recordedLabDir(file = labDirRecordFile()): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Forgets the record if it names this lab (a lab in another dir keeps its own). */
export function forgetLabDir(dir: string, file = labDirRecordFile()): void {
  if (recordedLabDir(file) === dir) rmSync(file, { force: true });
}
