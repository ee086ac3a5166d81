// iPXE scripts. Everything interpolated into a script is either a value we
// validated (MAC, IP, URL we built) or passed through ipxeSafe(), because a
// script line is a command line: operator or network text must not become
// a command.

/** Keeps only characters that cannot end a command or start a substitution. */
export function ipxeSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9 ._:/@+=,()-]/g, '_');
}

/**
 * The first script every iPXE client runs. It finds the machine's own
 * script using the MAC of a NIC that has (or can get) an address, trying
 * each NIC in turn: a server's first NIC is often not the cabled one.
 */
export function chainScript(baseUrl: string): string {
  return `#!ipxe
# rackboot: find this machine's own boot script.
set rackboot-url ${baseUrl}
set idx:int32 0
:nic
isset \${net\${idx}/mac} || goto no-nic
isset \${net\${idx}/ip} && goto chain ||
echo rackboot: DHCP on net\${idx} (\${net\${idx}/mac})
dhcp net\${idx} && goto chain ||
inc idx
goto nic
:chain
echo rackboot: net\${idx} \${net\${idx}/mac} has \${net\${idx}/ip}
chain --autofree \${rackboot-url}/ipxe?mac=\${net\${idx}/mac:hexhyp}&uuid=\${uuid}&arch=\${buildarch}&serial=\${serial:uristring} || goto retry
:no-nic
echo rackboot: no NIC got an address
:retry
echo rackboot: retrying in 10 seconds
sleep 10
set idx:int32 0
goto nic
`;
}

export interface InstallScriptInput {
  nodeName: string;
  mac: string;
  talosVersion: string;
  kernelUrl: string;
  initrdUrl: string;
  kernelArgs: string[];
}

/** Kernel, initramfs and boot, shared by the install and commissioning scripts: any failure starts the three again. */
function fetchAndBoot(i: Pick<InstallScriptInput, 'kernelUrl' | 'initrdUrl' | 'kernelArgs'>): string {
  // The EFI stub finds its initramfs by the name given in initrd=.
  const initrdName = i.initrdUrl.slice(i.initrdUrl.lastIndexOf('/') + 1);
  return `:fetch
kernel ${i.kernelUrl} initrd=${initrdName} ${i.kernelArgs.join(' ')} || goto retry
initrd --name ${initrdName} ${i.initrdUrl} || goto retry
boot || goto retry
:retry
echo rackboot: download failed, retrying in 5 seconds
sleep 5
goto fetch
`;
}

/** Boots the Talos kernel and initramfs from the appliance's own cache. */
export function installScript(i: InstallScriptInput): string {
  return `#!ipxe
# rackboot: ${ipxeSafe(i.nodeName)} (${i.mac}) is marked for install: Talos ${ipxeSafe(i.talosVersion)}
echo rackboot: ${ipxeSafe(i.nodeName)} boots Talos ${ipxeSafe(i.talosVersion)}
${fetchAndBoot(i)}`;
}

/**
 * Commissioning (discovery.commission): an unknown machine boots the Talos
 * kernel into maintenance mode so rackboot can read its hardware. The
 * command line carries no talos.config=, and rackboot never pushes one:
 * the machine waits in maintenance until the operator adopts it.
 */
export function commissionScript(i: Omit<InstallScriptInput, 'nodeName'>): string {
  return `#!ipxe
# rackboot: ${i.mac} is not in the inventory; commissioning: Talos ${ipxeSafe(i.talosVersion)} maintenance mode, no config, no install
echo rackboot: commissioning ${i.mac}: Talos maintenance mode so its hardware can be read; it is not installed
${fetchAndBoot(i)}`;
}

/** An installed node boots from its own disk; rackboot never reinstalls it by accident. */
export function localDiskScript(nodeName: string, mac: string, reason: string): string {
  return `#!ipxe
# rackboot: ${ipxeSafe(nodeName)} (${mac}) boots from local disk: ${ipxeSafe(reason)}
echo rackboot: ${ipxeSafe(nodeName)} boots from local disk
iseq \${platform} pcbios && sanboot --no-describe --drive 0x80 ||
exit
`;
}

/** A machine not in the inventory: say so on its console and ask again later. */
export function unknownMachineScript(mac: string, retryUrl: string, retrySeconds = 60): string {
  return `#!ipxe
# rackboot: ${mac} is not in the inventory
echo rackboot: this machine (${mac}) is not in the inventory.
echo rackboot: it is listed as discovered on the status page - add it to the inventory to provision it.
:retry
echo rackboot: asking again in ${retrySeconds} seconds
sleep ${retrySeconds}
chain --autofree ${retryUrl} || goto retry
`;
}

/** For a request we cannot serve (missing asset, bad query): fail visibly, then retry. */
export function errorScript(message: string, retryUrl: string, retrySeconds = 30): string {
  return `#!ipxe
echo rackboot: ${ipxeSafe(message)}
:retry
sleep ${retrySeconds}
chain --autofree ${retryUrl} || goto retry
`;
}
