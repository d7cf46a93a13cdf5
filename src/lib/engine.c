/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The packet path: compiled tables, the rule walk (ipt_do_table), the hooks
 * in priority order, and the received / forwarded / locally generated
 * paths of net/ipv4 (ip_input.c, ip_forward.c, ip_output.c).
 *
 * A table is compiled into an array of entries laid out as libiptc lays out
 * its blob: each chain's rules followed by a tail entry (the built-in
 * chain's policy, or the user chain's implicit RETURN).  Jumps are entry
 * indices.  Counters live in the entries while packets pass and are written
 * back into the ruleset by uxt_ns_sync_ruleset().
 */
#include "engine.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "ext.h"
#ifdef UXT_HAVE_NAT
#include "nat.h"
#endif
#include "frag.h"
#include "icmp.h"
#include "ipopt.h"
#include "logfmt.h"

enum { COMMENT_RULE, COMMENT_RETURN, COMMENT_POLICY };
static const char *const comment_names[] = {"rule", "return", "policy"};

struct rt_entry {
	const struct uxt_rule *rule;	/* NULL for a chain's tail */
	struct uxt_counters cnt;
	int32_t jump;			/* first entry of the chain jumped to */
	int32_t verdict;		/* UXT_V_*, or -1: extension target */
	bool is_goto;
	bool unconditional_std;		/* for TRACE's return/policy label */
	uint32_t chain;			/* index in the table's chains */
	uint32_t rulenum;		/* 1-based within the chain */
	void **priv;			/* live state per record, or NULL */
};

struct rt_table {
	const struct uxt_table *src;
	struct rt_entry *e;
	uint32_t n;
	int32_t hook_entry[UXT_NHOOKS];
	int32_t underflow[UXT_NHOOKS];
	uint32_t *chain_first;		/* entry index of each chain's start */
	uint32_t stacksize;
	const struct uxt_rule **stack_unused;
	struct uxt_cls_table *cls;	/* classifiers, or NULL (classify.h) */
};

struct uxt_ns {
	struct uxt_host *host;
	struct uxt_events ev;
	uint64_t now_ns;
	const struct uxt_ruleset *rs;
	struct rt_table *tables[UXT_NTABLES];
	enum uxt_cls_mode cls_mode;
	int32_t *jumpstack;
	uint32_t jumpstack_size;
	uint16_t ip_id;
	unsigned int depth;		/* nested local_out (REJECT replies) */
	struct uxt_frag_queue *frags;
	struct uxt_icmp_limits *icmp;
	/* datagrams looped back to this host, in the order netif_rx()
	 * queued them */
	struct looped *backlog, **backlog_tail;
	bool in_softirq;		/* handling a received datagram */
	/* connection tracking: the table, whether the ruleset needs it, why
	 * a conntrack step dropped the packet */
	struct uxt_ct_table *ct;
	bool ct_active;
	const char *drop_reason;
	/* the route of the packet passing OUTPUT on the send path, which
	 * uxt_ns_reroute() replaces, and the device its socket is bound to */
	struct uxt_route_result *out_rt;
	const struct uxt_iface *out_bound;
	/* uxt_ns_random_u32() */
	uint64_t rand_state;
};

/* A datagram looped back (loopback_xmit, dev_loopback_xmit), waiting to be
 * received on dev; depth is that of the packet that sent it. */
struct looped {
	struct looped *next;
	struct uxt_pkt pkt;
	const struct uxt_iface *dev;
	unsigned int depth;
};

/* The steps at each hook in priority order (kernel-behaviour.md 1.1):
 * the tables, as indices of uxt_table_defs (filter 0, nat 1, mangle 2,
 * raw 3, security 4), and the conntrack steps, which run only while
 * conntrack is active (defrag at -400 runs before the hook, in receive()
 * and output()). */
#define STEP_END (-1)
#define STEP_CT_IN (-2)		/* nf_conntrack_in, -200 */
#define STEP_CONFIRM (-3)	/* nf_confirm, INT_MAX */
static const int hook_tables[UXT_NHOOKS][8] = {
	[UXT_HOOK_PRE_ROUTING] = {3, STEP_CT_IN, 2, 1, STEP_END},
	[UXT_HOOK_LOCAL_IN] = {2, 0, 4, 1, STEP_CONFIRM, STEP_END},
	[UXT_HOOK_FORWARD] = {2, 0, 4, STEP_END},
	[UXT_HOOK_LOCAL_OUT] = {3, STEP_CT_IN, 2, 1, 0, 4, STEP_END},
	[UXT_HOOK_POST_ROUTING] = {2, 1, STEP_CONFIRM, STEP_END},
};
#define NAT_TABLE 1
#define MANGLE_TABLE 2

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

struct uxt_ns *uxt_ns_new(void)
{
	struct uxt_ns *ns = xcalloc(1, sizeof(*ns));

	ns->frags = uxt_frag_queue_new();
	ns->icmp = uxt_icmp_limits_new();
	ns->ct = uxt_ct_table_new();
	uxt_ns_set_random_seed(ns, 0);
	return ns;
}

static void free_priv(struct rt_entry *e)
{
	const struct uxt_xrec *x;
	unsigned int i = 0;

	if (!e->priv)
		return;
	uxt_rule_foreach_match(e->rule, x)
		free(e->priv[i++]);
	free(e->priv[i]);
	free(e->priv);
}

static void rt_table_free(struct rt_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		free_priv(&t->e[i]);
	free(t->e);
	free(t->chain_first);
	uxt_cls_table_free(t->cls);
	free(t);
}

void uxt_ns_free(struct uxt_ns *ns)
{
	if (!ns)
		return;
	for (int i = 0; i < UXT_NTABLES; i++)
		rt_table_free(ns->tables[i]);
	free(ns->jumpstack);
	uxt_frag_queue_free(ns->frags);
	uxt_icmp_limits_free(ns->icmp);
	uxt_ct_table_free(ns->ct);
	while (ns->backlog) {
		struct looped *l = ns->backlog;

		ns->backlog = l->next;
		uxt_pkt_release(&l->pkt);
		free(l);
	}
	if (ns->host) {
		uxt_host_free(ns->host);
		free(ns->host);
	}
	free(ns);
}

void uxt_ns_set_host(struct uxt_ns *ns, struct uxt_host *host)
{
	if (ns->host && ns->host != host) {
#ifdef UXT_HAVE_NAT
		/* MASQUERADE forgets devices gone down, addresses removed */
		uxt_nat_host_changed(ns->ct, ns->host, host);
#endif
		uxt_host_free(ns->host);
		free(ns->host);
	}
	ns->host = host;
	if (host)
		/* the settings change, the buckets keep their credit */
		uxt_icmp_limits_set(ns->icmp, &host->icmp);
}

const struct uxt_host *uxt_ns_host(const struct uxt_ns *ns)
{
	return ns->host;
}

static void ct_event_cb(void *ctx, enum uxt_ct_event_kind kind,
			uint32_t mask, const struct uxt_ct *ct, uint64_t now_ns)
{
	struct uxt_ns *ns = ctx;

	if (ns->ev.ct_event)
		ns->ev.ct_event(ns->ev.ctx, kind, mask, ct, now_ns);
}

void uxt_ns_set_events(struct uxt_ns *ns, const struct uxt_events *ev)
{
	ns->ev = *ev;
	/* an event callback is a listener (nf_conntrack_events 2) */
	uxt_ct_table_set_events(ns->ct, ev->ct_event ? ct_event_cb : NULL, ns);
}

/*
 * The packet the engine was given and everything it set off are done: the
 * entries only such packets pointed at (unconfirmed ones, killed ones)
 * go (ct.h).
 */
static void ct_done(struct uxt_ns *ns)
{
	if (ns->depth == 0 && !ns->in_softirq)
		uxt_ct_table_release_pending(ns->ct);
}

void uxt_ns_set_time(struct uxt_ns *ns, uint64_t now_ns)
{
	ns->now_ns = now_ns;
	/* entries whose time is up go, as the GC worker takes them */
	uxt_ct_table_expire(ns->ct, now_ns);
	uxt_frag_expire(ns->frags, ns, now_ns);
	ct_done(ns);
}

struct uxt_ct_table *uxt_ns_ct(struct uxt_ns *ns)
{
	return ns->ct;
}

bool uxt_ns_ct_active(const struct uxt_ns *ns)
{
	return ns->ct_active;
}

uint64_t uxt_ns_time(const struct uxt_ns *ns)
{
	return ns->now_ns;
}

uint16_t uxt_ns_next_ip_id(struct uxt_ns *ns, uint32_t daddr)
{
	(void)daddr;
	return ++ns->ip_id;
}

/* splitmix64: small, and good enough for choosing ports */
uint32_t uxt_ns_random_u32(struct uxt_ns *ns)
{
	uint64_t z = (ns->rand_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

void uxt_ns_set_random_seed(struct uxt_ns *ns, uint64_t seed)
{
	ns->rand_state = seed ^ 0x6A09E667F3BCC909ull;
}

/* Compiling */

static void **make_priv(const struct uxt_rule *r, uint64_t now)
{
	const struct uxt_xrec *x;
	const struct uxt_ext *ext;
	void **priv = NULL;
	unsigned int i = 0, n = r->nmatches + 1u;

	uxt_rule_foreach_match(r, x) {
		ext = uxt_ext_by_id(x->ext);
		if (ext->priv_size) {
			if (!priv)
				priv = xcalloc(n, sizeof(*priv));
			priv[i] = xcalloc(1, ext->priv_size);
			if (ext->priv_init)
				ext->priv_init(priv[i], x->data, now);
		}
		i++;
	}
	x = uxt_rule_target(r);
	ext = uxt_ext_by_id(x->ext);
	if (ext->priv_size) {
		if (!priv)
			priv = xcalloc(n, sizeof(*priv));
		priv[i] = xcalloc(1, ext->priv_size);
		if (ext->priv_init)
			ext->priv_init(priv[i], x->data, now);
	}
	return priv;
}

static struct rt_table *compile_table(const struct uxt_table *t, uint64_t now,
				      enum uxt_cls_mode cls_mode)
{
	struct rt_table *rt = xcalloc(1, sizeof(*rt));
	uint32_t n = 0, i = 0;

	rt->src = t;
	for (uint32_t c = 0; c < t->nchains; c++)
		n += t->chains[c]->nrules + 1;
	rt->e = xcalloc(n, sizeof(*rt->e));
	rt->n = n;
	rt->chain_first = xcalloc(t->nchains, sizeof(*rt->chain_first));
	for (int h = 0; h < UXT_NHOOKS; h++)
		rt->hook_entry[h] = rt->underflow[h] = -1;
	/* the kernel's jump stack has one slot per user chain (and one for
	 * the table's end marker) */
	rt->stacksize = t->nchains - t->nbuiltin + 1;
	for (uint32_t c = 0; c < t->nchains; c++) {
		const struct uxt_chain *ch = t->chains[c];

		rt->chain_first[c] = i;
		if (uxt_chain_builtin(ch))
			rt->hook_entry[ch->hook] = (int32_t)i;
		for (uint32_t j = 0; j < ch->nrules; j++, i++) {
			struct rt_entry *e = &rt->e[i];
			const struct uxt_rule *r = ch->rules[j];
			const struct uxt_std_target *std = uxt_rule_std(r);

			e->rule = r;
			e->cnt = r->counters;
			e->chain = c;
			e->rulenum = j + 1;
			e->jump = -1;
			e->verdict = std ? std->verdict : -1;
			e->is_goto = (r->ip.flags & UXT_F_GOTO) != 0;
			e->unconditional_std = std && std->verdict > UXT_V_CONTINUE &&
					       std->verdict < UXT_V_JUMP &&
					       uxt_rule_unconditional(r);
			e->priv = make_priv(r, now);
		}
		/* the tail: policy of a built-in chain, RETURN of a user chain */
		rt->e[i].chain = c;
		rt->e[i].rulenum = ch->nrules + 1;
		rt->e[i].jump = -1;
		rt->e[i].unconditional_std = true;
		if (uxt_chain_builtin(ch)) {
			rt->e[i].verdict = ch->policy;
			rt->e[i].cnt = ch->policy_counters;
			rt->underflow[ch->hook] = (int32_t)i;
		} else {
			rt->e[i].verdict = UXT_V_RETURN;
		}
		i++;
	}
	/* resolve jumps to the chain's first entry */
	for (i = 0; i < n; i++) {
		struct rt_entry *e = &rt->e[i];
		const struct uxt_std_target *std;

		if (!e->rule || e->verdict != UXT_V_JUMP)
			continue;
		std = uxt_rule_std(e->rule);
		for (uint32_t c = t->nbuiltin; c < t->nchains; c++)
			if (strcmp(t->chains[c]->name, std->chain) == 0) {
				e->jump = (int32_t)rt->chain_first[c];
				break;
			}
	}
	/* which chains get a classifier; built by the first packet */
	rt->cls = uxt_cls_table_new(t, cls_mode);
	return rt;
}

/* Whether the record needs conntrack in the namespace (its checkentry
 * calls nf_ct_netns_get). */
static bool xrec_needs_ct(const struct uxt_xrec *x)
{
	const struct uxt_ext *ext = uxt_ext_by_id(x->ext);

	if (!ext)
		return false;
	if (ext->needs_conntrack_data)
		return ext->needs_conntrack_data(x->data);
	return ext->needs_conntrack;
}

/* Any rule of any table, reachable or not: the kernel checks them all. */
static bool ruleset_needs_ct(const struct uxt_ruleset *rs)
{
	for (int i = 0; i < UXT_NTABLES; i++) {
		const struct uxt_table *t = rs->tables[i];

		if (!t)
			continue;
		for (uint32_t c = 0; c < t->nchains; c++)
			for (uint32_t j = 0; j < t->chains[c]->nrules; j++) {
				const struct uxt_rule *r = t->chains[c]->rules[j];
				const struct uxt_xrec *x;

				uxt_rule_foreach_match(r, x)
					if (xrec_needs_ct(x))
						return true;
				if (xrec_needs_ct(uxt_rule_target(r)))
					return true;
			}
	}
	return false;
}

/* An extension the command line knows but whose packet side is missing
 * must not pass for one that matches everything or does nothing. */
static int check_packet_sides(const struct uxt_ruleset *rs, struct uxt_err *err)
{
	for (int i = 0; i < UXT_NTABLES; i++) {
		const struct uxt_table *t = rs->tables[i];

		if (!t)
			continue;
		for (uint32_t c = 0; c < t->nchains; c++)
			for (uint32_t j = 0; j < t->chains[c]->nrules; j++) {
				const struct uxt_rule *r = t->chains[c]->rules[j];
				const struct uxt_xrec *x;
				const struct uxt_ext *ext;

				uxt_rule_foreach_match(r, x) {
					ext = uxt_ext_by_id(x->ext);
					if (!ext->match)
						return uxt_error(err, UXT_OTHER_PROBLEM,
								 "match `%s' cannot handle packets yet",
								 ext->name);
				}
				ext = uxt_ext_by_id(uxt_rule_target(r)->ext);
				if (!uxt_rule_std(r) && !ext->target)
					return uxt_error(err, UXT_OTHER_PROBLEM,
							 "target `%s' cannot handle packets yet",
							 ext->name);
			}
	}
	return 0;
}

int uxt_ns_set_ruleset(struct uxt_ns *ns, const struct uxt_ruleset *rs,
		       struct uxt_err *err)
{
	uint32_t stack = 0;

	if (check_packet_sides(rs, err))
		return -1;
	ns->ct_active = ruleset_needs_ct(rs);
	for (int i = 0; i < UXT_NTABLES; i++) {
		rt_table_free(ns->tables[i]);
		ns->tables[i] = rs->tables[i] ? compile_table(rs->tables[i], ns->now_ns,
							    ns->cls_mode)
					      : NULL;
		if (ns->tables[i] && ns->tables[i]->stacksize > stack)
			stack = ns->tables[i]->stacksize;
	}
	ns->rs = rs;
	free(ns->jumpstack);
	ns->jumpstack = xcalloc(stack + 1, sizeof(*ns->jumpstack));
	ns->jumpstack_size = stack + 1;
	return 0;
}

/* Whether the live values of entry e differ from what its rule holds. */
static bool entry_changed(const struct rt_entry *e)
{
	return e->cnt.pcnt != e->rule->counters.pcnt ||
	       e->cnt.bcnt != e->rule->counters.bcnt || e->priv != NULL;
}

void uxt_ns_sync_ruleset(struct uxt_ns *ns, struct uxt_ruleset *rs)
{
	for (int t = 0; t < UXT_NTABLES; t++) {
		struct rt_table *rt = ns->tables[t];
		struct uxt_table *tab = rs->tables[t];

		if (!rt || !tab || rt->src != tab)
			continue;
		for (uint32_t i = 0; i < rt->n; i++) {
			struct rt_entry *e = &rt->e[i];
			struct uxt_chain *ch = tab->chains[e->chain];
			struct uxt_rule *r;
			struct uxt_xrec *x;
			unsigned int k = 0;

			if (!e->rule) {
				if (uxt_chain_builtin(ch))
					ch->policy_counters = e->cnt;
				continue;
			}
			if (!entry_changed(e))
				continue;
			r = uxt_rule_dup(rs, e->rule);
			r->counters = e->cnt;
			if (e->priv) {
				uxt_rule_foreach_match(r, x) {
					const struct uxt_ext *ext = uxt_ext_by_id(x->ext);

					if (e->priv[k] && ext->priv_save)
						ext->priv_save(x->data, e->priv[k]);
					k++;
				}
				x = uxt_rule_target(r);
				if (e->priv[k] && uxt_ext_by_id(x->ext)->priv_save)
					uxt_ext_by_id(x->ext)->priv_save(x->data, e->priv[k]);
			}
			ch->rules[e->rulenum - 1] = r;
			e->rule = r;
		}
	}
}

/* The rule walk */

/* ip_packet_match() */
static bool iface_match(const char *name, const char *rule_name,
			const unsigned char *mask)
{
	for (int i = 0; i < UXT_IFNAMSIZ; i++)
		if ((name[i] ^ rule_name[i]) & mask[i])
			return false;
	return true;
}

static bool ip_packet_match(const struct uxt_iphdr *iph, const char *indev,
			    const char *outdev, const struct uxt_ip *ip,
			    uint16_t fragoff)
{
	uint8_t inv = ip->invflags;

	if ((((iph->saddr & ip->smsk) != ip->src) ^ !!(inv & UXT_INV_SRCIP)) ||
	    (((iph->daddr & ip->dmsk) != ip->dst) ^ !!(inv & UXT_INV_DSTIP)))
		return false;
	if (!iface_match(indev, ip->iniface, ip->iniface_mask) ^
	    !!(inv & UXT_INV_VIA_IN))
		return false;
	if (!iface_match(outdev, ip->outiface, ip->outiface_mask) ^
	    !!(inv & UXT_INV_VIA_OUT))
		return false;
	if (ip->proto && ((iph->protocol != ip->proto) ^ !!(inv & UXT_INV_PROTO)))
		return false;
	if (((ip->flags & UXT_F_FRAG) && !fragoff) ^ !!(inv & UXT_INV_FRAG))
		return false;
	return true;
}

static void report_rule(struct uxt_ns *ns, const struct rt_table *rt,
			const struct rt_entry *e, unsigned int hook,
			struct uxt_pkt *pkt, const struct uxt_iface *in,
			const struct uxt_iface *out)
{
	const struct uxt_chain *ch = rt->src->chains[e->chain];
	int comment = COMMENT_RULE;

	if (e->unconditional_std)
		comment = uxt_chain_builtin(ch) ? COMMENT_POLICY : COMMENT_RETURN;
	if (ns->ev.rule)
		ns->ev.rule(ns->ev.ctx, rt->src->def->name, hook, ch->name,
			    e->rulenum, comment_names[comment], e->rule);
	if (pkt->nf_trace)
		uxt_log_trace(ns, pkt, hook, in, out, rt->src->def->name,
			      ch->name, comment_names[comment], e->rulenum);
}

static const char nulldev[UXT_IFNAMSIZ];

/* ipt_do_table() */
static unsigned int do_table(struct uxt_ns *ns, struct rt_table *rt,
			     unsigned int hook, struct uxt_pkt *pkt,
			     const struct uxt_iface *in,
			     const struct uxt_iface *out)
{
	const char *indev = in ? in->name : nulldev;
	const char *outdev = out ? out->name : nulldev;
	struct uxt_xt_param par = {
		.ns = ns,
		.table = rt->src->def->name,
		.hook = hook,
		.in = in,
		.out = out,
		.now_ns = ns->now_ns,
	};
	unsigned int verdict = UXT_NF_DROP, stackidx = 0;
	struct rt_entry *e;
	int32_t pos = rt->hook_entry[hook];
	struct uxt_cls_walk cw;

	par.fragoff = uxt_pkt_fragoff(pkt);
	par.thoff = (uint16_t)uxt_ip_hlen(pkt);
	if (pos < 0)
		return UXT_NF_ACCEPT;
	uxt_cls_walk_init(&cw, pkt, par.fragoff, par.thoff);
	for (;;) {
		const struct uxt_xrec *m, *t;
		unsigned int k = 0;

		e = &rt->e[pos];
		/* the classifier skips the rules whose header part cannot
		 * match, which ip_packet_match() would pass over */
		if (rt->cls && e->rule) {
			uint32_t first = rt->chain_first[e->chain];

			pos = (int32_t)(first + uxt_cls_next(rt->cls, &cw, e->chain,
							     (uint32_t)pos - first));
			e = &rt->e[pos];
		}
		if (e->rule) {
			if (!ip_packet_match(uxt_iph(pkt), indev, outdev, &e->rule->ip,
					     par.fragoff))
				goto next;
			uxt_rule_foreach_match(e->rule, m) {
				const struct uxt_ext *ext = uxt_ext_by_id(m->ext);

				par.info = m->data;
				par.priv = e->priv ? e->priv[k] : NULL;
				k++;
				if (ext->match && !ext->match(pkt, &par))
					goto no_match;
			}
		}
		e->cnt.pcnt++;
		e->cnt.bcnt += pkt->len;
		report_rule(ns, rt, e, hook, pkt, in, out);
		if (e->verdict >= 0) {
			int v = e->verdict;

			if (v == UXT_V_CONTINUE) {
				pos++;
				continue;
			}
			if (v == UXT_V_RETURN) {
				if (stackidx == 0) {
					pos = rt->underflow[hook];
				} else {
					pos = ns->jumpstack[--stackidx] + 1;
				}
				continue;
			}
			if (v != UXT_V_JUMP) {
				verdict = v == UXT_V_ACCEPT ? UXT_NF_ACCEPT :
					  v == UXT_V_QUEUE ? UXT_NF_QUEUE : UXT_NF_DROP;
				break;
			}
			if (e->jump < 0) {
				verdict = UXT_NF_DROP;
				break;
			}
			if (e->jump != pos + 1 && !e->is_goto) {
				if (stackidx >= rt->stacksize ||
				    stackidx >= ns->jumpstack_size) {
					verdict = UXT_NF_DROP;
					break;
				}
				ns->jumpstack[stackidx++] = pos;
			}
			pos = e->jump;
			continue;
		}
		t = uxt_rule_target(e->rule);
		par.info = t->data;
		par.priv = e->priv ? e->priv[k] : NULL;
		verdict = uxt_ext_by_id(t->ext)->target ?
				  uxt_ext_by_id(t->ext)->target(pkt, &par) :
				  UXT_XT_CONTINUE;
		if (verdict != UXT_XT_CONTINUE)
			break;
		/* the target may have changed the packet */
		uxt_cls_walk_reset(&cw);
		pos++;
		continue;
no_match:
		if (par.hotdrop) {
			verdict = UXT_NF_DROP;
			break;
		}
next:
		pos++;
	}
	if (ns->ev.verdict) {
		const struct uxt_chain *ch = rt->src->chains[e->chain];

		ns->ev.verdict(ns->ev.ctx, rt->src->def->name, hook, verdict,
			       ch->name, e->rulenum);
	}
	return verdict;
}

unsigned int uxt_ns_run_table(struct uxt_ns *ns, int table, unsigned int hook,
			      struct uxt_pkt *pkt, const struct uxt_iface *in,
			      const struct uxt_iface *out)
{
	if (table < 0 || table >= UXT_NTABLES || hook >= UXT_NHOOKS ||
	    !ns->tables[table])
		return UXT_NF_ACCEPT;
	return do_table(ns, ns->tables[table], hook, pkt, in, out);
}

#ifndef UXT_HAVE_NAT
/*
 * The checks of nf_nat_icmp_reply_translation() on a related ICMP
 * message, which come before any translation (and there is none without
 * a binding): the ICMP header and the quoted IP header present, the ICMP
 * checksum right (unless the device completes it), a redirect only about
 * a connection both of whose manips are set up and not translated.
 */
static unsigned int nat_icmp_checks(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	unsigned int hl = uxt_ip_hlen(pkt);
	const uint8_t *icmp = uxt_pkt_header(pkt, hl, 8 + 20);
	uint32_t status = pkt->ct->status;

	if (icmp && !pkt->csum_partial &&
	    uxt_csum(pkt->data + hl, pkt->len - hl, 0) != 0)
		icmp = NULL;
	if (icmp && icmp[0] == 5 &&
	    ((status & UXT_IPS_NAT_DONE_MASK) != UXT_IPS_NAT_DONE_MASK ||
	     (status & UXT_IPS_NAT_MASK)))
		icmp = NULL;
	if (!icmp) {
		ns->drop_reason = "nat: related ICMP message refused";
		return UXT_NF_DROP;
	}
	return UXT_NF_ACCEPT;
}

/*
 * Until nat.c brings nf_nat_inet_fn (ct.h, uxt_nat_hook): the nat chain
 * runs for the first packet of each manip (DST at PREROUTING and OUTPUT,
 * SRC at INPUT and POSTROUTING) of a NEW or RELATED entry, and the entry
 * records a null binding (the manip's NAT_DONE bit); no address changes.
 */
static unsigned int nat_null_binding(struct uxt_ns *ns, unsigned int hook,
				     struct uxt_pkt *pkt,
				     const struct uxt_iface *in,
				     const struct uxt_iface *out)
{
	uint32_t done = (hook == UXT_HOOK_PRE_ROUTING || hook == UXT_HOOK_LOCAL_OUT) ?
				UXT_IPS_DST_NAT_DONE : UXT_IPS_SRC_NAT_DONE;
	unsigned int v;

	switch (pkt->ctinfo) {
	case UXT_CT_RELATED:
	case UXT_CT_RELATED_REPLY:
		/* nf_nat_ipv4_fn(): a related ICMP message is translated
		 * with its connection, never looked up in the chains */
		if (uxt_iph(pkt)->protocol == 1)
			return nat_icmp_checks(ns, pkt);
		break;
	case UXT_CT_NEW:
		break;
	default:
		return UXT_NF_ACCEPT;
	}
	if (pkt->ct->status & done)
		return UXT_NF_ACCEPT;
	v = do_table(ns, ns->tables[NAT_TABLE], hook, pkt, in, out);
	if (v == UXT_NF_ACCEPT)
		pkt->ct->status |= done;
	return v;
}
#endif

/* The nat table's place: nf_nat_inet_fn, only for packets with an entry
 * (without conntrack, untracked or invalid: no NAT at all) */
static unsigned int nat_step(struct uxt_ns *ns, unsigned int hook,
			     struct uxt_pkt *pkt, const struct uxt_iface *in,
			     const struct uxt_iface *out)
{
	if (!ns->ct_active || !pkt->ct || (pkt->ct->status & UXT_IPS_TEMPLATE))
		return UXT_NF_ACCEPT;
#ifdef UXT_HAVE_NAT
	return uxt_nat_hook(ns, hook, pkt, in, out);
#else
	return nat_null_binding(ns, hook, pkt, in, out);
#endif
}

/*
 * ipt_mangle_out(): a packet whose addresses, mark or TOS the table
 * changed is routed again.  The host model has no policy rules, so a new
 * mark or TOS finds the same route, but the lookup is made all the same:
 * it is the one that refuses a loopback source leaving by a real device,
 * which a raw socket's first lookup (made without the header's source)
 * never checked.
 */
static unsigned int mangle_out(struct uxt_ns *ns, struct uxt_pkt *pkt,
			       const struct uxt_iface *out)
{
	uint32_t saddr = uxt_iph(pkt)->saddr, daddr = uxt_iph(pkt)->daddr;
	uint32_t mark = pkt->mark;
	uint8_t tos = uxt_iph(pkt)->tos;
	unsigned int v;

	v = do_table(ns, ns->tables[MANGLE_TABLE], UXT_HOOK_LOCAL_OUT, pkt, NULL,
		     out);
	if (v == UXT_NF_ACCEPT && (uxt_iph(pkt)->saddr != saddr ||
				   uxt_iph(pkt)->daddr != daddr ||
				   pkt->mark != mark ||
				   uxt_iph(pkt)->tos != tos) &&
	    uxt_ns_reroute(ns, pkt))
		v = UXT_NF_DROP;
	return v;
}

/*
 * nf_hook(): the steps at hook in priority order.  ACCEPT ends a table,
 * not the hook; anything else but ACCEPT ends the hook.
 */
static unsigned int nf_hook(struct uxt_ns *ns, unsigned int hook,
			    struct uxt_pkt *pkt, const struct uxt_iface *in,
			    const struct uxt_iface *out)
{
	ns->drop_reason = NULL;
	for (int i = 0; hook_tables[hook][i] != STEP_END; i++) {
		int t = hook_tables[hook][i];
		unsigned int v;

		if (t == STEP_CT_IN || t == STEP_CONFIRM) {
			if (!ns->ct_active)
				continue;
			if (t == STEP_CT_IN) {
				v = uxt_ct_in(ns, ns->ct, hook, pkt);
				ns->drop_reason = "conntrack: table full, dropping packet";
			} else {
				v = uxt_ct_confirm(ns, ns->ct, pkt);
				ns->drop_reason = "conntrack: insert failed";
			}
			if (v != UXT_NF_ACCEPT)
				return UXT_NF_DROP;
			ns->drop_reason = NULL;
			continue;
		}
		if (!ns->tables[t])
			continue;
		if (t == NAT_TABLE)
			v = nat_step(ns, hook, pkt, in, out);
		else if (t == MANGLE_TABLE && hook == UXT_HOOK_LOCAL_OUT)
			v = mangle_out(ns, pkt, out);
		else
			v = do_table(ns, ns->tables[t], hook, pkt, in, out);
		if (v != UXT_NF_ACCEPT) {
			/* QUEUE without a listener drops */
			return v == UXT_NF_STOLEN ? v : UXT_NF_DROP;
		}
	}
	return UXT_NF_ACCEPT;
}

/* Paths */

void uxt_ns_drop(struct uxt_ns *ns, struct uxt_pkt *pkt, const char *reason)
{
	/* a conntrack step's drop has a reason, a table's none */
	if (!reason)
		reason = ns->drop_reason;
	ns->drop_reason = NULL;
	if (ns->ev.drop)
		ns->ev.drop(ns->ev.ctx, pkt, reason);
	uxt_pkt_release(pkt);
}

/* The packet leaves through dev, fragmented to mtu if it must be. */
static void xmit(struct uxt_ns *ns, struct uxt_pkt *pkt,
		 const struct uxt_iface *dev, uint32_t mtu);

static uint32_t route_mtu(const struct uxt_route_result *rt)
{
	return rt->mtu ? rt->mtu : rt->dev->mtu;
}

/* The packet as a capture on dev sees it, which lo's keeps partial
 * checksums of (reported completed, as a capture's reader completes them):
 * it goes on to be received with its checksum still partial. */
static void xmit_event(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       const struct uxt_iface *dev)
{
	struct uxt_pkt done;

	if (!ns->ev.xmit)
		return;
	if (!pkt->csum_partial) {
		ns->ev.xmit(ns->ev.ctx, pkt, dev);
		return;
	}
	if (uxt_pkt_clone(&done, pkt))
		return;
	uxt_pkt_csum_help(&done);
	ns->ev.xmit(ns->ev.ctx, &done, dev);
	uxt_pkt_release(&done);
}

static void deliver(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	if (ns->ev.deliver)
		ns->ev.deliver(ns->ev.ctx, pkt);
	uxt_pkt_release(pkt);
}

/* ip_local_deliver(): reassembly, then INPUT */
static void local_deliver(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	const struct uxt_iface *in = pkt->indev;

	if (uxt_iph(pkt)->frag_off & htons(UXT_IP_MF | UXT_IP_OFFSET)) {
		/* held until complete; a complete datagram comes back here */
		if (uxt_frag_add(ns->frags, ns, pkt) <= 0)
			return;
	}
	if (nf_hook(ns, UXT_HOOK_LOCAL_IN, pkt, in, NULL) != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
		return;
	}
	deliver(ns, pkt);
}

/* ip_forward() */
static void forward(struct uxt_ns *ns, struct uxt_pkt *pkt,
		    const struct uxt_route_result *rt)
{
	struct uxt_iphdr *iph = uxt_iph(pkt);
	const struct uxt_iface *in = pkt->indev;

	if (pkt->pkt_type != UXT_PACKET_HOST) {
		uxt_ns_drop(ns, pkt, "forwarding a packet not addressed to this host");
		return;
	}
	if (iph->ttl <= 1) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_TIME_EXCEEDED, 0, 0);
		uxt_ns_drop(ns, pkt, "TTL exceeded in transit");
		return;
	}
	/* strict source routing permits no gateway */
	if (uxt_ipopt_strict_gw(pkt, rt)) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_DEST_UNREACH, UXT_ICMP_SR_FAILED,
			      0);
		uxt_ns_drop(ns, pkt, "strict source route to a gateway");
		return;
	}
	/* ip_exceeds_mtu(): a datagram reassembled from fragments that fit
	 * may be sent in fragments again even with DF */
	if ((iph->frag_off & htons(UXT_IP_DF)) && pkt->len > rt->mtu &&
	    (!pkt->frag_max_size || pkt->frag_max_size > rt->mtu)) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_DEST_UNREACH,
			      UXT_ICMP_FRAG_NEEDED, rt->mtu);
		uxt_ns_drop(ns, pkt, "too big for the path, DF set");
		return;
	}
	/* ip_decrease_ttl(): the checksum follows */
	{
		uint16_t old = htons((uint16_t)(iph->ttl << 8 | iph->protocol));

		iph->ttl--;
		uxt_csum_replace2(&iph->check, old,
				  htons((uint16_t)(iph->ttl << 8 | iph->protocol)));
	}
	/* none for a source-routed datagram */
	if (rt->redirect && !pkt->opt.srr)
		uxt_icmp_redirect(ns, pkt, rt->nexthop);
	pkt->outdev = rt->dev;
	pkt->nexthop = rt->nexthop;
	if (nf_hook(ns, UXT_HOOK_FORWARD, pkt, in, rt->dev) != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
		return;
	}
	/* ip_forward_finish(): ip_forward_options() */
	if (pkt->opt.optlen)
		uxt_ipopt_forward(ns, pkt, rt);
	if (nf_hook(ns, UXT_HOOK_POST_ROUTING, pkt, in, rt->dev) != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
		return;
	}
	xmit(ns, pkt, rt->dev, route_mtu(rt));
}

static void output(struct uxt_ns *ns, struct uxt_pkt *pkt, bool raw_socket,
		   const struct uxt_route_result *routed);

/*
 * nf_defrag_ipv4 at -400 of PREROUTING and OUTPUT while conntrack is
 * active: a fragment is held until its datagram is complete, which then
 * goes through the hook (and is cut again on output to its largest
 * fragment's size, frag_max_size).  True when pkt goes on (whole).
 */
static bool ct_defrag(struct uxt_ns *ns, struct uxt_pkt *pkt, unsigned int hook)
{
	const char *reason = NULL;
	int r;

	if (!ns->ct_active || (!pkt->ct && pkt->ctinfo == UXT_CT_UNTRACKED) ||
	    !(uxt_iph(pkt)->frag_off & htons(UXT_IP_MF | UXT_IP_OFFSET)))
		return true;
	r = uxt_frag_add_user(ns->frags, ns, pkt,
			      hook == UXT_HOOK_PRE_ROUTING ? UXT_DEFRAG_CONNTRACK_IN :
							     UXT_DEFRAG_CONNTRACK_OUT,
			      &reason);
	if (r == 1)
		return true;
	if (r < 0)
		uxt_ns_drop(ns, pkt, reason);
	return false;
}

/*
 * ip_rcv() and ip_rcv_finish().  A datagram this host sent itself comes
 * back with the route it was sent with (looped): the kernel keeps skb_dst
 * across loopback, and routing it again as input would find a local source
 * on lo martian.  Every route that loops a datagram back carries
 * RTCF_LOCAL (any route out of lo does, whatever its destination), so its
 * input is local delivery.
 */
static void receive(struct uxt_ns *ns, struct uxt_pkt *pkt,
		    const struct uxt_iface *dev, bool looped)
{
	struct uxt_route_result rt;
	const char *reason = NULL;
	const struct uxt_iphdr *iph;
	uint32_t daddr;

	pkt->indev = dev;
	pkt->outdev = NULL;
	if (!pkt->tstamp_ns)
		pkt->tstamp_ns = ns->now_ns;
	reason = uxt_pkt_rcv_check(pkt);
	if (reason) {
		uxt_ns_drop(ns, pkt, reason);
		return;
	}
	/* ip_rcv_core() clears the control block (IPCB) */
	memset(&pkt->opt, 0, sizeof(pkt->opt));
	if (!ct_defrag(ns, pkt, UXT_HOOK_PRE_ROUTING))
		return;
	daddr = uxt_iph(pkt)->daddr;
	if (nf_hook(ns, UXT_HOOK_PRE_ROUTING, pkt, dev, NULL) != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
		return;
	}
	iph = uxt_iph(pkt);
	/* nf_nat_ipv4_pre_routing() drops the route of a datagram whose
	 * destination it changed */
	if (looped && iph->daddr == daddr) {
		/* the route it was sent with: out of lo (RTCF_LOCAL only), or
		 * the broadcast or multicast route of a copy ip_mc_output()
		 * looped back; its options see its type and spec_dst */
		memset(&rt, 0, sizeof(rt));
		rt.type = dev->loopback ? UXT_RTN_LOCAL :
			  (ntohl(iph->daddr) & 0xF0000000u) == 0xE0000000u ?
			  UXT_RTN_MULTICAST : UXT_RTN_BROADCAST;
		rt.src = ns->host ? uxt_host_spec_dst(ns->host, dev, iph->saddr,
						      iph->daddr, rt.type) :
				    iph->daddr;
		/* loopback_xmit()'s eth_type_trans(): lo's all-zero Ethernet
		 * header, which it keeps if a source route forwards it */
		if (dev->loopback && pkt->mac_len == 0) {
			memset(pkt->mac, 0, 12);
			pkt->mac[12] = 0x08;
			pkt->mac[13] = 0x00;
			pkt->mac_len = 14;
			pkt->hwtype = UXT_ARPHRD_LOOPBACK;
		}
	} else if (!ns->host ||
		   uxt_host_route_input(ns->host, dev, iph->saddr, iph->daddr,
					&rt, &reason)) {
		uxt_ns_drop(ns, pkt, reason ? reason : "no host model");
		return;
	}
	/* ip_rcv_options(), for looped-back datagrams too */
	if (uxt_ip_hlen(pkt) > sizeof(struct uxt_iphdr)) {
		reason = uxt_ipopt_rcv(ns, pkt, dev, &rt);
		if (reason) {
			uxt_ns_drop(ns, pkt, reason);
			return;
		}
	}
	switch (rt.type) {
	case UXT_RTN_LOCAL:
	case UXT_RTN_BROADCAST:
	case UXT_RTN_MULTICAST:
		/* eth_type_trans() set it from the link-layer address; a
		 * datagram without one takes it from the route */
		if (pkt->pkt_type == UXT_PACKET_HOST) {
			if (rt.type == UXT_RTN_BROADCAST)
				pkt->pkt_type = UXT_PACKET_BROADCAST;
			else if (rt.type == UXT_RTN_MULTICAST)
				pkt->pkt_type = UXT_PACKET_MULTICAST;
		}
		local_deliver(ns, pkt);
		return;
	case UXT_RTN_UNICAST:
		forward(ns, pkt, &rt);
		return;
	default:
		uxt_icmp_route_error(ns, pkt, &rt);
		uxt_ns_drop(ns, pkt, "no route");
		return;
	}
}

/*
 * process_backlog(): the looped-back datagrams, each received with the
 * depth of the packet that sent it.  Received in softirq context, so what
 * they loop back in turn waits its own turn.
 */
static void process_backlog(struct uxt_ns *ns)
{
	unsigned int depth = ns->depth;
	bool in_softirq = ns->in_softirq;
	struct looped *l;

	ns->in_softirq = true;
	while ((l = ns->backlog)) {
		ns->backlog = l->next;
		if (!ns->backlog)
			ns->backlog_tail = &ns->backlog;
		ns->depth = l->depth;
		receive(ns, &l->pkt, l->dev, true);
		free(l);
	}
	ns->depth = depth;
	ns->in_softirq = in_softirq;
}

/*
 * netif_rx() of a datagram looped back to this host.  From a process (a
 * socket's send) the backlog is processed before the send returns, when
 * the softirqs run on local_bh_enable; while a received datagram is being
 * handled, after it.  Consumes pkt.
 */
static void netif_rx(struct uxt_ns *ns, struct uxt_pkt *pkt,
		     const struct uxt_iface *dev)
{
	struct looped *l = xcalloc(1, sizeof(*l));

	if (pkt->owned) {
		l->pkt = *pkt;
		pkt->owned = NULL;
		pkt->data = NULL;
	} else if (uxt_pkt_clone(&l->pkt, pkt)) {
		free(l);
		return;
	}
	l->dev = dev;
	l->depth = ns->depth;
	if (!ns->backlog_tail)
		ns->backlog_tail = &ns->backlog;
	*ns->backlog_tail = l;
	ns->backlog_tail = &l->next;
	if (!ns->in_softirq)
		process_backlog(ns);
}

void uxt_ns_receive(struct uxt_ns *ns, struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	if (dev->loopback) {
		/* what lo carries was sent by this host: it goes the way out,
		 * but a capture's record of it may hold anything */
		pkt->outdev = NULL;
		pkt->pkt_type = UXT_PACKET_HOST;
		uxt_ns_output(ns, pkt);
		return;
	}
	ns->in_softirq = true;
	receive(ns, pkt, dev, false);
	ns->in_softirq = false;
	process_backlog(ns);
	ct_done(ns);
}

/*
 * ip_mc_output(): a copy of a broadcast, or of a multicast to a group this
 * host has joined, goes through POSTROUTING and is looped back to this
 * host, received on the sending device as PACKET_LOOPBACK without its
 * link-layer header, through netif_rx(): from a process, before the
 * original goes on to POSTROUTING.
 */
static void mc_loop(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	struct uxt_pkt copy;

	if (uxt_pkt_clone(&copy, pkt))
		return;
	/* skb_clone() leaves the socket behind */
	copy.has_sock = false;
	if (nf_hook(ns, UXT_HOOK_POST_ROUTING, &copy, NULL, dev) != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, &copy, NULL);
		return;
	}
	copy.pkt_type = UXT_PACKET_LOOPBACK;
	copy.mac_len = 0;
	netif_rx(ns, &copy, dev);
}

/* A datagram sent by this host: routed here for a raw socket (bound to
 * pkt->outdev, if set) and a datagram seen on lo, or already routed by the
 * code that made it. */
static void output(struct uxt_ns *ns, struct uxt_pkt *pkt, bool raw_socket,
		   const struct uxt_route_result *routed)
{
	struct uxt_route_result rt, *saved_rt;
	struct uxt_iphdr *iph = uxt_iph(pkt);
	const char *reason = NULL;
	const struct uxt_iface *dev, *bound = routed ? NULL : pkt->outdev;
	const struct uxt_iface *saved_bound;
	unsigned int v;

	pkt->indev = NULL;
	if (!pkt->tstamp_ns)
		pkt->tstamp_ns = ns->now_ns;
	if (routed) {
		rt = *routed;
	} else if (!ns->host ||
		   uxt_host_route_output(ns->host, iph->daddr, pkt->outdev, &rt,
					 &reason)) {
		uxt_ns_drop(ns, pkt, reason ? reason : "no host model");
		return;
	}
	dev = rt.dev;
	pkt->outdev = dev;
	pkt->nexthop = rt.nexthop;
	if (raw_socket) {
		/* raw_send_hdrinc(): no fragmenting for a raw socket */
		if (pkt->len > dev->mtu) {
			uxt_ns_drop(ns, pkt, "larger than the device MTU (EMSGSIZE)");
			return;
		}
		/* the kernel fills in what a raw socket with IP_HDRINCL leaves
		 * to it */
		iph->tot_len = htons((uint16_t)pkt->len);
		if (!iph->saddr)
			iph->saddr = rt.src;
		if (!iph->id)
			iph->id = htons(uxt_ns_next_ip_id(ns, iph->daddr));
		uxt_ip_send_check(pkt);
	}
	if (!ct_defrag(ns, pkt, UXT_HOOK_LOCAL_OUT))
		return;
	/* a table at OUTPUT may have the packet routed again
	 * (uxt_ns_reroute): it goes on along that route */
	saved_rt = ns->out_rt;
	saved_bound = ns->out_bound;
	ns->out_rt = &rt;
	ns->out_bound = bound;
	v = nf_hook(ns, UXT_HOOK_LOCAL_OUT, pkt, NULL, dev);
	ns->out_rt = saved_rt;
	ns->out_bound = saved_bound;
	if (v != UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
		return;
	}
	dev = rt.dev;
	iph = uxt_iph(pkt);
	if (dev->loopback) {
		if (nf_hook(ns, UXT_HOOK_POST_ROUTING, pkt, NULL, dev) !=
		    UXT_NF_ACCEPT) {
			uxt_ns_drop(ns, pkt, NULL);
			return;
		}
		/* it leaves through lo (a capture on lo sees it there), and
		 * loopback_xmit() has it received again with its route */
		xmit_event(ns, pkt, dev);
		pkt->pkt_type = UXT_PACKET_HOST;
		pkt->has_sock = false;
		netif_rx(ns, pkt, dev);
		return;
	}
	/* the route of a multicast carries RTCF_LOCAL only for a group the
	 * device has joined; a raw socket's IP_MULTICAST_LOOP is on */
	if (rt.type == UXT_RTN_BROADCAST ||
	    (rt.type == UXT_RTN_MULTICAST &&
	     uxt_host_mc_joined(ns->host, dev, iph->daddr)))
		mc_loop(ns, pkt, dev);
	if (rt.type == UXT_RTN_MULTICAST && iph->ttl == 0) {
		/* multicasts with TTL 0 do not leave the host */
		uxt_ns_drop(ns, pkt, "multicast with TTL 0");
	} else if (nf_hook(ns, UXT_HOOK_POST_ROUTING, pkt, NULL, dev) !=
		   UXT_NF_ACCEPT) {
		uxt_ns_drop(ns, pkt, NULL);
	} else {
		xmit(ns, pkt, dev, route_mtu(&rt));
	}
}

void uxt_ns_send(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	/* what raw_send_hdrinc() refuses */
	if (pkt->len < sizeof(struct uxt_iphdr) || pkt->len > UXT_PKT_MAXLEN ||
	    uxt_ip_hlen(pkt) < sizeof(struct uxt_iphdr) ||
	    uxt_ip_hlen(pkt) > pkt->len) {
		uxt_ns_drop(ns, pkt, "not a valid IP header for a raw socket");
		return;
	}
	output(ns, pkt, true, NULL);
	ct_done(ns);
}

void uxt_ns_output(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	if (pkt->len < sizeof(struct uxt_iphdr) ||
	    uxt_ip_hlen(pkt) < sizeof(struct uxt_iphdr) ||
	    uxt_ip_hlen(pkt) > pkt->len) {
		uxt_ns_drop(ns, pkt, "not a valid IP header");
		return;
	}
	output(ns, pkt, false, NULL);
	ct_done(ns);
}

/* ip_route_me_harder(): from the packet's source when it is one a host
 * may send from (FLOWI_FLAG_ANYSRC), by its socket's device if bound */
int uxt_ns_reroute(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	struct uxt_route_result rt;
	const char *reason = NULL;
	uint32_t s = ntohl(iph->saddr), saddr = 0;

	if (!ns->out_rt)
		return 0;
	if (!ns->host) {
		ns->drop_reason = "no host model";
		return -1;
	}
	/* inet_addr_type() LOCAL or UNICAST: looked up from it */
	if (s != 0 && s != 0xFFFFFFFFu && (s & 0xF0000000u) != 0xE0000000u &&
	    !uxt_host_is_broadcast(ns->host, NULL, iph->saddr))
		saddr = iph->saddr;
	if (uxt_host_route_output_anysrc(ns->host, saddr, iph->daddr,
					 ns->out_bound, &rt, &reason) || rt.error) {
		ns->drop_reason = reason ? reason : "no route";
		return -1;
	}
	*ns->out_rt = rt;
	pkt->outdev = rt.dev;
	pkt->nexthop = rt.nexthop;
	return 0;
}

unsigned int uxt_ns_depth(const struct uxt_ns *ns)
{
	return ns->depth;
}

void uxt_ns_local_out(struct uxt_ns *ns, struct uxt_pkt *pkt,
		      const struct uxt_route_result *rt)
{
	if (ns->ev.local_out) {
		/* a live front end hands it to the kernel */
		ns->ev.local_out(ns->ev.ctx, pkt, rt);
		return;
	}
	/* replies to replies cannot happen (REJECT never answers an ICMP
	 * error or a RST), but a bound keeps a bad ruleset from recursing */
	if (ns->depth >= 8) {
		uxt_ns_drop(ns, pkt, "nested packets beyond depth 8");
		return;
	}
	ns->depth++;
	output(ns, pkt, false, rt);
	ns->depth--;
}

static void xmit(struct uxt_ns *ns, struct uxt_pkt *pkt,
		 const struct uxt_iface *dev, uint32_t mtu)
{
	/* the device (or ip_do_fragment) completes the checksum */
	uxt_pkt_csum_help(pkt);
	if (pkt->len > mtu || (pkt->frag_max_size &&
			       pkt->len > pkt->frag_max_size)) {
		uxt_fragment(ns, pkt, dev, mtu);
		return;
	}
	if (ns->ev.xmit)
		ns->ev.xmit(ns->ev.ctx, pkt, dev);
	uxt_pkt_release(pkt);
}

void uxt_ns_xmit_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
			  const struct uxt_iface *dev)
{
	if (ns->ev.xmit)
		ns->ev.xmit(ns->ev.ctx, pkt, dev);
	uxt_pkt_release(pkt);
}

void uxt_ns_log(struct uxt_ns *ns, unsigned int level, const char *line)
{
	if (ns->ev.log)
		ns->ev.log(ns->ev.ctx, level, line);
}

void uxt_ns_nflog(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		  unsigned int hook, uint16_t group, const char *prefix,
		  uint32_t copy_len)
{
	if (ns->ev.nflog)
		ns->ev.nflog(ns->ev.ctx, pkt, hook, group, prefix, copy_len);
}

void uxt_ns_deliver_reassembled(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	local_deliver(ns, pkt);
}

struct uxt_icmp_limits *uxt_ns_icmp_limits(struct uxt_ns *ns)
{
	return ns->icmp;
}

/* Live front ends */

unsigned int uxt_ns_hook(struct uxt_ns *ns, unsigned int hook,
			 struct uxt_pkt *pkt, const struct uxt_iface *in,
			 const struct uxt_iface *out)
{
	struct uxt_ct *before = pkt->ct;
	unsigned int v;

	if (hook >= UXT_NHOOKS)
		return UXT_NF_DROP;
	v = nf_hook(ns, hook, pkt, in, out);
	/* between hooks the packet holds its entry (an unconfirmed one
	 * included) until uxt_ns_hook_finish */
	if (pkt->ct != before) {
		struct uxt_ct *now = pkt->ct;
		uint8_t ctinfo = pkt->ctinfo;

		if (before) {
			pkt->ct = before;
			uxt_ct_pkt_release(ns->ct, pkt);
		}
		pkt->ct = now;
		pkt->ctinfo = ctinfo;
		uxt_ct_pkt_get(ns->ct, pkt);
	}
	ct_done(ns);
	return v;
}

void uxt_ns_hook_finish(struct uxt_ns *ns, struct uxt_pkt *pkt)
{
	uxt_ct_pkt_release(ns->ct, pkt);
	ct_done(ns);
	uxt_pkt_release(pkt);
}

size_t uxt_ns_counters(const struct uxt_ns *ns, int table,
		       struct uxt_counters *out, size_t max)
{
	const struct rt_table *rt;

	if (table < 0 || table >= UXT_NTABLES || !(rt = ns->tables[table]))
		return 0;
	for (uint32_t i = 0; i < rt->n && i < max; i++)
		out[i] = rt->e[i].cnt;
	return rt->n;
}

/* The classifier */

void uxt_ns_set_classifier(struct uxt_ns *ns, enum uxt_cls_mode mode)
{
	ns->cls_mode = mode;
	for (int i = 0; i < UXT_NTABLES; i++) {
		struct rt_table *rt = ns->tables[i];

		if (!rt)
			continue;
		uxt_cls_table_free(rt->cls);
		rt->cls = uxt_cls_table_new(rt->src, mode);
	}
}

int uxt_ns_classifier_from_env(struct uxt_ns *ns, struct uxt_err *err)
{
	const char *v = getenv("UXT_CLASSIFIER");
	enum uxt_cls_mode mode;

	if (uxt_cls_mode_parse(v, &mode))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "UXT_CLASSIFIER=%s: expected on, off or auto", v);
	uxt_ns_set_classifier(ns, mode);
	return 0;
}

void uxt_ns_classifier_stats(const struct uxt_ns *ns, struct uxt_cls_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < UXT_NTABLES; i++)
		if (ns->tables[i])
			uxt_cls_table_stats(ns->tables[i]->cls, st);
}
