/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One-line summaries of IPv4 datagrams as `tcpdump -n -S` prints them
 * (tcpdump 4.99), without the timestamp and link-layer part:
 *
 *   IP 192.168.0.1.40000 > 192.168.0.10.80: Flags [S], seq 1, win 64240,
 *      options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
 *   IP 192.168.0.1 > 192.168.0.10: ICMP echo request, id 1, seq 1, length 64
 *   IP 192.168.0.10 > 192.168.0.1: ICMP 192.168.0.10 udp port 9 unreachable,
 *      length 36
 *
 * TCP, UDP and ICMP are decoded as tcpdump decodes them; application
 * protocols are not (tcpdump adds ": HTTP" and the like after the length,
 * decodes DNS, DHCP...), other IP protocols are named by number
 * ("ip-proto-47 8").  Sequence numbers are absolute (tcpdump's -S).
 * Truncated headers end in "[|tcp]" as tcpdump marks them.  Any byte
 * string is safe to print.
 */
#ifndef UXT_PKTPRINT_H
#define UXT_PKTPRINT_H

#include <stddef.h>

#include "buf.h"

/* Appends the summary of the datagram at data (len bytes, no newline). */
void uxt_pkt_summary(struct uxt_buf *b, const unsigned char *data, size_t len);

#endif
