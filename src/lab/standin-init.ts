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

export function parseMarker(serial: string): Marker | undefined {
  const line = serial.split(/\r?\n/).find((l) => l.startsWith(MARKER_PREFIX + ' '));
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
