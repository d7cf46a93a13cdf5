# SPDX-License-Identifier: BSD-2-Clause
"""The kernel side: a ruleset loaded with iptables-legacy-restore into dut,
packets sent over the veth links (or from a raw socket inside dut), and
everything that can be observed afterwards, per case:

  frames    what left dut: AF_PACKET sockets in client and server (bound to
            their eth0, frames coming from dut) and one on dut's lo
            (outgoing frames: looped-back datagrams).  A TCP or UDP
            checksum the kernel left to the device (CHECKSUM_PARTIAL, flagged
            in PACKET_AUXDATA) is completed as the device would.
  log       /dev/kmsg records that belong to this run: lines whose prefix
            carries the run's token, or that name one of dut's interfaces,
            or that are about lo and this test bed's addresses (LOG without
            a prefix, TRACE).  Formatted as "<level>text", as dmesg -r
            shows them without the timestamp.
  nflog     nfnetlink_log messages of the groups the rulesets use (a socket
            in dut bound to each group, queue threshold 1), as the payload
            after the netlink header, which is what DLT_NFLOG records hold.
  counters  iptables-legacy-save -c in dut.

A case is over when dut has answered an ARP request on each link: a frame
sent over a veth is handled in the softirq of the sender, in order, so what
the case's frames caused has been sent by then (every wait is bounded).
"""

import errno
import os
import select
import socket
import struct
import time

from . import netns as N
from .compare import log_line_collected
from .netns import mac_bytes
from .pkt import ETH_P_ARP, ETH_P_IP, arp_request, finish_l4_csum, ip2b

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_CSUMNOTREADY = 0x8

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1
NFULA_CFG_CMD = 1
NFULA_CFG_MODE = 2
NFULA_CFG_QTHRESH = 5
NFULNL_CFG_CMD_BIND = 1
NFULNL_COPY_PACKET = 2

BARRIER_TIMEOUT = 2.0


class KernelError(Exception):
    pass


def _nla(atype, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, atype) + payload + b"\0" * (-ln % 4)


class Kernel:
    def __init__(self, topo, token, nflog_groups=()):
        self.topo = topo
        self.token = token
        self.client = self._tap(topo.client, "eth0")
        self.server = self._tap(topo.server, "eth0")
        self.lo = self._tap(topo.dut, "lo")
        self.raw = topo.dut.socket(socket.AF_INET, socket.SOCK_RAW,
                                   socket.IPPROTO_RAW)
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.kmsg = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.kmsg, 0, os.SEEK_END)
        self.overruns = 0               # kernel log records lost
        self.nflog = None
        if nflog_groups:
            self._nflog_open(nflog_groups)
        self.mac_client = mac_bytes(N.MAC_CLIENT)
        self.mac_server = mac_bytes(N.MAC_SERVER)
        self.names = (topo.dut_a, topo.dut_b)
        self._held = {}                 # frames read while waiting for ARP

    # --- sockets ----------------------------------------------------------

    def _tap(self, ns, dev):
        s = ns.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        with ns.entered():
            s.bind((dev, ETH_P_ALL))
        s.setblocking(False)
        return s

    def _nflog_open(self, groups):
        s = self.topo.dut.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                 NETLINK_NETFILTER)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((0, 0))
        seq = 1
        for g in groups:
            attrs = _nla(NFULA_CFG_CMD, struct.pack("B", NFULNL_CFG_CMD_BIND))
            self._nl_config(s, g, attrs, seq)
            seq += 1
            attrs = _nla(NFULA_CFG_MODE, struct.pack("!IBB", 0xFFFF,
                                                     NFULNL_COPY_PACKET, 0))
            attrs += _nla(NFULA_CFG_QTHRESH, struct.pack("!I", 1))
            self._nl_config(s, g, attrs, seq)
            seq += 1
        s.setblocking(False)
        self.nflog = s

    @staticmethod
    def _nl_config(s, group, attrs, seq):
        body = struct.pack("!BBH", socket.AF_INET, 0, group) + attrs
        hdr = struct.pack("=IHHII", 16 + len(body),
                          (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
                          1 | 4, seq, 0)                 # REQUEST | ACK
        s.send(hdr + body)
        s.settimeout(2.0)
        data = s.recv(65536)
        s.settimeout(None)
        ln, typ, _fl, _seq, _pid = struct.unpack("=IHHII", data[:16])
        if typ == 2:                                     # NLMSG_ERROR
            err = struct.unpack("=i", data[16:20])[0]
            if err:
                raise KernelError("nfnetlink_log config of group %d: %s" % (
                    group, os.strerror(-err)))

    def close(self):
        for s in (self.client, self.server, self.lo, self.raw, self.nflog):
            if s is not None:
                s.close()
        os.close(self.kmsg)

    # --- the ruleset ------------------------------------------------------

    def load(self, text):
        rc, _out, err = self.topo.dut.run(["iptables-legacy-restore"],
                                          stdin=text.encode())
        if rc != 0:
            raise KernelError("iptables-legacy-restore refused the ruleset: "
                              + err.decode("utf-8", "replace").strip())

    def save(self):
        rc, out, err = self.topo.dut.run(["iptables-legacy-save", "-c"])
        if rc != 0:
            raise KernelError("iptables-legacy-save: " +
                              err.decode("utf-8", "replace").strip())
        return out.decode("utf-8", "replace")

    # --- one case ---------------------------------------------------------

    def drain(self):
        """Forgets whatever is pending (before a case)."""
        for s in (self.client, self.server, self.lo):
            self._frames(s)
        self.read_log()
        self.read_nflog()

    def send(self, direction, frame):
        """Sends one input: an Ethernet frame from client ('c') or server
        ('s'), or an IP datagram from a raw socket in dut ('l').  Returns
        None, or the error the sending socket got.  EPERM on the raw socket
        is a table's DROP in OUTPUT or POSTROUTING (the datagram was sent
        through them); any other error means it never reached them."""
        try:
            if direction == "c":
                self.client.send(frame)
            elif direction == "s":
                self.server.send(frame)
            else:
                dst = socket.inet_ntoa(frame[16:20])
                self.raw.sendto(frame, (dst, 0))
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))
        return None

    def barrier(self):
        """Returns once dut answered ARP on both links (bounded)."""
        for sock, mac, sip, tip in (
                (self.client, self.mac_client, N.CLIENT_IP, N.DUT_A_IP),
                (self.server, self.mac_server, N.SERVER_IP, N.DUT_B_IP)):
            sock.send(arp_request(mac, sip, tip))
        pending = {self.client: [], self.server: []}
        want = {self.client: ip2b(N.DUT_A_IP), self.server: ip2b(N.DUT_B_IP)}
        got = set()
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while len(got) < 2:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelError("dut did not answer ARP within %.0fs"
                                  % BARRIER_TIMEOUT)
            r, _, _ = select.select([s for s in pending if s not in got],
                                    [], [], left)
            for s in r:
                for fr, proto, status in self._recv_all(s):
                    if proto == ETH_P_ARP and len(fr) >= 42 and \
                            fr[20:22] == b"\0\x02" and fr[28:32] == want[s]:
                        got.add(s)
                    else:
                        pending[s].append((fr, proto, status))
        self._held = pending

    def collect(self):
        """What left dut since drain(): {dev: [datagram, ...]}."""
        out = {}
        held = self._held
        for sock, dev in ((self.client, self.topo.dut_a),
                          (self.server, self.topo.dut_b), (self.lo, "lo")):
            frames = self._frames(sock, first=held.get(sock, []))
            if frames:
                out[dev] = frames
        self._held = {}
        return out

    def _recv_all(self, s):
        res = []
        while True:
            try:
                data, anc, _fl, addr = s.recvmsg(65600, 64)
            except BlockingIOError:
                return res
            if addr[2] == PACKET_OUTGOING and s is not self.lo:
                continue
            if s is self.lo and addr[2] != PACKET_OUTGOING:
                continue
            status = 0
            for lvl, typ, val in anc:
                if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
                    status = struct.unpack("=I", val[:4])[0]
            res.append((data, addr[1], status))

    def _frames(self, s, first=()):
        out = []
        for data, proto, status in list(first) + self._recv_all(s):
            if proto != ETH_P_IP:
                continue
            d = data[14:]
            if status & TP_STATUS_CSUMNOTREADY:
                d = finish_l4_csum(d)
            out.append(d)
        return out

    def read_log(self):
        """This run's new kernel log lines, as "<level>text"."""
        lines = []
        while True:
            try:
                rec = os.read(self.kmsg, 8192)
            except BlockingIOError:
                return lines
            except OSError as e:
                if e.errno == errno.EPIPE:      # overwritten: read on
                    self.overruns += 1
                    continue
                raise
            head, _, body = rec.decode("utf-8", "replace").partition(";")
            text = _unescape(body.split("\n", 1)[0])
            try:
                prio = int(head.split(",")[0])
            except ValueError:
                continue
            if prio >> 3:                       # not from the kernel
                continue
            if self._ours(text):
                lines.append("<%d>%s" % (prio & 7, text))

    def _ours(self, text):
        return log_line_collected(text, self.token, self.names)

    def read_nflog(self):
        """NFLOG messages since the last read: [(group, payload)]."""
        res = []
        if self.nflog is None:
            return res
        while True:
            try:
                data = self.nflog.recv(1 << 20)
            except BlockingIOError:
                return res
            pos = 0
            while pos + 16 <= len(data):
                ln, typ, _f, _s, _p = struct.unpack("=IHHII",
                                                    data[pos:pos + 16])
                if ln < 16:
                    break
                if typ == (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET:
                    body = data[pos + 16:pos + ln]
                    group = struct.unpack("!H", body[2:4])[0]
                    res.append((group, body))
                pos += (ln + 3) & ~3


def _unescape(s):
    if "\\x" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s.startswith("\\x", i) and i + 4 <= len(s):
            try:
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            except ValueError:
                pass
        out.append(s[i])
        i += 1
    return "".join(out)

