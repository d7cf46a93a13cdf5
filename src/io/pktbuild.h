/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Building one IPv4 datagram from iptables-style options (uxt inject).
 *
 * The options are collected in a struct uxt_pkt_spec, one at a time as the
 * command line gives them (uxt_pkt_spec_option, which knows the option
 * names and their iptables spellings), then checked, completed with the
 * addresses the caller chose, and built.  What is not given takes the value
 * the usual packet of its kind has on a Linux host:
 *
 *   ICMP echo request  84 bytes as ping(8) makes it: id 1, seq 1, 56 data
 *                      bytes = a struct timeval of the clock (x86-64 byte
 *                      order) and then bytes 0x10, 0x11, ... (byte i of the
 *                      data is i & 0xff), DF set
 *   TCP                a SYN of 60 bytes: seq 1, window 64240, options
 *                      mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7;
 *                      other segments carry nop,nop,TS (RST: no options,
 *                      window 0); sport 40000, dport 80, DF set
 *   UDP                sport 40000, dport 9, no data, DF set
 *   other ICMP types   errors quote a UDP datagram from the destination to
 *                      the source (IP header and 8 bytes, as icmp_send
 *                      quotes), queries have their usual bodies
 *   other protocols    the IP header and the payload only
 *
 * TTL 64, TOS 0, IP ID 1 (0 for a locally sent datagram without --id: the
 * namespace then gives it one, as the kernel does for a raw socket).
 * --length (IP total length) pads with the kind's data pattern or zeros,
 * or cuts the payload; --payload replaces the data.
 *
 * Library code: errors are returned in a struct uxt_err, nothing is
 * printed.
 */
#ifndef UXT_PKTBUILD_H
#define UXT_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "host.h"
#include "pkt.h"

struct uxt_pkt_spec {
	uint32_t saddr, daddr;		/* network order */
	bool have_saddr, have_daddr;
	uint8_t proto;			/* IPPROTO_*; ICMP unless given */
	bool have_proto;
	const char *sport_arg, *dport_arg; /* resolved by uxt_pkt_spec_check */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	bool have_tcp_flags;
	uint8_t icmp_type, icmp_code;
	bool have_icmp_type;
	long length;			/* IP total length, -1: the default */
	uint8_t ttl, tos;
	uint16_t ip_id;
	bool have_ip_id;
	bool df, have_df;
	uint32_t mark;
	unsigned char *payload;		/* owned, --payload */
	size_t payload_len;
	bool have_payload;
	uint64_t time_ns;		/* the clock, for ping's timestamp */
};

void uxt_pkt_spec_init(struct uxt_pkt_spec *s);
void uxt_pkt_spec_free(struct uxt_pkt_spec *s);

/*
 * Applies one packet option given by its long name without dashes
 * ("source", "destination", "protocol", "sport", "dport", "tcp-flags",
 * "icmp-type", "length", "ttl", "tos", "id", "df", "mark", "payload") and
 * its argument (NULL for "df").  Returns 0, or -1 with err set
 * (UXT_PARAMETER_PROBLEM).
 */
int uxt_pkt_spec_option(struct uxt_pkt_spec *s, const char *name,
			const char *arg, struct uxt_err *err);

/* After the last option: combinations and ports.  0 or -1 with err. */
int uxt_pkt_spec_check(struct uxt_pkt_spec *s, struct uxt_err *err);

/*
 * Builds the datagram into pkt (which owns its buffer afterwards).  Both
 * addresses must be set by then (a zero source is allowed for a locally
 * sent datagram: the namespace fills it in, but the transport checksum is
 * then computed over 0.0.0.0).  Sets the mark.  0 or -1 with err.
 */
int uxt_pkt_build(const struct uxt_pkt_spec *s, struct uxt_pkt *pkt,
		  struct uxt_err *err);

/*
 * Gives a datagram received on dev the link-layer header the kernel would
 * have seen, and its packet type (eth_type_trans): Ethernet with dev's MAC
 * as destination (broadcast or multicast MAC for such destinations) and a
 * locally administered source 02:00:<source address>; lo's all-zero
 * header; nothing for devices without a link-layer header.
 */
void uxt_pkt_set_rx_link(struct uxt_pkt *pkt, const struct uxt_host *host,
			 const struct uxt_iface *dev);

/*
 * A source address for a datagram received on dev when none was given:
 * the first address of dev's first subnet that is not one of dev's own
 * (so it is a neighbour), or 10.0.0.1 when dev has no address.
 */
uint32_t uxt_pkt_neighbour_addr(const struct uxt_iface *dev);

#endif
