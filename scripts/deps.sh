#!/bin/sh
# Installs the Debian packages uxtables builds and tests with, when missing.
# Needs root (apt-get); without it, says what is missing and goes on.
set -e
PKGS="gcc make clang libclang-rt-14-dev python3 iptables iproute2 conntrack tcpdump tshark iputils-ping util-linux netcat-openbsd libpcap-dev libmnl-dev hyperfine xz-utils nftables dnsmasq-base bind9-dnsutils curl"
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q $missing >/dev/null
}
