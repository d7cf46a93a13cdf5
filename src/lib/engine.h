/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The packet path: one network namespace (a host) handling packets as the
 * kernel does.
 *
 * A uxt_ns holds the compiled tables of a ruleset with their live counters
 * and per-rule state, the host model, the clock, and the callbacks through
 * which it reports what happens (uxt_events).  Packets enter in one of two
 * ways:
 *
 *   uxt_ns_receive()  a datagram received on an interface: the checks of
 *                     ip_rcv_core, PREROUTING, input routing, then INPUT
 *                     (local delivery) or FORWARD and POSTROUTING
 *   uxt_ns_send()     a datagram a local socket sends: output routing,
 *                     OUTPUT, POSTROUTING, and back in through lo when it is
 *                     for this host
 *
 * At each hook the tables run in the kernel's priority order
 * (kernel-behaviour.md 1.1); each table is walked as ipt_do_table walks it
 * (same counters, jump stack, RETURN and policy handling, non-terminating
 * targets, ACCEPT ending only the current table).  Packets the engine
 * creates (REJECT replies, ICMP errors of forwarding) are sent as locally
 * generated packets while the packet that caused them is being handled, as
 * in the kernel.
 *
 * Nothing here is global; several namespaces may live in one process.  A
 * uxt_ns is not thread-safe.
 */
#ifndef UXT_ENGINE_H
#define UXT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/classify.h"
#include "err.h"
#include "host.h"
#include "pkt.h"
#include "table.h"

/* Netfilter verdicts (NF_*) and the targets' "go on" (XT_CONTINUE). */
enum uxt_nf_verdict {
	UXT_NF_DROP = 0,
	UXT_NF_ACCEPT = 1,
	UXT_NF_STOLEN = 2,
	UXT_NF_QUEUE = 3,
	UXT_XT_CONTINUE = 0xFFFFFFFFu,
};

struct uxt_ns;
struct uxt_ct;
struct uxt_ct_table;

/* What the engine tells its front end, all optional. */
struct uxt_events {
	void *ctx;
	/* A rule matched and its counter moved (the base of --trace).
	 * comment is "rule", "return" or "policy" as TRACE labels it. */
	void (*rule)(void *ctx, const char *table, unsigned int hook,
		     const char *chain, unsigned int rulenum,
		     const char *comment, const struct uxt_rule *rule);
	/* A table decided at a hook: the verdict and the rule that gave it
	 * (rulenum is the policy's number, rules + 1, for a policy). */
	void (*verdict)(void *ctx, const char *table, unsigned int hook,
			unsigned int verdict, const char *chain,
			unsigned int rulenum);
	/* The packet leaves through dev. */
	void (*xmit)(void *ctx, const struct uxt_pkt *pkt,
		     const struct uxt_iface *dev);
	/* The packet is delivered to a local socket. */
	void (*deliver)(void *ctx, const struct uxt_pkt *pkt);
	/* The kernel dropped the packet outside the tables (reason given) or
	 * a table dropped it (reason NULL). */
	void (*drop)(void *ctx, const struct uxt_pkt *pkt, const char *reason);
	/* A kernel log line (LOG, TRACE): level 0-7 and the text, which ends
	 * with the kernel's trailing space and has no newline. */
	void (*log)(void *ctx, unsigned int level, const char *line);
	/* An NFLOG message: the packet at hook with its group and prefix. */
	void (*nflog)(void *ctx, const struct uxt_pkt *pkt, unsigned int hook,
		      uint16_t group, const char *prefix, uint32_t copy_len);
	/* Live front ends (uxt daemon), where the kernel runs the paths: a
	 * packet the engine created (REJECT reply, ICMP error) to be handed
	 * to the kernel as a locally generated packet, along rt.  When set,
	 * uxt_ns_local_out() calls it instead of sending the packet through
	 * OUTPUT and POSTROUTING itself; it consumes pkt. */
	void (*local_out)(void *ctx, struct uxt_pkt *pkt,
			  const struct uxt_route_result *rt);
	/* A connection tracking event (conntrack -E): kind is an enum
	 * uxt_ct_event_kind (NEW, UPDATE, DESTROY), event_mask the IPCT_*
	 * bits, ct the entry as it is now, now_ns the clock (ct.h).  Setting
	 * it makes a listener (nf_conntrack_events 2). */
	void (*ct_event)(void *ctx, unsigned int kind, uint32_t event_mask,
			 const struct uxt_ct *ct, uint64_t now_ns);
};

/* What a match or target sees of the packet's situation (xt_action_param). */
struct uxt_xt_param {
	struct uxt_ns *ns;
	const void *info;		/* the record's data */
	void *priv;			/* its live state (ext->priv_size) */
	const char *table;
	unsigned int hook;
	const struct uxt_iface *in, *out;
	uint16_t fragoff;		/* non-zero: not the first fragment */
	uint16_t thoff;			/* where the transport header starts */
	bool hotdrop;			/* a match asks for the packet's drop */
	uint64_t now_ns;
};

struct uxt_ns *uxt_ns_new(void);
void uxt_ns_free(struct uxt_ns *ns);

/* The host the namespace models; the namespace takes ownership. */
void uxt_ns_set_host(struct uxt_ns *ns, struct uxt_host *host);
const struct uxt_host *uxt_ns_host(const struct uxt_ns *ns);
void uxt_ns_set_events(struct uxt_ns *ns, const struct uxt_events *ev);
/* The namespace's clock, in nanoseconds (wall time live, capture time in a
 * replay, any value in tests). */
void uxt_ns_set_time(struct uxt_ns *ns, uint64_t now_ns);
uint64_t uxt_ns_time(const struct uxt_ns *ns);

/*
 * Compiles rs into the namespace: counters and rule state start from the
 * rules'.  rs must stay alive while the namespace uses it.
 */
int uxt_ns_set_ruleset(struct uxt_ns *ns, const struct uxt_ruleset *rs,
		       struct uxt_err *err);
/*
 * Writes the live counters (rule and policy) and rule state back into rs,
 * copying the rules that changed into rs's arena: what iptables -L then
 * shows.
 */
void uxt_ns_sync_ruleset(struct uxt_ns *ns, struct uxt_ruleset *rs);

/*
 * The entry points; both consume the packet.  uxt_ns_send() treats the
 * datagram as a raw socket with IP_HDRINCL hands it to the kernel: the
 * total length, an empty source address and IP ID and the header checksum
 * are filled in.
 */
void uxt_ns_receive(struct uxt_ns *ns, struct uxt_pkt *pkt,
		    const struct uxt_iface *dev);
/* A datagram seen on lo is one this host sent to itself (the kernel's
 * input routing refuses local sources on lo): it is sent as
 * uxt_ns_local_out sends, through OUTPUT, POSTROUTING, PREROUTING, INPUT. */
void uxt_ns_send(struct uxt_ns *ns, struct uxt_pkt *pkt);
/*
 * A datagram a local socket sent, as it was before the kernel fragmented
 * it (a capture's outgoing record): routed (bound to pkt->outdev if set),
 * OUTPUT, POSTROUTING, fragmented to the route's MTU; its header is taken
 * as it is (the kernel already chose its IP ID, which may be 0).
 */
void uxt_ns_output(struct uxt_ns *ns, struct uxt_pkt *pkt);

/*
 * For targets: sends a packet the kernel itself creates (a REJECT reply) as
 * a locally generated packet, now, along the route rt its maker looked up
 * (as the kernel's makers do, each with its own rules for the source
 * address).  Consumes pkt.
 */
void uxt_ns_local_out(struct uxt_ns *ns, struct uxt_pkt *pkt,
		      const struct uxt_route_result *rt);
/* How many uxt_ns_local_out calls are under way: 0 while the engine handles
 * the packet it was given, more while it handles packets it created for it
 * (REJECT replies, ICMP errors).  Lets an event handler tell them apart. */
unsigned int uxt_ns_depth(const struct uxt_ns *ns);
/* Reports the drop of pkt (reason NULL: a table dropped it); consumes it. */
void uxt_ns_drop(struct uxt_ns *ns, struct uxt_pkt *pkt, const char *reason);
/* For targets: writes a kernel log line through the events. */
void uxt_ns_log(struct uxt_ns *ns, unsigned int level, const char *line);
/* For NFLOG. */
void uxt_ns_nflog(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		  unsigned int hook, uint16_t group, const char *prefix,
		  uint32_t copy_len);
/* The next IP ID the host would give a datagram it creates. */
uint16_t uxt_ns_next_ip_id(struct uxt_ns *ns, uint32_t daddr);

/*
 * Live front ends (uxt daemon): the kernel runs the paths and hands the
 * packet over at one hook at a time (NFQUEUE).  uxt_ns_hook() runs what
 * the engine runs at that hook for the packet, the tables in priority order
 * (and whatever else the engine does at the hook), with in/out the hook's
 * devices, and returns the verdict (UXT_NF_ACCEPT or UXT_NF_DROP, or
 * UXT_NF_STOLEN); the packet is changed in place and not consumed.
 * uxt_ns_hook_finish() is called once the packet has left the hooks
 * (delivered, sent, or dropped by anyone): it releases what the engine
 * holds for it and the packet.
 */
unsigned int uxt_ns_hook(struct uxt_ns *ns, unsigned int hook,
			 struct uxt_pkt *pkt, const struct uxt_iface *in,
			 const struct uxt_iface *out);
void uxt_ns_hook_finish(struct uxt_ns *ns, struct uxt_pkt *pkt);
/*
 * The live counters of the compiled table (uxt_table_defs index) in the
 * order the table holds them: chain by chain, each chain's rules and then
 * its tail (a built-in chain's policy, a user chain's RETURN).  Copies at
 * most max and returns how many there are (0 for a table not compiled).
 */
size_t uxt_ns_counters(const struct uxt_ns *ns, int table,
		       struct uxt_counters *out, size_t max);

/*
 * Connection tracking (ct.h): the namespace's table, and whether conntrack
 * is active, which it is while the ruleset has a rule that needs it
 * (kernel-behaviour.md 0.1: an extension with needs_conntrack).  Only then
 * do the conntrack steps run at the hooks (defrag at -400, nf_conntrack_in
 * at -200, confirm at INT_MAX) and the nat table.
 */
struct uxt_ct_table *uxt_ns_ct(struct uxt_ns *ns);
bool uxt_ns_ct_active(const struct uxt_ns *ns);
/*
 * For NAT (nat.c's uxt_nat_hook): walks table (a uxt_table_defs index) at
 * hook for pkt, as the engine walks its tables; ACCEPT when the table does
 * not exist or has no chain at hook.
 */
unsigned int uxt_ns_run_table(struct uxt_ns *ns, int table, unsigned int hook,
			      struct uxt_pkt *pkt, const struct uxt_iface *in,
			      const struct uxt_iface *out);

/*
 * The classifier (classify.h, docs/classifier.md): large chains are walked
 * through a structure that skips the rules whose header part cannot match;
 * verdicts, counters and side effects stay those of the plain walk.
 * UXT_CLS_AUTO (the default) gives one to chains of UXT_CLS_MIN_RULES
 * rules or more, UXT_CLS_ON to every chain, UXT_CLS_OFF to none.  Holds
 * for the ruleset compiled now and the ones compiled later.
 */
void uxt_ns_set_classifier(struct uxt_ns *ns, enum uxt_cls_mode mode);
/* The mode the environment asks for: UXT_CLASSIFIER=on|off|auto (unset or
 * empty: auto).  Front doors call it; -1 with err set for another value. */
int uxt_ns_classifier_from_env(struct uxt_ns *ns, struct uxt_err *err);
/* What the classifiers built so far hold and cost. */
void uxt_ns_classifier_stats(const struct uxt_ns *ns, struct uxt_cls_stats *st);

/*
 * ip_route_me_harder() for a locally generated packet at OUTPUT whose
 * addresses a table changed (nat OUTPUT's DNAT or REDIRECT, mangle
 * OUTPUT): the send path goes on along the new route (POSTROUTING, the
 * device, lo).  Returns 0, or -1 when no route lets the packet out (the
 * caller drops it).  Outside the engine's own send path (a live front
 * end's packet, which the kernel routes again itself) nothing is done.
 */
int uxt_ns_reroute(struct uxt_ns *ns, struct uxt_pkt *pkt);

/*
 * The namespace's random numbers, for what the kernel draws at random
 * (NAT's port search: get_random_u16): a generator seeded per namespace,
 * with a fixed seed unless uxt_ns_set_random_seed() gives one, so that a
 * replay is repeatable.
 */
uint32_t uxt_ns_random_u32(struct uxt_ns *ns);
void uxt_ns_set_random_seed(struct uxt_ns *ns, uint64_t seed);

/* For frag.c: a reassembled datagram goes on to INPUT; a fragment leaves
 * through dev.  Both consume pkt. */
void uxt_ns_deliver_reassembled(struct uxt_ns *ns, struct uxt_pkt *pkt);
void uxt_ns_xmit_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
			  const struct uxt_iface *dev);

#endif
