import { readdirSync, readFileSync } from 'node:fs';

/** The names of this process's threads (/proc/self/task/TID/comm), as `top -H` shows them. */
export const threadNames = (): string[] =>
  readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());

/** How many times each thread of this process with the given name has run on a CPU (schedstat's third field), by thread id. */
export function timesRun(name: string): Map<string, number> {
  const runs = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue;
      runs.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[2]));
    } catch { /* the thread ended meanwhile */ }
  }
  return runs;
}
