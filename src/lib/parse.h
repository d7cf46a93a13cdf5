/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the command line and the extensions: numbers, ports,
 * protocols, interfaces, addresses, marks, quoting and counter formatting,
 * each with the exact acceptance rules and messages of libxtables 1.8.9.
 *
 * Name lookups (services, protocols, hosts, networks) go through the system
 * resolver as iptables' do, so -L without -n prints what iptables prints on
 * the same host.
 */
#ifndef UXT_PARSE_H
#define UXT_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "ext.h"

/* Listing format flags (FMT_* of xtables.h). */
#define UXT_FMT_NUMERIC 0x0001
#define UXT_FMT_NOCOUNTS 0x0002
#define UXT_FMT_KILOMEGAGIGA 0x0004
#define UXT_FMT_OPTIONS 0x0008
#define UXT_FMT_NOTABLE 0x0010
#define UXT_FMT_NOTARGET 0x0020
#define UXT_FMT_VIA 0x0040
#define UXT_FMT_NONEWLINE 0x0080
#define UXT_FMT_LINENUMBERS 0x0100
#define UXT_FMT_PRINT_RULE                                                  \
	(UXT_FMT_NOCOUNTS | UXT_FMT_OPTIONS | UXT_FMT_VIA | UXT_FMT_NUMERIC |  \
	 UXT_FMT_NOTABLE)

/* xtables_strtoul: base 0, no sign, [min, max] (max 0: unbounded).  With
 * end == NULL the whole string must be the number. */
bool uxt_strtoul(const char *s, char **end, uintmax_t *value, uintmax_t min,
		 uintmax_t max);
bool uxt_strtoui(const char *s, char **end, unsigned int *value,
		 unsigned int min, unsigned int max);

/* getservbyname(name, proto) -> port, or -1 */
int uxt_service_to_port(const char *name, const char *proto);
/* getaddrinfo() service lookup as libxtables' xtables_getportbyname, -1 if
 * none */
int uxt_getportbyname(const char *name);
/* xtables_parse_port: number or service; "invalid port/service" */
int uxt_parse_port(const char *port, const char *proto, uint16_t *out,
		   struct uxt_err *err);
/* getservbyport name, NULL if none */
const char *uxt_port_to_service(uint16_t port, const char *proto);

/*
 * The port fields of the tcp and udp matches: " spt:22", " dpts:!1:1023"
 * (names through getservbyport for proto unless numeric), nothing for the
 * full range unless inverted; and their save form " --sport 1:1023", which
 * leaves out the full range even when inverted.
 */
void uxt_print_port_range(struct uxt_buf *b, const char *name, uint16_t min,
			  uint16_t max, bool invert, bool numeric,
			  const char *proto);
void uxt_save_port_range(struct uxt_buf *b, const char *opt,
			 const uint16_t *ports, bool invert);

/* xtables_parse_protocol; "unknown protocol" */
int uxt_parse_protocol(const char *s, uint16_t *out, struct uxt_err *err);
/* proto_to_name(): built-in names first, /etc/protocols unless nolookup */
const char *uxt_proto_to_name(uint16_t proto, bool nolookup);

/* xtables_parse_interface; warnings go to warn */
int uxt_parse_interface(const char *arg, char *name, unsigned char *mask,
			struct uxt_err *err, struct uxt_buf *warn);

/*
 * xtables_ipparse_multiple: comma-separated host/network[/mask] list, names
 * resolved (one entry per address).  *addrs and *masks are malloc'ed arrays
 * of network-order addresses, already masked.
 */
int uxt_ipparse_multiple(const char *name, uint32_t **addrs, uint32_t **masks,
			 unsigned int *naddrs, struct uxt_err *err);
/*
 * The common case of uxt_ipparse_multiple without allocation: one plain
 * dotted quad with an optional plain prefix length.  Returns false for
 * anything else (the caller then takes the general way).
 */
bool uxt_ipparse_simple(const char *name, uint32_t *addr, uint32_t *mask);
/* xtables_ipparse_any: one host/network[/mask], duplicates removed */
int uxt_ipparse_any(const char *name, uint32_t **addrs, uint32_t *mask,
		    unsigned int *naddrs, struct uxt_err *err);
/* dotted quad (with the short forms iptables accepts) -> address */
bool uxt_numeric_to_ipaddr(const char *dotted, uint32_t *addr);
/* CIDR length of a network-order mask, or -1 */
int uxt_ipmask_to_cidr(uint32_t mask_be);
/* xtables_ipmask_to_numeric: "" for /32, "/N", or "/a.b.c.d" */
void uxt_buf_ipmask(struct uxt_buf *b, uint32_t mask_be);
/* xtables_ipaddr_to_anyname: host name, network name, or dotted quad */
void uxt_buf_ipaddr_anyname(struct uxt_buf *b, uint32_t addr_be);

/* xtables_save_string: bare if [-_0-9a-zA-Z]+, else quoted and escaped */
void uxt_save_string(struct uxt_buf *b, const char *value);

/* xtables_print_num */
void uxt_print_num(struct uxt_buf *b, uint64_t number, unsigned int format);

/* xtables_parse_mark_mask for call->arg */
int uxt_parse_mark_mask(struct uxt_opt_call *call, uint32_t *mark,
			uint32_t *mask);
/* xtables_print_mark_mask: " 0x%x/0x%x" or " 0x%x" */
void uxt_print_mark_mask(struct uxt_buf *b, uint32_t mark, uint32_t mask);

#endif
