import { readdirSync, readFileSync } from 'node:fs';

/** The names of this process's threads (/proc/self/task/TID/comm), as `top -H` shows them. */
export const threadNames = (): string[] =>
  readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
