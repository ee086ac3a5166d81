// ipmi_sim's chassis_control hook, written next to each BMC's state by
// writeIpmiSimFiles(): a shell script, kept as text here because the build
// (tsc) ships only .js files. What it does is said in its own header.
export const CHASSIS_CONTROL_SCRIPT = `#!/bin/sh
# ipmi_sim's chassis_control hook for a lab or test machine: ipmi_sim runs
#   chassis-control.sh STATE_DIR get power|boot ...     (prints PARM:VALUE lines)
#   chassis-control.sh STATE_DIR set power 1|0 | reset 1 | boot pxe|default|... ...
# (the interface of OpenIPMI's lanserv/ipmi_sim_chassiscontrol example).
# The machine is a process: "power on" starts STATE_DIR/machine (the test's
# stand-in or QEMU launcher) with the pending boot device as its argument and
# records its pid (its output goes to STATE_DIR/machine.log); "power off"
# kills it; power state is whether that pid lives.
# A boot device set over IPMI applies to the next start only, as firmware
# consumes a "valid for next boot" flag.
# A file STATE_DIR/ignore-power makes it a BMC that accepts power commands
# and does nothing.
dir=$1; op=$2; shift 2
pidfile="$dir/machine.pid"
# A killed machine can linger as a zombie (its parent, this script, is gone
# and whoever inherits it may not reap at once): a zombie is powered off.
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
running() { [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; }
start() {
  running && return 0
  boot=$(cat "$dir/boot" 2>/dev/null || echo default)
  echo default > "$dir/boot"
  echo "start boot=$boot" >> "$dir/events"
  setsid "$dir/machine" "$boot" >> "$dir/machine.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}
stop() {
  if running; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    i=0; while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    kill -9 "$pid" 2>/dev/null
    echo "stop" >> "$dir/events"
  fi
  rm -f "$pidfile"
}
case $op in
  get)
    for p in "$@"; do
      case $p in
        power) if running; then echo "power:1"; else echo "power:0"; fi ;;
        boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
        *) echo "unknown parameter $p"; exit 1 ;;
      esac
    done ;;
  set)
    while [ $# -ge 2 ]; do
      p=$1; v=$2; shift 2
      case $p in
        power) [ -e "$dir/ignore-power" ] || { if [ "$v" = 1 ]; then start; else stop; fi; } ;;
        reset) echo "reset" >> "$dir/events"; stop; start ;;
        boot) echo "$v" > "$dir/boot"; echo "boot $v" >> "$dir/events" ;;
        identify) ;;
        *) echo "unknown parameter $p"; exit 1 ;;
      esac
    done ;;
  *) echo "unknown operation $op"; exit 1 ;;
esac
`;
