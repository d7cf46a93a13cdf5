# SPDX-License-Identifier: BSD-2-Clause
"""The test bed: kdiff's three namespaces (client - dut - server, see
tests/kdiff/netns.py), changed for connection tracking, and the
conntrack-tools commands run in dut.

Changes to kdiff's dut:
  - The sink.  kdiff drops what dut's tables deliver locally in an
    iptables-nft security INPUT chain (priority 150), so that dut's own
    stack never answers.  That is before conntrack's confirm (INT_MAX): a
    flow to dut would never enter the table.  Here the sink is an nftables
    chain at priority INT_MAX, created before conntrack's hooks are
    registered; a hook of equal priority registered later is put in front
    of it, so confirm runs first and the entry (and its [NEW] event)
    exists, and then the packet is dropped where uxtables stops (at the
    socket).  Checked once when the bed is built (check_confirm).
  - Conntrack always active: an nftables rule with a ct expression (in a
    chain no hook reaches) keeps conntrack's hooks registered from the
    start, so that they are there before the sink and stay while
    iptables-legacy-restore replaces rulesets.  Every generated ruleset has
    conntrack rules anyway, so uxtables (conntrack active while the
    ruleset needs it) sees the same.
  - Every TCP/UDP/ICMP packet dut receives is one the harness sent: the
    ends stay silent (kdiff), and dut's stack never answers (the sink).
  - Every address of both links (x.x.1.2-254, x.x.2.2-254) is a permanent
    neighbour (kdiff has .2-.20), so that dut never waits for ARP.

The conntrack-tools side (kernel only): -F between batches, -L after one,
-E during one.  -E is bracketed by markers: an entry inserted with
conntrack -I (addresses no flow uses, MARK_NET) whose [NEW] line shows the
listener is reading; at the end another marker whose line shows that every
event before it has been printed.  Marker lines are dropped.
"""

import ctypes
import os
import select
import signal
import subprocess
import time

from kdiff import netns as N
from kdiff.netns import Topology

SINK = b"""table ip ctdiff_sink {
    chain in {
        type filter hook input priority 2147483647; policy accept;
        drop
    }
}
"""
KEEP = b"""table ip ctdiff_keep {
    chain keep {
        ct state established accept
    }
}
"""
MARK_NET = "10.77.250."
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
EVENT_TIMEOUT = 5.0
CMD_TIMEOUT = 30


class BedError(Exception):
    pass


class Bed:
    def __init__(self, suffix=None):
        self.topo = Topology(1500, 1500, suffix=suffix)
        self.marker_port = 0
        try:
            self._setup()
        except BaseException:
            self.topo.close()
            raise

    @property
    def dut(self):
        return self.topo.dut

    def _setup(self):
        d = self.dut
        # every address of the two links is a permanent neighbour (kdiff
        # has .2-.20): NAT addresses outside that range (10.77.2.50, ...)
        # are destinations too, of a reply that was not un-NATed (INVALID,
        # untracked), and dut must never wait for ARP (nothing answers, and
        # a host unreachable would follow seconds later)
        cmds = []
        for i in range(2, 255):
            if i in N.NEIGH_RANGE:
                continue
            cmds.append("neigh replace %s.1.%d lladdr %s nud permanent dev "
                        "%s" % (N.NET, i, N.MAC_CLIENT, self.topo.dut_a))
            cmds.append("neigh replace %s.2.%d lladdr %s nud permanent dev "
                        "%s" % (N.NET, i, N.MAC_SERVER, self.topo.dut_b))
        p = subprocess.run(["ip", "-n", d.name, "-batch", "-"],
                           input="\n".join(cmds).encode(),
                           capture_output=True, timeout=CMD_TIMEOUT)
        if p.returncode != 0:
            raise BedError("ip -batch (neighbours): %s" % p.stderr.decode(
                "utf-8", "replace").strip()[:300])
        d.run(["nft", "delete", "table", "ip", "security"], check=True)
        d.run(["nft", "-f", "-"], stdin=SINK, check=True)
        d.run(["nft", "-f", "-"], stdin=KEEP, check=True)

    def unresolved(self):
        """Neighbour entries of dut that are not permanent: addresses dut
        had to resolve (a harness fault: nothing answers ARP)."""
        rc, out, _e = self.dut.run(["ip", "neigh", "show", "nud", "all"])
        return [x for x in out.decode("utf-8", "replace").splitlines()
                if x.strip() and "PERMANENT" not in x and
                "NOARP" not in x]

    def close(self, keep_namespaces=False):
        self.topo.close(keep_namespaces=keep_namespaces)

    # --- conntrack-tools in dut ---------------------------------------------

    def conntrack(self, args, check=True):
        rc, out, err = self.dut.run(["conntrack"] + list(args),
                                    timeout=CMD_TIMEOUT)
        if check and rc != 0:
            raise BedError("conntrack %s: exit %d: %s" % (
                " ".join(args), rc, err.decode("utf-8", "replace").strip()))
        return out.decode("utf-8", "replace")

    def flush(self):
        self.conntrack(["-F"])

    def listing(self):
        """conntrack -L: (lines without the markers, time taken)."""
        t = time.time()
        out = self.conntrack(["-L"])
        return [x for x in out.splitlines()
                if x.strip() and MARK_NET not in x], t

    def insert_marker(self):
        self.marker_port += 1
        port = self.marker_port
        self.conntrack(["-I", "-p", "udp", "-s", MARK_NET + "1", "-d",
                        MARK_NET + "2", "--sport", "1", "--dport", str(port),
                        "-t", "30", "-u", "SEEN_REPLY"])
        return "dport=%d " % port

    def delete_markers(self):
        self.conntrack(["-D", "-s", MARK_NET + "1"], check=False)

    def check_confirm(self, kernel):
        """A datagram to dut must leave a conntrack entry (the sink runs
        after confirm)."""
        from .flows import MAC
        from kdiff.pkt import ipv4, udp
        d = self.dut
        d.run(["iptables-legacy-restore"], stdin=b"*raw\n:PREROUTING ACCEPT "
              b"[0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -m conntrack "
              b"--ctstate NEW\nCOMMIT\n", check=True)
        self.flush()
        src, dst = N.CLIENT_IP, N.DUT_A_IP
        me, peer = MAC["c"]
        kernel.send("c", me + peer + b"\x08\x00" + ipv4(
            src, dst, 17, udp(src, dst, 999, 999, b"probe"), ident=7))
        kernel.barrier()
        kernel.collect()
        lines, _t = self.listing()
        self.flush()
        if not any("sport=999 dport=999" in x for x in lines):
            raise BedError("a datagram delivered to dut left no conntrack "
                           "entry: the sink in dut's INPUT runs before "
                           "conntrack's confirm")


def child_setup(fd):
    """In a child before exec: into the namespace, and killed with its
    parent (a listener must not outlive a run that was killed)."""
    N.setns(fd)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Events:
    """conntrack -E in dut for one batch."""

    def __init__(self, bed):
        self.bed = bed
        fd = bed.dut.fd
        self.p = subprocess.Popen(
            ["conntrack", "-E"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            preexec_fn=lambda: child_setup(fd))
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""
        try:
            # the listener subscribes some time after it starts: markers
            # until one shows
            deadline = time.monotonic() + EVENT_TIMEOUT
            while True:
                tag = bed.insert_marker()
                try:
                    self._wait_for(tag, 0.25)
                    break
                except BedError:
                    if time.monotonic() > deadline:
                        raise
            bed.delete_markers()
        except BaseException:
            self.stop()
            raise

    def _read(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.p.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            return None
        self.buf += data
        return True

    def pump(self):
        """Reads what is there (keeps the pipe from filling)."""
        while self._read(0):
            pass

    def _wait_for(self, tag, timeout=EVENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while tag.encode() not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BedError("conntrack -E did not show the marker "
                               "within %.2fs" % timeout)
            if self._read(left) is None:
                raise BedError("conntrack -E ended: %s" % self.p.stderr.read(
                    ).decode("utf-8", "replace").strip())

    def finish(self):
        """Every event so far, as lines (markers dropped)."""
        tag = self.bed.insert_marker()
        self._wait_for(tag)
        self.stop()
        self.bed.delete_markers()
        lines = self.buf.decode("utf-8", "replace").splitlines()
        return [x for x in lines if x.strip() and MARK_NET not in x]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=3)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
