// Whether a PID still names a running process, for records that outlive the
// process that wrote them (the daemon's Talos service state, a rollout's
// holder, the lab's daemon). Signal 0 checks without signalling: ESRCH means
// no such process; EPERM means there is one that we may not signal. A PID
// can be reused, so callers that must know it is still *their* process check
// more than this (lab.ts compares the command line).

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
