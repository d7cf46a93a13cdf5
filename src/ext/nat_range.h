/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAT ranges shared by DNAT, SNAT, MASQUERADE and REDIRECT.
 *
 * The data layouts are those of the kernel's <linux/netfilter/nf_nat.h>:
 * the IPv4 revision-0 targets (SNAT, MASQUERADE, REDIRECT) store a
 * "multi range compat" with one range, DNAT revision 2 stores a range2.
 * Parsing and printing follow iptables' libxt_NAT: the text of a range
 * ("1.2.3.4-1.2.3.9:1000-2000/3000") is parsed into a range2 and, for the
 * compat targets, copied into the compat layout per option.
 */
#ifndef UXT_NAT_RANGE_H
#define UXT_NAT_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ext.h"

/* range flags (NF_NAT_RANGE_*) */
#define UXT_NAT_RANGE_MAP_IPS 0x01
#define UXT_NAT_RANGE_PROTO_SPECIFIED 0x02
#define UXT_NAT_RANGE_PROTO_RANDOM 0x04
#define UXT_NAT_RANGE_PERSISTENT 0x08
#define UXT_NAT_RANGE_PROTO_RANDOM_FULLY 0x10
#define UXT_NAT_RANGE_PROTO_OFFSET 0x20
#define UXT_NAT_RANGE_NETMAP 0x40
#define UXT_NAT_RANGE_MASK 0x7F

/* union nf_conntrack_man_proto: the "port" of a tuple, network order */
union uxt_nat_proto {
	uint16_t all;
	struct {
		uint16_t port;
	} tcp, udp, dccp, sctp;
	struct {
		uint16_t id;
	} icmp;
	struct {
		uint16_t key;
	} gre;
};

/* union nf_inet_addr */
union uxt_nat_addr {
	uint32_t all[4];
	uint32_t ip;
	uint32_t ip6[4];
	uint8_t in6[16];
};

/* struct nf_nat_ipv4_range */
struct uxt_nat_ipv4_range {
	uint32_t flags;
	uint32_t min_ip;	/* network order */
	uint32_t max_ip;
	union uxt_nat_proto min;
	union uxt_nat_proto max;
};

/* struct nf_nat_ipv4_multi_range_compat (revision 0 targets) */
struct uxt_nat_ipv4_mrc {
	uint32_t rangesize;
	struct uxt_nat_ipv4_range range[1];
};

/* struct nf_nat_range2 (DNAT revision 2) */
struct uxt_nat_range2 {
	uint32_t flags;
	union uxt_nat_addr min_addr;
	union uxt_nat_addr max_addr;
	union uxt_nat_proto min_proto;
	union uxt_nat_proto max_proto;
	union uxt_nat_proto base_proto;
};

/* option ids, the same for the four targets */
enum {
	UXT_NAT_O_TO_DEST = 0,
	UXT_NAT_O_TO_SRC,
	UXT_NAT_O_TO_PORTS,
	UXT_NAT_O_RANDOM,
	UXT_NAT_O_RANDOM_FULLY,
	UXT_NAT_O_PERSISTENT,
};

/* One option of DNAT revision 2: parses straight into the range2. */
int uxt_nat_parse_range2(struct uxt_opt_call *call);
/* One option of a revision-0 target: parses into the compat layout. */
int uxt_nat_parse_mrc(struct uxt_opt_call *call);

/* Final checks of the revision-0 targets: SNAT and MASQUERADE set the
 * range count; DNAT and REDIRECT also refuse a /base port. */
int uxt_nat_fcheck_snat(struct uxt_fcheck_call *call);
int uxt_nat_fcheck_dnat(struct uxt_fcheck_call *call);

/*
 * Prints a range as libxt_NAT's __NAT_print: " <rangeopt><range>" when there
 * is something to print (the leading ':' left out when skip_colon), then the
 * flags, each as " <flag_pfx>random" etc.
 */
void uxt_nat_print_range2(struct uxt_buf *out, const struct uxt_nat_range2 *r,
			  const char *rangeopt, const char *flag_pfx,
			  bool skip_colon);
void uxt_nat_print_mrc(struct uxt_buf *out, const struct uxt_nat_ipv4_mrc *mr,
		       const char *rangeopt, const char *flag_pfx,
		       bool skip_colon);

/* Kernel checkentry of the revision-0 targets (rangesize must be 1;
 * no_map_ips: MASQUERADE and REDIRECT also refuse addresses). */
int uxt_nat_check_mrc(const struct uxt_check_call *call, bool no_map_ips);

/* Packet side: the range NAT works with (src/lib/ct/nat.h), from a
 * record.  xt_nat_convert_range(): a compat range has no base port. */
struct uxt_nat_range;
void uxt_nat_range_from_compat(struct uxt_nat_range *dst,
			       const struct uxt_nat_ipv4_range *src);
void uxt_nat_range_from_range2(struct uxt_nat_range *dst,
			       const struct uxt_nat_range2 *src);

#endif
