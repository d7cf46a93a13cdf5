/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection tracking of one namespace (nf_conntrack), and the interface
 * NAT, the conntrack extensions and the conntrack command build on.
 *
 * An entry (struct uxt_ct) holds two tuples, ORIGINAL (as the first packet
 * saw it) and REPLY (its inverse, rewritten by NAT), the state of its
 * protocol tracker, status bits with the kernel's values (IPS_*), the
 * mark, counters, and an absolute expiry time on the namespace's clock.
 *
 * Life of an entry, as in the kernel (kernel-behaviour.md 1.4, 4):
 *   uxt_ct_in()       at PREROUTING and OUTPUT (priority -200): a packet
 *                     without an entry is looked up by its tuple; found, it
 *                     gets the entry and its ctinfo; not found, a new
 *                     unconfirmed entry (NEW) that only this packet holds.
 *                     The protocol tracker may refuse the packet (it then
 *                     has no entry: INVALID to the rules).
 *   uxt_ct_confirm()  at INPUT and POSTROUTING (priority INT_MAX): an
 *                     unconfirmed entry enters the table ([NEW] event); a
 *                     packet dropped before never leaves an entry.
 *   expiry            on the namespace's clock: uxt_ct_table_expire(),
 *                     called by the engine whenever the clock moves, removes
 *                     the entries whose time is up ([DESTROY] events), in
 *                     order of expiry.
 *
 * Entries and packets: a packet points at its entry (pkt->ct) without
 * counting a reference, and so do its copies (looped-back broadcasts,
 * fragments, the ICMP errors and resets made about it).  An entry that
 * leaves the table while packets still point at it (killed by a RST, by a
 * SYN reopening it, expired while being looked up) and every unconfirmed
 * entry are kept until uxt_ct_table_release_pending(), which the engine
 * calls once the packet it was given and everything it set off are done.
 * An unconfirmed entry whose packet was dropped is thus freed without an
 * event, as nf_ct_put() frees it in the kernel.  A packet that lives on
 * between calls of the engine (a live front end's, uxt_ns_hook) holds its
 * entry with uxt_ct_pkt_get() until uxt_ct_pkt_release().
 *
 * Events (nf_conntrack_ecache): a change caches its IPCT_* bit in the
 * entry (pending_events); the cache is delivered when a packet of the
 * entry passes confirm (INPUT or POSTROUTING), [NEW] included.  Events of
 * a packet dropped before confirm wait in the cache for the next packet
 * that gets there.  [DESTROY] is delivered at once, and the cache of a
 * destroyed entry is never delivered.  Whether an entry reports events at
 * all is decided when it is created: nf_conntrack_events 1 always, 2 only
 * when someone listens (the table has an event callback), 0 never; a CT
 * --ctevents template narrows them to its list.
 *
 * Time: the table keeps the latest time it was given (its clock).  Time
 * never runs backward for a table: when the namespace's clock is set
 * earlier than the table's (a capture older than the last one, or records
 * out of order), every entry is moved back by the difference, so that it
 * keeps the lifetime it had left.  docs/conntrack.md has the rule by which
 * a listing made later (conntrack -L) chooses its "now".
 *
 * Nothing here is global; the table belongs to its namespace.  Conntrack is
 * active in a namespace only while its ruleset has a rule that needs it
 * (kernel-behaviour.md 0.1); the engine decides (uxt_ns_ct_active).
 */
#ifndef UXT_CT_H
#define UXT_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct uxt_buf;
struct uxt_iface;
struct uxt_ns;
struct uxt_pkt;

/* enum ip_conntrack_info, the values the kernel gives skb->_nfct's low
 * bits (pkt->ctinfo).  A packet without an entry has ct NULL and ctinfo 0,
 * an untracked one ct NULL and ctinfo UXT_CT_UNTRACKED. */
enum uxt_ctinfo {
	UXT_CT_ESTABLISHED = 0,
	UXT_CT_RELATED = 1,
	UXT_CT_NEW = 2,
	UXT_CT_IS_REPLY = 3,
	UXT_CT_ESTABLISHED_REPLY = 3,
	UXT_CT_RELATED_REPLY = 4,
	UXT_CT_UNTRACKED = 7,
};

enum uxt_ct_dir {
	UXT_CT_DIR_ORIGINAL = 0,
	UXT_CT_DIR_REPLY = 1,
};

/* enum ip_conntrack_status bits, as conntrack -L and --ctstatus name them */
#define UXT_IPS_EXPECTED (1u << 0)
#define UXT_IPS_SEEN_REPLY (1u << 1)
#define UXT_IPS_ASSURED (1u << 2)
#define UXT_IPS_CONFIRMED (1u << 3)
#define UXT_IPS_SRC_NAT (1u << 4)
#define UXT_IPS_DST_NAT (1u << 5)
#define UXT_IPS_NAT_MASK (UXT_IPS_SRC_NAT | UXT_IPS_DST_NAT)
#define UXT_IPS_SEQ_ADJUST (1u << 6)
#define UXT_IPS_SRC_NAT_DONE (1u << 7)
#define UXT_IPS_DST_NAT_DONE (1u << 8)
#define UXT_IPS_NAT_DONE_MASK (UXT_IPS_SRC_NAT_DONE | UXT_IPS_DST_NAT_DONE)
#define UXT_IPS_DYING (1u << 9)
#define UXT_IPS_FIXED_TIMEOUT (1u << 10)
#define UXT_IPS_TEMPLATE (1u << 11)
#define UXT_IPS_NAT_CLASH (1u << 12)
#define UXT_IPS_HELPER (1u << 13)
#define UXT_IPS_OFFLOAD (1u << 14)
#define UXT_IPS_HW_OFFLOAD (1u << 15)

/*
 * A tuple (nf_conntrack_tuple for IPv4).  Addresses and ports in network
 * order.  For ICMP, sport is the id, dport holds type (high byte) and code
 * (low byte), as the kernel's dst.u.icmp.{type,code} sit.  For GRE, the
 * keys (0 unless PPTP: dport the call id).  For protocols without ports
 * both are 0.
 */
struct uxt_ct_tuple {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
};

/* enum tcp_conntrack */
enum uxt_tcp_state {
	UXT_TCP_NONE = 0,
	UXT_TCP_SYN_SENT,
	UXT_TCP_SYN_RECV,
	UXT_TCP_ESTABLISHED,
	UXT_TCP_FIN_WAIT,
	UXT_TCP_CLOSE_WAIT,
	UXT_TCP_LAST_ACK,
	UXT_TCP_TIME_WAIT,
	UXT_TCP_CLOSE,
	UXT_TCP_SYN_SENT2,
	UXT_TCP_MAX,
	UXT_TCP_IGNORE,
	UXT_TCP_RETRANS,
	UXT_TCP_UNACK,
	UXT_TCP_TIMEOUT_MAX,
};

/* struct ip_ct_tcp_state.flags (IP_CT_TCP_FLAG_*, and the two of
 * ip_ct_tcp.last_flags that share the byte) */
#define UXT_CT_TCP_FLAG_WINDOW_SCALE 0x01
#define UXT_CT_TCP_FLAG_SACK_PERM 0x02
#define UXT_CT_TCP_FLAG_CLOSE_INIT 0x04
#define UXT_CT_TCP_FLAG_BE_LIBERAL 0x08
#define UXT_CT_TCP_FLAG_DATA_UNACKNOWLEDGED 0x10
#define UXT_CT_TCP_FLAG_MAXACK_SET 0x20
#define UXT_CT_TCP_EXP_CHALLENGE_ACK 0x40
#define UXT_CT_TCP_SIMULTANEOUS_OPEN 0x80

/* struct ip_ct_tcp_state: one direction's window */
struct uxt_ct_tcp_dir {
	uint32_t td_end, td_maxend, td_maxwin, td_maxack;
	uint8_t td_scale;
	uint8_t flags;			/* UXT_CT_TCP_FLAG_* */
};

/* struct ip_ct_tcp */
struct uxt_ct_tcp {
	struct uxt_ct_tcp_dir seen[2];
	uint8_t state;			/* enum uxt_tcp_state */
	uint8_t last_dir, retrans, last_index;
	uint32_t last_seq, last_ack, last_end;
	uint16_t last_win;
	uint8_t last_wscale, last_flags;
};

/* Which tuple an entry's zone applies to (CT --zone-orig/--zone-reply):
 * the other is in zone 0.  0: both (CT --zone, the default). */
#define UXT_CT_ZONE_DIR_ORIG_ONLY 1
#define UXT_CT_ZONE_DIR_REPL_ONLY 2

/*
 * An entry.  The fields below are the contract with NAT, the extensions,
 * the conntrack command and the state file; conntrack.c keeps more (hash
 * linkage) in a structure around it.
 */
struct uxt_ct {
	struct uxt_ct_tuple tuple[2];	/* enum uxt_ct_dir */
	uint16_t zone;
	uint8_t zone_dir;		/* 0 or UXT_CT_ZONE_DIR_*_ONLY */
	/* extensions the entry got when it was created: counters shown
	 * (nf_conntrack_acct was on), timestamps (nf_conntrack_timestamp) */
	bool acct, tstamp;
	uint32_t status;		/* UXT_IPS_* */
	uint32_t mark;			/* ctmark (CONNMARK, -m connmark) */
	uint32_t id;			/* conntrack -L -o id, events */
	uint64_t timeout_ns;		/* expiry, on the namespace's clock */
	uint64_t start_ns;		/* creation (UDP's stream rule; the
					 * start timestamp) */
	uint64_t packets[2], bytes[2];	/* per direction, counted always;
					 * shown when acct */
	union {
		struct uxt_ct_tcp tcp;
		struct {
			/* ICMP: the echo ids that have answers pending */
			uint8_t unused;
		} icmp;
	} proto;
	/* NAT: the device MASQUERADE chose (flushed with it), 0 if none */
	int masq_ifindex;
	/* events raised by the current packet, delivered at confirm or at
	 * the end of its hook (nf_conntrack_ecache) */
	uint32_t pending_events;	/* 1 << enum uxt_ct_event */
	bool confirmed;
	/* conntrack.c's own, opaque to others */
	void *table_priv[4];
};

/* The zone id of ct's tuple in direction dir (nf_ct_zone_id). */
static inline uint16_t uxt_ct_zone_id(const struct uxt_ct *ct,
				      enum uxt_ct_dir dir)
{
	if ((dir == UXT_CT_DIR_ORIGINAL && ct->zone_dir == UXT_CT_ZONE_DIR_REPL_ONLY) ||
	    (dir == UXT_CT_DIR_REPLY && ct->zone_dir == UXT_CT_ZONE_DIR_ORIG_ONLY))
		return 0;
	return ct->zone;
}

/* enum ip_conntrack_events */
enum uxt_ct_event {
	UXT_IPCT_NEW = 0,
	UXT_IPCT_RELATED,
	UXT_IPCT_DESTROY,
	UXT_IPCT_REPLY,
	UXT_IPCT_ASSURED,
	UXT_IPCT_PROTOINFO,
	UXT_IPCT_HELPER,
	UXT_IPCT_MARK,
	UXT_IPCT_SEQADJ,
	UXT_IPCT_SECMARK,
	UXT_IPCT_LABEL,
	UXT_IPCT_SYNPROXY,
};

/* What conntrack -E shows for an event mask: NEW, UPDATE or DESTROY. */
enum uxt_ct_event_kind {
	UXT_CT_EVENT_NEW = 1,
	UXT_CT_EVENT_UPDATE = 2,
	UXT_CT_EVENT_DESTROY = 4,
};

/* The kind ctnetlink gives an event mask: DESTROY, else NEW for NEW or
 * RELATED, else UPDATE. */
enum uxt_ct_event_kind uxt_ct_event_kind_of(uint32_t event_mask);

/* SCTP's timeouts, in the order of their sysctls */
enum {
	UXT_CT_SCTP_CLOSED,
	UXT_CT_SCTP_COOKIE_ECHOED,
	UXT_CT_SCTP_COOKIE_WAIT,
	UXT_CT_SCTP_ESTABLISHED,
	UXT_CT_SCTP_HEARTBEAT_SENT,
	UXT_CT_SCTP_SHUTDOWN_ACK_SENT,
	UXT_CT_SCTP_SHUTDOWN_RECD,
	UXT_CT_SCTP_SHUTDOWN_SENT,
	UXT_CT_SCTP_NTIMEOUTS,
};

/*
 * The namespace's settings, by their /proc/sys/net/netfilter names
 * (uxt sysctl): timeouts in seconds, flags 0/1.  Defaults are those of a
 * fresh network namespace on the reference kernel (6.18).
 */
struct uxt_ct_settings {
	uint32_t tcp_timeouts[UXT_TCP_TIMEOUT_MAX];	/* by enum uxt_tcp_state;
							 * RETRANS and UNACK
							 * are max_retrans and
							 * unacknowledged */
	uint32_t udp_timeout, udp_timeout_stream;
	uint32_t icmp_timeout, generic_timeout;
	bool tcp_loose, tcp_be_liberal, tcp_ignore_invalid_rst;
	uint32_t tcp_max_retrans;	/* 0-255 */
	bool checksum, acct, timestamp;
	uint8_t events;			/* nf_conntrack_events: 0 off, 1 on,
					 * 2 when someone listens */
	uint8_t log_invalid;		/* nf_conntrack_log_invalid: the
					 * protocol whose invalid packets are
					 * logged, 255 all, 0 none */
	uint32_t max;			/* nf_conntrack_max (read-only) */
	uint32_t buckets;		/* nf_conntrack_buckets (read-only) */
	uint32_t expect_max;		/* read-only; no expectations here */
	/* kept for the sysctls only: IPv6, GRE, SCTP are not tracked with
	 * them (GRE uses gre_timeout*) */
	uint32_t icmpv6_timeout;
	uint32_t gre_timeout, gre_timeout_stream;
	uint32_t sctp_timeouts[UXT_CT_SCTP_NTIMEOUTS];
	uint64_t frag6_high_thresh, frag6_low_thresh;
	uint32_t frag6_timeout;
};

void uxt_ct_settings_default(struct uxt_ct_settings *s);

/*
 * The settings as uxt sysctl lists them: name (net.netfilter.X) = value,
 * one per call of it; get and set by name.  set returns -1 with err set for
 * an unknown name, a read-only one or a bad value (the kernel's errors:
 * "permission denied" for read-only, "invalid argument").  Names are in
 * the order of ls /proc/sys/net/netfilter; nf_conntrack_count reads the
 * table (uxt_ct_table_sysctl_get).
 */
struct uxt_ct_sysctl {
	const char *name;		/* e.g. "nf_conntrack_tcp_timeout_established" */
	bool writable;
};
extern const struct uxt_ct_sysctl uxt_ct_sysctls[];
extern const unsigned int uxt_ct_nsysctls;
int uxt_ct_sysctl_get(const struct uxt_ct_settings *s, const char *name,
		      uint64_t *value, struct uxt_err *err);
int uxt_ct_sysctl_set(struct uxt_ct_settings *s, const char *name,
		      uint64_t value, struct uxt_err *err);

/* conntrack -S, per CPU in the kernel; one line here */
struct uxt_ct_stats {
	uint64_t found, invalid, insert, insert_failed, drop, early_drop,
		 error, search_restart, clash_resolve, chaintoolong;
};

/* The table of a namespace. */
struct uxt_ct_table;

struct uxt_ct_table *uxt_ct_table_new(void);
void uxt_ct_table_free(struct uxt_ct_table *t);
struct uxt_ct_settings *uxt_ct_table_settings(struct uxt_ct_table *t);
const struct uxt_ct_stats *uxt_ct_table_stats(const struct uxt_ct_table *t);
/* The confirmed entries (nf_conntrack_count between packets). */
unsigned int uxt_ct_table_count(const struct uxt_ct_table *t);
/* uxt_ct_sysctl_get() with the table's settings, and nf_conntrack_count */
int uxt_ct_table_sysctl_get(const struct uxt_ct_table *t, const char *name,
			    uint64_t *value, struct uxt_err *err);

/* The confirmed entries, in the order the kernel's dump gives them (hash
 * bucket order is not reproducible; conntrack -L sorts nothing, so the
 * order here is the order of insertion). fn returns non-zero to stop. */
int uxt_ct_table_walk(struct uxt_ct_table *t,
		      int (*fn)(struct uxt_ct *ct, void *arg), void *arg);
/* The entry with this tuple in either direction (zone included), or NULL;
 * *dir says which. */
struct uxt_ct *uxt_ct_find(struct uxt_ct_table *t,
			   const struct uxt_ct_tuple *tuple, uint16_t zone,
			   enum uxt_ct_dir *dir);
/* Removes a confirmed entry now (conntrack -D, -F): a [DESTROY] event. */
void uxt_ct_destroy(struct uxt_ct_table *t, struct uxt_ct *ct);
/* Gives a confirmed entry a new expiry (conntrack -U --timeout applied to
 * a live daemon's table): the order of expiry follows. */
void uxt_ct_set_timeout(struct uxt_ct_table *t, struct uxt_ct *ct,
			uint64_t abs_ns);
/* Frees the unconfirmed entries and those removed from the table: no
 * packet may point at them any more (see above). */
void uxt_ct_table_release_pending(struct uxt_ct_table *t);

/*
 * Events: the table reports each delivered event through this callback
 * (the engine passes it on to its front end).  kind is NEW, UPDATE or
 * DESTROY; the entry is as it is at that moment; now_ns the clock.  A
 * table with a callback has a listener (nf_conntrack_events 2).
 */
typedef void (*uxt_ct_event_fn)(void *ctx, enum uxt_ct_event_kind kind,
				uint32_t event_mask, const struct uxt_ct *ct,
				uint64_t now_ns);
void uxt_ct_table_set_events(struct uxt_ct_table *t, uxt_ct_event_fn fn,
			     void *ctx);

/* Removes the entries whose time is up at now_ns, oldest expiry first;
 * now_ns becomes the table's clock (see "Time" above). */
void uxt_ct_table_expire(struct uxt_ct_table *t, uint64_t now_ns);
/* The table's clock: the latest time it was given (saved with it). */
uint64_t uxt_ct_table_clock(const struct uxt_ct_table *t);
/* Whether that time came from the wall clock (uxt inject without --time)
 * or from packets (a capture, --time): saved with the table. */
void uxt_ct_table_set_wall_clock(struct uxt_ct_table *t, bool wall);
bool uxt_ct_table_wall_clock(const struct uxt_ct_table *t);
/* The "now" a later listing shows the table at (docs/conntrack.md): the
 * later of wall_now_ns and the table's clock when the table's clock was the
 * wall clock, else the table's clock. */
uint64_t uxt_ct_table_display_now(const struct uxt_ct_table *t,
				  uint64_t wall_now_ns);

/* Seconds left before ct expires at now_ns (conntrack -L), at least 0. */
uint32_t uxt_ct_seconds_left(const struct uxt_ct *ct, uint64_t now_ns);
/* "ESTABLISHED", ... for TCP; NULL for protocols without states. */
const char *uxt_ct_state_name(const struct uxt_ct *ct);

/*
 * Persistence: the table (entries, settings, stats, next id, clock) as
 * bytes in the state directory, and back.  load validates everything (a
 * damaged or hostile file gives an error, never a crash) and replaces the
 * table's contents only when the whole file is good.
 */
void uxt_ct_table_save(const struct uxt_ct_table *t, struct uxt_buf *out);
int uxt_ct_table_load(struct uxt_ct_table *t, const void *data, size_t len,
		      struct uxt_err *err);

/*
 * The packet path (engine.c calls these at the hooks' conntrack
 * priorities; they return a netfilter verdict).
 *
 * uxt_ct_in(): nf_conntrack_in at PREROUTING or OUTPUT.  A packet that
 * already has an entry or is untracked (pkt->ct set or ctinfo UNTRACKED)
 * is left alone; a template (CT target) is replaced by the entry.  May
 * return DROP (table full, nothing early-droppable).  A SYN reopening a
 * TIME_WAIT/CLOSE entry replaces it (-NF_REPEAT in the kernel).
 */
unsigned int uxt_ct_in(struct uxt_ns *ns, struct uxt_ct_table *t,
		       unsigned int hook, struct uxt_pkt *pkt);
/* nf_confirm at INPUT and POSTROUTING: inserts an unconfirmed entry,
 * delivers the packet's cached events. */
unsigned int uxt_ct_confirm(struct uxt_ns *ns, struct uxt_ct_table *t,
			    struct uxt_pkt *pkt);
/* The packet is gone (dropped or delivered): it no longer points at its
 * entry (nor holds it, if it did); an unconfirmed entry nothing holds is
 * freed without an event by uxt_ct_table_release_pending(). */
void uxt_ct_pkt_release(struct uxt_ct_table *t, struct uxt_pkt *pkt);
/* The packet holds its entry across release_pending (a live front end's
 * packet between hooks).  Copies made while the engine handles a packet
 * need not: entries are kept until its end. */
void uxt_ct_pkt_get(struct uxt_ct_table *t, struct uxt_pkt *pkt);
/* nf_ct_attach(): reply, a packet made about orig (REJECT's reset, an
 * ICMP error), gets orig's entry as RELATED (RELATED_REPLY when orig went
 * in the original direction). */
void uxt_ct_attach(struct uxt_pkt *reply, const struct uxt_pkt *orig);

/* For the extensions */

/* The entry's direction of the packet. */
static inline enum uxt_ct_dir uxt_ctinfo_dir(uint8_t ctinfo)
{
	return ctinfo >= UXT_CT_IS_REPLY ? UXT_CT_DIR_REPLY : UXT_CT_DIR_ORIGINAL;
}
/* CT --notrack / NOTRACK: the packet is untracked from now on (unless it
 * already has an entry: xt_ct_target leaves it). */
void uxt_ct_set_untracked(struct uxt_pkt *pkt);

/*
 * A template (CT target without --notrack, xt_ct_tg_check): what the next
 * uxt_ct_in gives the entry it creates for the packet.  The CT rule keeps
 * it (its live state); until conntrack runs, the packet points at it with
 * ctinfo NEW, as the kernel's skb does, so rules between see state NEW.
 */
struct uxt_ct_template {
	struct uxt_ct ct;		/* status TEMPLATE | CONFIRMED */
	bool zone_from_mark;		/* --zone mark: the packet's mark */
	uint16_t ctmask;		/* --ctevents, 0: the sysctl decides */
	uint16_t expmask;		/* --expevents (no expectations here) */
	char helper[16];		/* --helper: not modelled, kept */
};
/* zone_flags: the CT target's XT_CT_ZONE_* flags (0x04 orig, 0x08 reply,
 * 0x10 mark); ct_events and exp_events its masks. */
void uxt_ct_template_init(struct uxt_ct_template *tmpl, uint16_t zone,
			  unsigned int zone_flags, uint32_t ct_events,
			  uint32_t exp_events, const char *helper);
/* The packet carries tmpl (unless it has an entry or is untracked). */
void uxt_ct_set_template(struct uxt_pkt *pkt, struct uxt_ct_template *tmpl);
/* Marks an event on ct for the current packet (CONNMARK: IPCT_MARK). */
void uxt_ct_event(struct uxt_ct *ct, enum uxt_ct_event ev);
/* Remaining time in jiffies-compatible seconds (--ctexpire); 0 for an
 * entry not yet confirmed, as nf_ct_expires() gives. */
uint32_t uxt_ct_expire_secs(const struct uxt_ct *ct, uint64_t now_ns);
/* nf_ct_set_closing() (REJECT --reject-with tcp-reset): a confirmed TCP
 * entry goes to CLOSE with the close timeout. */
void uxt_ct_set_closing(struct uxt_ct *ct);

/* For NAT (nat.c) */

/* nf_conntrack_tuple_taken(): another entry (not ignored) uses tuple as
 * its reply tuple or original tuple in the same zone. */
bool uxt_ct_tuple_taken(struct uxt_ct_table *t, const struct uxt_ct_tuple *tuple,
			const struct uxt_ct *ignored);
/* nf_conntrack_alter_reply(): the unconfirmed ct's reply tuple becomes
 * *reply. */
void uxt_ct_alter_reply(struct uxt_ct_table *t, struct uxt_ct *ct,
			const struct uxt_ct_tuple *reply);
/* nf_ct_invert_tuple() (false for an ICMP type without a reply type) */
bool uxt_ct_invert_tuple(struct uxt_ct_tuple *inv, const struct uxt_ct_tuple *t);
/* The confirmed entries whose original source (address, port, proto,
 * zone) is that of tuple (find_appropriate_src's bysource hash). */
int uxt_ct_walk_by_source(struct uxt_ct_table *t,
			  const struct uxt_ct_tuple *tuple, uint16_t zone,
			  int (*fn)(struct uxt_ct *ct, void *arg), void *arg);
/* The entries MASQUERADE bound to ifindex (flushed when it goes down). */
void uxt_ct_flush_masq(struct uxt_ct_table *t, int ifindex);

/*
 * nf_nat_inet_fn, implemented by nat.c: the nat table's place at hook for
 * a packet with an entry (the engine calls it only while conntrack is
 * active and the nat table exists).  nat.c runs the chain through
 * uxt_ns_run_table() (engine.h) for the first packet of each manip,
 * records the binding and rewrites the packet; it returns a verdict.
 * Until src/lib/ct/nat.c exists, the engine runs the nat table itself for
 * the first packet of each manip and records a null binding.
 */
unsigned int uxt_nat_hook(struct uxt_ns *ns, unsigned int hook,
			  struct uxt_pkt *pkt, const struct uxt_iface *in,
			  const struct uxt_iface *out);

#endif
