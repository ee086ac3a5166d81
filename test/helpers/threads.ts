import { readdirSync, readFileSync } from 'node:fs';

/** This process's threads by id, with their names (/proc/self/task/TID/comm, as `top -H` shows them); one that ends during the walk is left out. */
function threads(): Array<{ tid: string; name: string }> {
  const found: Array<{ tid: string; name: string }> = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      found.push({ tid, name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() });
    } catch { /* the thread ended meanwhile */ }
  }
  return found;
}

/** The names of this process's threads. */
export const threadNames = (): string[] => threads().map((t) => t.name);

/** How many times each thread of this process with the given name has run on a CPU (schedstat's third field), by thread id. */
export function timesRun(name: string): Map<string, number> {
  const runs = new Map<string, number>();
  for (const { tid } of threads().filter((t) => t.name === name)) {
    try {
      runs.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[2]));
    } catch { /* the thread ended meanwhile */ }
  }
  return runs;
}
