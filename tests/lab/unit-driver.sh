#!/bin/bash
# Sourced by the drivers that the systemd-unit lab tests run inside their
# container (test-afxdp-unit.sh, test-statsd-unit.sh), after they set
# `unit` and redirected their output to /lab/driver.log. The test copies
# this file to /lab before booting the container.
fail() {
	echo "FAIL: $*"
	journalctl --no-pager -o cat -u "$unit"
	echo FAIL >/lab/result
	systemctl poweroff
	exit 1
}
step() { echo "== $*"; }
prop() { systemctl show -P "$1" "$unit"; }
until_true() { # SECONDS COMMAND...
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		"${@:2}" && return 0
		sleep 0.2
	done
	return 1
}
logged() { # PATTERN [MIN-COUNT]
	(($(journalctl --no-pager -o cat -u "$unit" | grep -c -- "$1") >= ${2:-1}))
}
active() { [ "$(prop ActiveState)" = active ]; }
inactive() { [ "$(prop ActiveState)" = inactive ]; }
restarted() { [ "$(prop NRestarts)" = 1 ] && active; }

# The units under test, as the test staged them in /lab/units.
cp -r /lab/units/. /etc/systemd/system/
systemctl daemon-reload
