// The /init of the Talos stand-in initramfs. It does, in shell, the part of
// a Talos boot that rackboot is responsible for: the kernel command line
// carries the arguments Talos needs, the node takes a DHCP lease, and a
// pull-mode node fetches its machine config from talos.config=. It reports
// one marker line on the serial console and powers off, so a test or the
// lab reads one line to know what happened.

/** Arguments rackboot must put on a Talos metal command line (see src/talos/kernel-args.ts). */
export const REQUIRED_TALOS_ARGS = [
  'talos.platform=metal',
  'init_on_alloc=1',
  'slab_nomerge',
  'pti=on',
  'consoleblank=0',
  'printk.devkmsg=on',
  'console=ttyS0',
];

export const MARKER_PREFIX = 'RACKBOOT-STANDIN';

/**
 * Hardware report lines (branch commission): `RACKBOOT-STANDIN-HW <kind> <id> <field> <value…>`,
 * one per sysfs value the kernel shows, printed when the command line has
 * rackboot.hwreport=N (N: disks to wait for). The value is the rest of the
 * line, so models with spaces survive. Parsed back by parseHardwareReport().
 */
export const HW_PREFIX = 'RACKBOOT-STANDIN-HW';

export interface HardwareReport {
  /** Per block device (kernel name): sysfs file (relative to /sys/block/NAME) → its text. */
  disks: Record<string, Record<string, string>>;
  /** /sys/class/dmi/id/* file → text. */
  dmi: Record<string, string>;
  /** Interface name → MAC. */
  nics: Record<string, string>;
}

export function parseHardwareReport(serial: string): HardwareReport {
  const r: HardwareReport = { disks: {}, dmi: {}, nics: {} };
  for (const line of serial.split(/\r?\n/)) {
    const m = /^RACKBOOT-STANDIN-HW (disk|dmi|nic) (\S+) (\S+) ?(.*)$/.exec(line.trimEnd());
    if (!m) continue;
    const [, kind, id, field, value] = m as unknown as [string, string, string, string, string];
    if (kind === 'disk') (r.disks[id] ??= {})[field] = value;
    else if (kind === 'dmi') r.dmi[field] = value;
    else r.nics[id] = value;
  }
  return r;
}

/**
 * The marker line: `RACKBOOT-STANDIN result=ok|fail missing=a,b ip=1.2.3.4 config=none|<sha256>|fetch-failed mac=…`.
 * Parsed back by parseMarker().
 */
export interface Marker {
  result: 'ok' | 'fail';
  missing: string[];
  ip: string;
  config: string;
  mac: string;
}

/**
 * The stand-in's marker line, once the serial console has delivered all of
 * it: a line still without its newline is not read, because the console
 * arrives in pieces and a half line would parse with its last fields empty.
 */
export function parseMarker(serial: string): Marker | undefined {
  const line = serial.split(/\r?\n/).slice(0, -1).find((l) => l.startsWith(MARKER_PREFIX + ' '));
  if (!line) return undefined;
  const fields = new Map(line.slice(MARKER_PREFIX.length + 1).trim().split(/\s+/).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
  }));
  const result = fields.get('result');
  if (result !== 'ok' && result !== 'fail') return undefined;
  const missing = fields.get('missing') ?? '';
  return { result, missing: missing === '' || missing === '-' ? [] : missing.split(','), ip: fields.get('ip') ?? '', config: fields.get('config') ?? '', mac: fields.get('mac') ?? '' };
}

/** Whether the serial console holds the whole marker line: what a VM run waits for. */
export const hasMarker = (serial: string): boolean => parseMarker(serial) !== undefined;

/** `modules` are file names under /lib/modules in load order (dependencies first). */
export function standinInit(modules: string[]): string {
  return `#!/bin/busybox sh
# rackboot Talos stand-in: NOT Talos. Checks what rackboot handed this
# kernel, takes a lease, fetches talos.config= if present, reports, powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /etc
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec >/dev/console 2>&1
cmdline="$(cat /proc/cmdline)"
echo "rackboot-standin: cmdline: $cmdline"
missing=""
for want in ${REQUIRED_TALOS_ARGS.join(' ')}; do
  case " $cmdline " in *" $want "*) ;; *) missing="$missing,$want" ;; esac
done
missing="\${missing#,}"
for m in ${modules.join(' ')}; do insmod /lib/modules/$m 2>/dev/null; done
hw=""
for word in $cmdline; do case "$word" in rackboot.hwreport=*) hw="\${word#rackboot.hwreport=}" ;; esac; done
if [ -n "$hw" ]; then
  # What the kernel sees, for a test to compare with the machine it described.
  # clean: one printable line (busybox tr has no character classes).
  clean() { tr -d '\\n\\r\\000' | sed 's/[^ -~]//g'; }
  i=0
  while [ "$(ls /sys/block | grep -cv -e '^loop' -e '^ram')" -lt "$hw" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  sleep 1
  for d in /sys/block/*; do
    n="\${d##*/}"
    case "$n" in loop*|ram*) continue ;; esac
    for f in size removable ro queue/rotational serial wwid device/serial device/model device/vendor device/wwid; do
      [ -r "$d/$f" ] && echo "${HW_PREFIX} disk $n $f $(clean < "$d/$f")"
    done
    [ -r "$d/device/vpd_pg80" ] && echo "${HW_PREFIX} disk $n device/vpd_pg80 $(tail -c +5 "$d/device/vpd_pg80" | clean)"
    echo "${HW_PREFIX} disk $n subsystem $(basename "$(readlink -f "$d/device/subsystem" 2>/dev/null)")"
  done
  for f in sys_vendor product_name product_serial product_uuid; do
    [ -r /sys/class/dmi/id/$f ] && echo "${HW_PREFIX} dmi id $f $(clean < /sys/class/dmi/id/$f)"
  done
  for n in /sys/class/net/*; do
    [ "\${n##*/}" = lo ] || echo "${HW_PREFIX} nic \${n##*/} address $(cat $n/address)"
  done
  echo "${MARKER_PREFIX}-HW-END"
  sync
  poweroff -f
fi
# Drivers probe asynchronously: wait for the NIC to appear.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
ip link set eth0 up
mac="$(cat /sys/class/net/eth0/address 2>/dev/null)"
cat > /bin/lease <<'EOF'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ifconfig "$interface" "$ip" netmask "$subnet" up
[ -n "$router" ] && route add default gw "\${router%% *}" 2>/dev/null
echo "$ip" > /tmp/ip
exit 0
EOF
chmod +x /bin/lease
udhcpc -i eth0 -s /bin/lease -q -n -t 10 -T 2 -A 2 -x hostname:rackboot-standin
ip="$(cat /tmp/ip 2>/dev/null)"
config=none
url=""
for word in $cmdline; do case "$word" in talos.config=*) url="\${word#talos.config=}" ;; esac; done
if [ -n "$url" ]; then
  # Talos substitutes \${mac} in query values; rackboot already puts the MAC in.
  url="$(echo "$url" | sed "s/\\\${mac}/$mac/g")"
  config=fetch-failed
  # Not wget -T: busybox 1.35's wget crashes with it; timeout(1) bounds it instead.
  if timeout 20 wget -q -O /tmp/config "$url"; then config="$(sha256sum /tmp/config | cut -d' ' -f1)"; fi
fi
result=ok
[ -n "$missing" ] && result=fail
[ -n "$ip" ] || result=fail
[ "$config" = fetch-failed ] && result=fail
echo "${MARKER_PREFIX} result=$result missing=\${missing:--} ip=\${ip:--} config=$config mac=\${mac:--}"
sync
poweroff -f
`;
}
