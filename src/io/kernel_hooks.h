/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the kernel needs so that uxt daemon sees every IPv4 packet of the
 * namespace: an nftables table "uxtables" (family ip) with one base chain
 * per hook at priority -450, before every table of the kernel's
 * (conntrack's defragmentation -400, raw -300, conntrack -200, mangle -150,
 * ...), each with one rule:
 *
 *     counter notrack queue (xt NFQUEUE through nft_compat)
 *
 * "notrack" marks the packet untracked, so that neither the kernel's
 * defragmentation nor its connection tracking touches it, without making
 * conntrack active in the namespace (nft's notrack needs no conntrack
 * hooks, unlike xt's CT --notrack).  The queue is the xt NFQUEUE target,
 * revision 3 (balance over N queues, optionally by CPU, optionally with
 * --queue-bypass), because nftables' own queue statement is not built into
 * every kernel.  docs/daemon.md says why this layout was chosen.
 *
 * The table is created, replaced and removed as a whole, in one nftables
 * transaction each, so the hooks are never half there.
 *
 * Only the hooks in queue_hooks queue: at the others the rule is just
 * "counter notrack" (the chain stays, so that the kernel never tracks or
 * reassembles the packet there either).  A ruleset needs only the hooks
 * of its tables (docs/daemon.md, "Performance"), and every packet not
 * queued at a hook saves a round trip to the daemon.
 * uxt_khooks_set_queue_hooks() changes the set in one transaction by
 * replacing the rules of the chains that change: the base chains, and so
 * the kernel's hook registrations, stay, and packets waiting in a queue
 * (which the kernel would drop when a hook goes away) are not lost.
 *
 * Library code: errors come back in a struct uxt_err, nothing is printed.
 */
#ifndef UXT_KERNEL_HOOKS_H
#define UXT_KERNEL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define UXT_KHOOKS_TABLE "uxtables"
#define UXT_KHOOKS_PRIORITY (-450)

struct uxt_khooks_config {
	uint16_t queue_base;	/* first queue */
	uint16_t queues;	/* how many (--queue-balance) */
	bool bypass;		/* --queue-bypass: no listener, no filter */
	bool cpu_fanout;	/* --queue-cpu-fanout */
	const char *comment;	/* the table's comment, or NULL */
	uint32_t queue_hooks;	/* bits (1 << NF_INET_*) of the hooks that
				 * queue; the others only count and notrack */
};

#define UXT_KHOOKS_ALL ((1u << 5) - 1)

/*
 * Looks at what the kernel filters in this namespace besides uxtables'
 * own table: nftables tables of any family, and iptables-legacy tables
 * that hold a rule or a policy other than ACCEPT.  Writes one line per
 * finding to out ("nftables: table inet filter", "iptables-legacy: table
 * filter: 3 rules, policy INPUT DROP") and returns how many there are;
 * *ours tells whether uxtables' table is there (left by a daemon that did
 * not stop).  -1 with err on failure.
 */
int uxt_khooks_survey(struct uxt_buf *out, bool *ours, struct uxt_err *err);

/* Creates uxtables' table, replacing one already there, atomically. */
int uxt_khooks_install(const struct uxt_khooks_config *c, struct uxt_err *err);
/* Makes exactly the hooks in c->queue_hooks queue, in one transaction
 * that replaces the rule of each chain whose part changes (from: the set
 * installed now). */
int uxt_khooks_set_queue_hooks(const struct uxt_khooks_config *c, uint32_t from,
			       struct uxt_err *err);
/* Removes it (nothing if it is not there). */
int uxt_khooks_remove(struct uxt_err *err);

#endif
