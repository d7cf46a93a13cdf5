/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: being written (nf_log_syslog dump). */
#include "logfmt.h"

void uxt_log_format(struct uxt_buf *b, const struct uxt_pkt *pkt,
		    unsigned int hook, const struct uxt_iface *in,
		    const struct uxt_iface *out, const char *prefix,
		    unsigned int logflags)
{
	(void)pkt;
	(void)hook;
	(void)in;
	(void)out;
	(void)logflags;
	uxt_buf_puts(b, prefix);
}

void uxt_log_trace(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		   unsigned int hook, const struct uxt_iface *in,
		   const struct uxt_iface *out, const char *table,
		   const char *chain, const char *comment, unsigned int rulenum)
{
	(void)ns;
	(void)pkt;
	(void)hook;
	(void)in;
	(void)out;
	(void)table;
	(void)chain;
	(void)comment;
	(void)rulenum;
}
