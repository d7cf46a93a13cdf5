/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rules as iptables 1.8.9 prints them: the -L table (print_firewall and
 * print_header of iptables/xshared.c) and the save form shared by -S and
 * iptables-save (print_rule4).  Format flags are UXT_FMT_* (parse.h).
 */
#ifndef UXT_FORMAT_H
#define UXT_FORMAT_H

#include "buf.h"
#include "rule.h"

/* "Chain X (policy P ...)" or "(N references)", then the column header.
 * policy is NULL for a user chain. */
void uxt_fmt_header(struct uxt_buf *b, unsigned int format, const char *chain,
		    const char *policy, const struct uxt_counters *counters,
		    int refs);

/* One rule as a -L line (or the -v echo line with UXT_FMT_PRINT_RULE). */
void uxt_fmt_rule(struct uxt_buf *b, const struct uxt_rule *r,
		  unsigned int num, unsigned int format);

/*
 * One rule in save form: "-A chain ...".  counters > 0 prefixes "[p:b] "
 * (iptables-save -c), counters < 0 adds " -c p b" (-v -S).
 */
void uxt_fmt_rule_save(struct uxt_buf *b, const struct uxt_rule *r,
		       const char *chain, int counters);

#endif
