#!/bin/sh
# dhclient/udhcpc hook for the tests: configures the address (never
# resolv.conf or routes: the namespace shares the host's /etc) and logs
# each event as "<event> <address>" to /tmp/rbd-events.<interface>
# (dhclient runs its script with a clean environment, so the path is fixed).
iface="$interface"
RBD_EVENTS="/tmp/rbd-events.$iface"
case "$1$reason" in
  bound|renew|BOUND|RENEW|REBIND|REBOOT)
    addr="${ip:-$new_ip_address}"
    ip addr flush dev "$iface" 2>/dev/null
    ip addr add "$addr/24" dev "$iface"
    echo "$1$reason $addr" >> "$RBD_EVENTS" ;;
  deconfig|PREINIT|EXPIRE|FAIL|RELEASE|STOP|leasefail|nak)
    echo "$1$reason" >> "$RBD_EVENTS" ;;
esac
exit 0
