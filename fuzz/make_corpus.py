#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Regenerates the seed corpora of the fuzz targets (fuzz/corpus/*) from the
project's own test material: the command sequences and restore files of
tests/differential.py, the example ruleset, and state files made by
restoring them.  Run from the top directory with a built build/bin."""

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import differential  # noqa: E402

EXTRA_ARGS = [
    "-A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT",
    "-A INPUT -p udp -m multiport --dports 53,67:68 -j ACCEPT",
    "-A INPUT -p icmp --icmp-type echo-request -m limit --limit 5/min --limit-burst 10 -j LOG --log-prefix \"IN: \" --log-level 6",
    "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -m comment --comment \"a b\" -j DROP",
    "-t nat -A PREROUTING -p tcp --dport 10000 -j REDIRECT --to-ports 20000",
    "-t nat -A POSTROUTING -o eth0 -j MASQUERADE --random",
    "-t nat -A PREROUTING -p tcp -d 1.2.3.4 -j DNAT --to-destination 10.0.0.1-10.0.0.9:8080-8090",
    "-t nat -A POSTROUTING -p udp -j SNAT --to-source 5.6.7.8:1000-2000 --persistent",
    "-t mangle -A PREROUTING -p icmp -j MARK --set-mark 100",
    "-t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -o enp0s3 -j TCPMSS --set-mss 1000",
    "-t mangle -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff",
    "-t raw -A OUTPUT -p icmp -j NOTRACK",
    "-t raw -A PREROUTING -j CT --zone 5",
    "-t raw -A PREROUTING -j TRACE",
    "-A INPUT -j REJECT --reject-with tcp-reset -p tcp",
    "-A OUTPUT -j NFLOG --nflog-group 5 --nflog-prefix x",
    "-A INPUT -m mark ! --mark 0x1/0xff -m connmark --mark 2 -m state --state INVALID -j DROP",
]


def write(dirname, content):
    os.makedirs(dirname, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    name = hashlib.sha1(content).hexdigest()[:16]
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(content)


def ip_packet(proto, payload, src="10.0.0.9", dst="10.0.0.1", ttl=64, frag=0x4000,
              ident=1, options=b""):
    import socket
    import struct
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload),
                      ident, frag, ttl, proto, 0, socket.inet_aton(src),
                      socket.inet_aton(dst)) + options
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    return hdr + payload


def packet_seeds():
    import struct
    syn = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0xa0, 0x02, 64240, 0, 0) + \
        bytes.fromhex("020405b40402080a000000010000000001030307")
    ping = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + bytes(range(56))
    udp = struct.pack("!HHHH", 53, 4000, 12, 0) + b"abcd"
    err = struct.pack("!BBHI", 3, 1, 0, 0) + ip_packet(17, udp, "10.0.0.1", "10.0.0.9")[:28]
    return [
        bytes([0]) + ip_packet(6, syn),
        bytes([0]) + ip_packet(6, syn, dst="10.1.0.7"),
        bytes([3]) + ip_packet(6, syn, src="0.0.0.0", dst="10.1.0.7"),
        bytes([1]) + ip_packet(1, ping, dst="10.0.0.1"),
        bytes([0]) + ip_packet(17, udp),
        bytes([0]) + ip_packet(1, err),
        bytes([0]) + ip_packet(17, udp + bytes(1500), dst="10.1.0.7", frag=0),
        bytes([0]) + ip_packet(17, udp[:4], frag=0x2000, ident=9),
        bytes([0]) + ip_packet(17, udp[4:], frag=0x0001, ident=9),
        bytes([2]) + ip_packet(1, ping, src="127.0.0.1", dst="127.0.0.1"),
        bytes([0]) + ip_packet(6, syn, ttl=1, dst="10.1.0.7"),
        bytes([0]) + ip_packet(1, ping, options=bytes([7, 7, 4, 0, 0, 0, 0, 1])),
    ]


def main():
    corpus = os.path.join(ROOT, "fuzz", "corpus")
    bindir = os.path.join(ROOT, "build", "bin")
    cmds = [c for _, seq in differential.SEQUENCES for c in seq
            if c.startswith("iptables ")]
    for c in cmds:
        write(os.path.join(corpus, "args"), "\n".join(shlex.split(c)[1:]))
    for c in EXTRA_ARGS:
        write(os.path.join(corpus, "args"), "\n".join(shlex.split(c)))
    restores = [open(os.path.join(ROOT, "examples", "centos7-firewalld.rules")).read()]
    restores += [content for _, content in differential.EXTRA_RESTORES]
    restores.append("*filter\n" + "\n".join(c for c in EXTRA_ARGS if not c.startswith("-t")) +
                    "\nCOMMIT\n")
    for i, text in enumerate(restores):
        write(os.path.join(corpus, "restore"), bytes([i % 16]) + text.encode())
    for p in packet_seeds():
        write(os.path.join(corpus, "packet"), p)
    for text in restores[:1] + restores[-1:]:
        with tempfile.TemporaryDirectory() as state:
            env = dict(os.environ, UXT_STATE=state)
            subprocess.run([os.path.join(bindir, "iptables-restore")], input=text.encode(),
                           env=env, check=False, capture_output=True)
            for c in EXTRA_ARGS:
                subprocess.run([os.path.join(bindir, "iptables")] + shlex.split(c),
                               env=env, capture_output=True)
            with open(os.path.join(state, "state"), "rb") as f:
                write(os.path.join(corpus, "state"), f.read())


if __name__ == "__main__":
    main()
