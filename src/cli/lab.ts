// `rackboot lab up|down|status`: a virtual rack of QEMU machines that
// PXE-boot through the appliance inside a network namespace.
import { resolve } from 'node:path';
import { labDown, labUp, standinNotice } from '../lab/lab.js';
import { forgetLabDir, recordedLabDir, recordLabDir } from '../lab/dir-record.js';
import { labStatus } from '../lab/status.js';
import { labFindings } from '../lab/prerequisites.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type Io } from './command.js';
import { printable } from './printable.js';
import { cliProgressSink } from '../factory/progress.js';

const DEFAULT_DIR = '/var/tmp/rackboot-lab';
const dirOption = { dir: { type: 'string' } } as const;
/** --dir, else where the last `lab up` put its lab, else the default. */
const dirOf = (v: Record<string, unknown>) => resolve((v.dir as string | undefined) ?? recordedLabDir() ?? DEFAULT_DIR);

function missingForLab(io: Io): boolean {
  const fails = labFindings().filter((f) => f.level === 'fail');
  for (const f of fails) io.err(`rackboot lab: missing ${f.check}: ${f.detail}${f.fix ? ` (fix: ${f.fix})` : ''}`);
  return fails.length > 0;
}

export const labUpCommand: Command = {
  name: ['lab', 'up'],
  summary: 'start a virtual rack: QEMU machines PXE-booting through rackboot',
  usage: `rackboot lab up [--nodes N] [--dir DIR] [--no-vms] [--talos-version V]

Creates network namespace rblab with a bridge (10.78.0.1/24), runs
rackboot serve there (DHCP full mode, TFTP, HTTP on 10.78.0.1:8080) and
N QEMU machines (default 3; odd ones BIOS/iPXE, even ones UEFI/OVMF) that
PXE-boot through it. Each machine has an IPMI BMC (OpenIPMI ipmi_sim at
ipmi://127.0.1.N in the namespace, password in DIR/data/bmc/) that starts and
stops its QEMU; lab up powers them on with rackboot power on --registered. When a machine's stand-in kernel has powered off,
a fake Talos node takes over its MAC and address (namespace rblabnN) and
answers the Talos API, so push, bootstrap, health and kubeconfig run.
--no-vms skips QEMU: the fake nodes plug in at once. --talos-version sets the
lab inventory's Talos version (default v1.11.5): the configs rackboot renders
and the version profile the fake nodes answer as. Needs root; rackboot doctor --lab lists what is missing.
Files and serial logs go to DIR (default ${DEFAULT_DIR}); lab status and
lab down find it there without --dir (recorded in /run/rackboot/lab-dir).`,
  options: { ...dirOption, nodes: { type: 'string' }, 'no-vms': { type: 'boolean' }, 'talos-version': { type: 'string' } },
  async run(args, io) {
    const nodes = Number(args.values.nodes ?? 3);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new UsageError('--nodes must be an integer from 1 to 20');
    if (missingForLab(io)) return EXIT_FAILURE;
    // lab up starts a new lab: only --dir or the default, never the last one's record.
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    recordLabDir(dir);
    const state = await labUp({ dir, nodes, say: io.out, progress: cliProgressSink(io.err), vms: !args.values['no-vms'], talosVersion: args.values['talos-version'] as string | undefined });
    for (const l of standinNotice(state.standin, state.vms)) io.out(l);
    io.out('');
    io.out(`appliance: ${state.url} (inside namespace ${state.ns}); its log: ${state.dir}/rackboot.log`);
    for (const m of state.machines) io.out(`  ${m.name}  ${m.mac}  ${m.ip}  ${m.role.padEnd(12)} ${m.configMode}  ${state.vms ? `${m.firmware.toUpperCase().padEnd(4)}  BMC ${m.bmc?.address ?? 'none'}  serial: ${m.serial}` : 'no VM'}`);
    io.out('');
    io.out(state.vms
      ? 'watch it: rackboot lab status   (under TCG a BIOS machine reaches its kernel in about 25 s, UEFI in about 35 s; several at once take longer)'
      : 'watch it: rackboot lab status   (without VMs the nodes reach ready in about 30 s)');
    io.out(`API:      ip netns exec ${state.ns} curl --cacert ${state.adminCert} -H 'Authorization: Bearer ${state.adminToken}' ${state.adminUrl}/api/nodes`);
    io.out(`          (admin token also in ${state.dir}/rackboot.yaml)`);
    if (state.vms) io.out(`power:    ip netns exec ${state.ns} rackboot power lab-1 status --config ${state.dir}/rackboot.yaml   (cycle, off, on, pxe-once)`);
    io.out('stop it:  rackboot lab down');
    return EXIT_OK;
  },
};

export const labStatusCommand: Command = {
  name: ['lab', 'status'],
  summary: 'show the virtual rack\'s machines and their states',
  usage: `rackboot lab status [--dir DIR]

Shows each lab machine: whether QEMU still runs, its state in rackboot, its
BMC (whether ipmi_sim runs, and the power and boot-device changes it made),
and what its stand-in kernel reported on the serial console. DIR defaults to
the one the last rackboot lab up used.`,
  options: dirOption,
  async run(args, io) {
    const s = labStatus(dirOf(args.values));
    if (!s) {
      io.err('rackboot lab: no lab is running (rackboot lab up starts one)');
      return EXIT_FAILURE;
    }
    io.out(`appliance ${s.state.url} in namespace ${s.state.ns}, started ${s.state.startedAt}`);
    if (s.apiError) io.out(`appliance API not answering: ${printable(s.apiError)}`);
    for (const m of s.machines) {
      const power = !s.state.vms ? 'no VM' : m.running ? 'powered on' : 'powered off';
      io.out(`  ${m.name.padEnd(7)} ${m.ip.padEnd(11)} ${s.state.vms ? m.firmware.toUpperCase().padEnd(5) : ''}${power.padEnd(11)} state ${printable(m.state).padEnd(12)} ${printable(m.marker)}`);
      if (m.path.length) io.out(`          states: ${m.path.join(' → ')}`);
      if (m.bmc) io.out(`          BMC ${m.bmc.address} (ipmi_sim ${m.bmc.up ? 'running' : 'NOT running'}); chassis: ${m.bmc.chassis.join(' → ') || 'nothing yet'}`);
      const t = m.talos;
      io.out(t
        ? `          fake Talos API: ${t.mode}${t.pulled ? ', config pulled' : ''}; calls ${Object.entries(t.calls).map(([k, v]) => `${k}×${v}`).join(' ') || 'none'}`
        : '          fake Talos API: not started yet (waits for the stand-in to power off)');
    }
    const c = s.cluster;
    io.out(`cluster: bootstrap ${c.bootstrap}${c.bootstrapNode ? ` (on ${c.bootstrapNode})` : ''}; kubeconfig ${c.kubeconfig ? `fetched: ${c.kubeconfig} (from the fake: not a real cluster)` : 'not fetched yet'}`);
    for (const l of standinNotice(s.state.standin, s.state.vms)) io.out(l);
    return EXIT_OK;
  },
};

export const labDownCommand: Command = {
  name: ['lab', 'down'],
  summary: 'stop the virtual rack and delete its namespace',
  usage: `rackboot lab down [--dir DIR]

Stops the lab's QEMU machines, their BMCs (ipmi_sim) and rackboot (by the
PIDs lab up recorded) and
deletes network namespace rblab. Files in DIR are kept. DIR defaults to the
one the last rackboot lab up used.`,
  options: dirOption,
  async run(args, io) {
    const dir = dirOf(args.values);
    await labDown({ dir, say: io.out });
    forgetLabDir(dir);
    io.out(`lab is down (its files stay in ${dir})`);
    return EXIT_OK;
  },
};

export const labCommands: Command[] = [labUpCommand, labStatusCommand, labDownCommand];
