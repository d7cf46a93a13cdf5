/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The extensions uxtables knows.  An extension's id is its index here and
 * is stored in rules; the state file records the name and revision of each
 * id, so reordering this list only costs a translation when an older state
 * is loaded.  Append new extensions at the end.
 */
#include "ext.h"

extern const struct uxt_ext uxt_ext_tcp;
extern const struct uxt_ext uxt_ext_udp;
extern const struct uxt_ext uxt_ext_icmp;
extern const struct uxt_ext uxt_ext_multiport;
extern const struct uxt_ext uxt_ext_conntrack;
extern const struct uxt_ext uxt_ext_state;
extern const struct uxt_ext uxt_ext_mark;
extern const struct uxt_ext uxt_ext_connmark;
extern const struct uxt_ext uxt_ext_comment;
extern const struct uxt_ext uxt_ext_iprange;
extern const struct uxt_ext uxt_ext_limit;
extern const struct uxt_ext uxt_ext_LOG;
extern const struct uxt_ext uxt_ext_NFLOG;
extern const struct uxt_ext uxt_ext_REJECT;
extern const struct uxt_ext uxt_ext_MARK;
extern const struct uxt_ext uxt_ext_CONNMARK;
extern const struct uxt_ext uxt_ext_TCPMSS;
extern const struct uxt_ext uxt_ext_DNAT;
extern const struct uxt_ext uxt_ext_SNAT;
extern const struct uxt_ext uxt_ext_MASQUERADE;
extern const struct uxt_ext uxt_ext_REDIRECT;
extern const struct uxt_ext uxt_ext_CT;
extern const struct uxt_ext uxt_ext_NOTRACK;
extern const struct uxt_ext uxt_ext_TRACE;

const struct uxt_ext *const uxt_extensions[] = {
	&uxt_ext_standard,
	&uxt_ext_tcp,
	&uxt_ext_udp,
	&uxt_ext_icmp,
	&uxt_ext_multiport,
	&uxt_ext_conntrack,
	&uxt_ext_state,
	&uxt_ext_mark,
	&uxt_ext_connmark,
	&uxt_ext_comment,
	&uxt_ext_iprange,
	&uxt_ext_limit,
	&uxt_ext_LOG,
	&uxt_ext_NFLOG,
	&uxt_ext_REJECT,
	&uxt_ext_MARK,
	&uxt_ext_CONNMARK,
	&uxt_ext_TCPMSS,
	&uxt_ext_DNAT,
	&uxt_ext_SNAT,
	&uxt_ext_MASQUERADE,
	&uxt_ext_REDIRECT,
	&uxt_ext_CT,
	&uxt_ext_NOTRACK,
	&uxt_ext_TRACE,
};

const unsigned int uxt_extensions_count =
	sizeof(uxt_extensions) / sizeof(uxt_extensions[0]);
