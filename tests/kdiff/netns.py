# SPDX-License-Identifier: BSD-2-Clause
"""The test bed: three network namespaces joined by two veth links.

    client  eth0 ---- <dut>c  dut  <dut>s ---- eth0  server
    10.77.1.2/24   10.77.1.1/24   10.77.2.1/24   10.77.2.2/24
            (link A, MTU mtu_a)           (link B, MTU mtu_b)

dut forwards; its routes: the two connected subnets, 10.77.3.0/24 via the
server, 10.77.4.0/24 via the client, a blackhole 10.77.6.0/24 and a default
route via the server.  Every neighbour a packet can be sent to is a
permanent entry (10.77.1.2-20 on link A, 10.77.2.2-20 on link B), so dut
never has to resolve an address and nothing waits on ARP.  MAC addresses
are fixed, so LOG's MAC= is the same from run to run.

The namespace and interface names carry a random suffix, so that several
runs (and the LOG lines they cause) do not meet; namespace names also carry
the pid, and a new run deletes those of runs that were killed.

Settings that make the kernel's behaviour a function of the packets alone:
  - IPv6 off everywhere (no router solicitations, DAD or MLD on the links);
  - in dut: forwarding on, rp_filter and send_redirects off, icmp_ratemask 0
    (no ICMP rate limit), ipfrag_time 3600 and a large ipfrag_high_thresh
    (an incomplete datagram never expires nor is evicted while the suite
    runs), and a sink after every iptables INPUT chain (an iptables-nft
    security INPUT chain, priority 150, dropping everything) so that the
    local stack never answers what the tables delivered (no port
    unreachable, RST or echo reply: uxtables stops at the socket too);
  - in client and server: iptables-legacy raw PREROUTING and OUTPUT drop
    everything, so they never answer what dut sends them (AF_PACKET sockets
    see frames before that);
  - net.netfilter.nf_log_all_netns=1 (global; the old value is restored).

The process enters namespaces with setns(2) (through ctypes: Python 3.11 has
no os.setns) to open sockets in them and to run commands there; a socket
stays in the namespace it was created in.  Everything is removed on close(),
which Topology's context manager calls also on failure; the suite turns
SIGTERM into an exception so that Ctrl-C and kill clean up as well.
"""

import contextlib
import ctypes
import os
import re
import subprocess
import uuid

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

NF_LOG_ALL_NETNS = "/proc/sys/net/netfilter/nf_log_all_netns"
CMD_TIMEOUT = 30


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class Netns:
    """A named network namespace (ip netns add), entered with setns."""

    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True,
                       capture_output=True, timeout=CMD_TIMEOUT)
        self.fd = os.open("/run/netns/" + name, os.O_RDONLY)

    @contextlib.contextmanager
    def entered(self):
        """Runs the body inside the namespace (sockets made there stay)."""
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            setns(self.fd)
            yield
        finally:
            setns(home)
            os.close(home)

    def socket(self, *args):
        import socket
        with self.entered():
            return socket.socket(*args)

    def run(self, argv, stdin=None, env=None, timeout=CMD_TIMEOUT,
            check=False):
        """Runs argv inside the namespace; returns (rc, stdout, stderr) as
        bytes.  Cheaper than 'ip netns exec' (no /sys remount)."""
        fd = self.fd
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           env=env, timeout=timeout,
                           preexec_fn=lambda: setns(fd))
        if check and p.returncode != 0:
            raise RuntimeError("%s in %s: exit %d: %s" % (
                " ".join(argv), self.name, p.returncode,
                p.stderr.decode("utf-8", "replace").strip()))
        return p.returncode, p.stdout, p.stderr

    def sysctl(self, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        with self.entered():
            with open(path, "w") as f:
                f.write(str(value))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True,
                       timeout=CMD_TIMEOUT)


# Fixed addresses (the suite's packets and rules are drawn from these).
NET = "10.77"
CLIENT_IP = NET + ".1.2"
DUT_A_IP = NET + ".1.1"
DUT_B_IP = NET + ".2.1"
SERVER_IP = NET + ".2.2"
MAC_DUT_A = "02:00:0a:4d:01:01"
MAC_CLIENT = "02:00:0a:4d:01:02"
MAC_DUT_B = "02:00:0a:4d:02:01"
MAC_SERVER = "02:00:0a:4d:02:02"
NEIGH_RANGE = range(2, 21)


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


_NS_NAME = re.compile(r"^kd[cds]-(\d+)-[0-9a-f]+$")


def remove_stale():
    """Deletes the namespaces of runs killed before they could clean up
    (their pid is gone)."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        m = _NS_NAME.match(name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue                    # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        subprocess.run(["ip", "netns", "del", name], capture_output=True,
                       timeout=CMD_TIMEOUT)


class Topology:
    """client - dut - server, set up in __init__, torn down by close()."""

    def __init__(self, mtu_a=1500, mtu_b=1400, suffix=None):
        remove_stale()
        self.suffix = suffix or uuid.uuid4().hex[:6]
        # namespace names carry the pid, so that remove_stale() can tell
        # the leftovers of a killed run
        self.ns_suffix = "%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
        s = self.suffix
        self.mtu_a, self.mtu_b = mtu_a, mtu_b
        # dut's interface names share the prefix "kd<suffix>" (for -i kd..+)
        self.dut_a = "kd%sc" % s
        self.dut_b = "kd%ss" % s
        self.ns = []
        self.old_log_all = None
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, capture_output=True,
                       timeout=CMD_TIMEOUT)

    def _build(self):
        s = self.ns_suffix
        self.client = Netns("kdc-" + s)
        self.ns.append(self.client)
        self.dut = Netns("kdd-" + s)
        self.ns.append(self.dut)
        self.server = Netns("kds-" + s)
        self.ns.append(self.server)
        for n in self.ns:
            n.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
            n.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
            self._ip("-n", n.name, "link", "set", "lo", "up")
        d, c, v = self.dut.name, self.client.name, self.server.name
        self._ip("link", "add", self.dut_a, "netns", d, "mtu", str(self.mtu_a),
                 "address", MAC_DUT_A, "type", "veth", "peer", "name", "eth0",
                 "netns", c, "mtu", str(self.mtu_a), "address", MAC_CLIENT)
        self._ip("link", "add", self.dut_b, "netns", d, "mtu", str(self.mtu_b),
                 "address", MAC_DUT_B, "type", "veth", "peer", "name", "eth0",
                 "netns", v, "mtu", str(self.mtu_b), "address", MAC_SERVER)
        for key in ("all", "default"):
            self.dut.sysctl("net.ipv4.conf.%s.rp_filter" % key, 0)
            self.dut.sysctl("net.ipv4.conf.%s.send_redirects" % key, 0)
        self.dut.sysctl("net.ipv4.ip_forward", 1)
        self.dut.sysctl("net.ipv4.icmp_ratemask", 0)
        self.dut.sysctl("net.ipv4.ipfrag_high_thresh", 256 << 20)
        self.dut.sysctl("net.ipv4.ipfrag_time", 3600)
        for dev in (self.dut_a, self.dut_b):
            self.dut.sysctl("net.ipv4.conf.%s.rp_filter" % dev, 0)
            self.dut.sysctl("net.ipv4.conf.%s.send_redirects" % dev, 0)
        self._ip("-n", d, "addr", "add", DUT_A_IP + "/24", "dev", self.dut_a)
        self._ip("-n", d, "addr", "add", DUT_B_IP + "/24", "dev", self.dut_b)
        self._ip("-n", c, "addr", "add", CLIENT_IP + "/24", "dev", "eth0")
        self._ip("-n", v, "addr", "add", SERVER_IP + "/24", "dev", "eth0")
        for ns, dev in ((d, self.dut_a), (d, self.dut_b), (c, "eth0"),
                        (v, "eth0")):
            self._ip("-n", ns, "link", "set", dev, "up")
        for i in NEIGH_RANGE:
            self._ip("-n", d, "neigh", "replace", "%s.1.%d" % (NET, i),
                     "lladdr", MAC_CLIENT, "nud", "permanent", "dev",
                     self.dut_a)
            self._ip("-n", d, "neigh", "replace", "%s.2.%d" % (NET, i),
                     "lladdr", MAC_SERVER, "nud", "permanent", "dev",
                     self.dut_b)
        self._ip("-n", c, "neigh", "replace", DUT_A_IP, "lladdr", MAC_DUT_A,
                 "nud", "permanent", "dev", "eth0")
        self._ip("-n", v, "neigh", "replace", DUT_B_IP, "lladdr", MAC_DUT_B,
                 "nud", "permanent", "dev", "eth0")
        self._ip("-n", d, "route", "add", NET + ".3.0/24", "via", SERVER_IP)
        self._ip("-n", d, "route", "add", NET + ".4.0/24", "via", CLIENT_IP)
        self._ip("-n", d, "route", "add", "blackhole", NET + ".6.0/24")
        self._ip("-n", d, "route", "add", "default", "via", SERVER_IP)
        # the ends stay silent
        quiet = ("*raw\n:PREROUTING DROP [0:0]\n:OUTPUT DROP [0:0]\n"
                 "COMMIT\n").encode()
        for n in (self.client, self.server):
            n.run(["iptables-legacy-restore"], stdin=quiet, check=True)
        # the sink after the tables in dut's INPUT
        self.dut.run(["iptables-nft", "-t", "security", "-A", "INPUT", "-j",
                      "DROP"], check=True)
        with open(NF_LOG_ALL_NETNS) as f:
            self.old_log_all = f.read().strip()
        self.assert_log_all()

    def assert_log_all(self):
        """(Re)enables logging from namespaces; cheap, done per case in
        case another process (another run ending) turned it off."""
        with open(NF_LOG_ALL_NETNS, "w") as f:
            f.write("1")

    @staticmethod
    def log_all():
        with open(NF_LOG_ALL_NETNS) as f:
            return f.read().strip() == "1"

    def ifindex(self, dev):
        import socket
        with self.dut.entered():
            return socket.if_nametoindex(dev)

    def close(self, keep_namespaces=False):
        if self.old_log_all is not None:
            try:
                with open(NF_LOG_ALL_NETNS, "w") as f:
                    f.write(self.old_log_all)
            except OSError:
                pass
            self.old_log_all = None
        if keep_namespaces:
            return
        for n in reversed(self.ns):
            n.close()
        self.ns = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
