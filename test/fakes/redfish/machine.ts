// A machine a fake BMC powers: a child process started with the boot device
// its firmware would use ("pxe" or "default") as its first argument. Power
// state is whether the process lives. Tests read its boot log.
import { spawn, type ChildProcess } from 'node:child_process';

export class ProcessMachine {
  private proc?: ChildProcess;
  /** "start boot=pxe", "stop", "graceful-stop" in order. */
  readonly log: string[] = [];

  /** `command` runs with the boot device appended. */
  constructor(private readonly command: string[] = ['sh', '-c', 'exec sleep 600', 'machine']) {}

  get on(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.on ? this.proc!.pid : undefined;
  }

  start(boot: string): void {
    if (this.on) return;
    this.log.push(`start boot=${boot}`);
    this.proc = spawn(this.command[0]!, [...this.command.slice(1), boot], { stdio: 'ignore' });
  }

  async stop(graceful = false): Promise<void> {
    const p = this.proc;
    if (!p || !this.on) return;
    this.log.push(graceful ? 'graceful-stop' : 'stop');
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await exited;
  }
}
