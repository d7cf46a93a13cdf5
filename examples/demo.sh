#!/bin/sh
# make demo: restores firewalld's default CentOS 7 ruleset into a fresh
# state and lists it as sections 4 and 5 of the seed do.
set -e
bin=$(cd "${1:-build/bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
UXT_STATE=$(mktemp -d /tmp/uxt-demo-XXXXXX)
export UXT_STATE
trap 'rm -rf "$UXT_STATE"' EXIT

run() {
	echo "# $*"
	"$bin/$@" || true
	echo
}

echo "# iptables-restore < examples/centos7-firewalld.rules"
"$bin/iptables-restore" < "$here/centos7-firewalld.rules"
echo
run iptables -L INPUT
run iptables -L OUTPUT
run iptables -L FORWARD
run iptables -t nat -L PREROUTING
run iptables -t nat -L POSTROUTING
run iptables -t nat -nvL RAW
run iptables -nL OUTPUT
run iptables -vL INPUT
run iptables -L INPUT --line-numbers
run iptables-save
