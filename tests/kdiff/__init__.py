# SPDX-License-Identifier: BSD-2-Clause
"""The kernel differential suite of the packet path (tests/kernel_diff.py).

  netns.py    the test bed: client - dut - server namespaces, veth links,
              the settings that make the kernel deterministic, setns(2)
  gen.py      rulesets and packets, deterministic from (seed, batch)
  pkt.py      packet bytes (IPv4/TCP/UDP/ICMP, fragments), pcap files
  kernel.py   the kernel side: load, send, capture, kernel log, NFLOG,
              counters
  uxt.py      the uxtables side: iptables-restore, uxt replay, iptables-save
  compare.py  normalisation and comparison
  suite.py    the run: batches, results, reports
"""
