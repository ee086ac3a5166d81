#!/usr/bin/python3
# Drives a Redfish service with OpenStack's sushy (Debian python3-sushy), a
# client nobody on this project wrote: session login, the system, its
# allowed reset values, a one-time PXE boot override and a power on.
# Usage: sushy-check.py URL USER   (password on stdin). Prints one JSON line.
import json
import sys

import sushy

url, user = sys.argv[1], sys.argv[2]
password = sys.stdin.readline().rstrip("\n")
auth = sushy.auth.SessionAuth(username=user, password=password)
root = sushy.Sushy(url, auth=auth, verify=False)
system = root.get_system("/redfish/v1/Systems/1")
before = system.power_state
allowed = sorted(str(getattr(v, "value", v)) for v in system.get_allowed_reset_system_values())
system.set_system_boot_options(
    target=sushy.BOOT_SOURCE_TARGET_PXE,
    enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
    mode=sushy.BOOT_SOURCE_MODE_UEFI,
)
system.reset_system(sushy.RESET_ON)
system.refresh()
print(json.dumps({
    "redfish_version": root.redfish_version,
    "before": str(getattr(before, "value", before)),
    "allowed": allowed,
    "after": str(getattr(system.power_state, "value", system.power_state)),
    "managers": [m.identity for m in root.get_manager_collection().get_members()],
}))
