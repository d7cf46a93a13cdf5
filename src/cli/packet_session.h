/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What uxt inject and uxt replay share: their common options, a namespace
 * set up from this network namespace's state, the events that collect what
 * happens to each packet, the printing of it (text or JSON), and the
 * commit of the counters at the end.
 *
 * A session holds the state lock from start to finish, as the kernel's
 * tables move their counters while packets pass: an iptables command run
 * meanwhile waits, and sees the counters once the session has committed.
 *
 * Per packet the session reports (docs/packet-path.md):
 *   summary     the packet as it entered (tcpdump -n style)
 *   verdict     ACCEPT if it was delivered or sent out, DROP otherwise
 *   decided_by  the rule or policy whose verdict settled its fate: the
 *               DROP or REJECT that dropped it, or the last ACCEPT on its
 *               way; none when the kernel dropped it outside the tables
 *               (then reason says why)
 *   trace       every rule it matched, as TRACE names them
 *   out         every packet that left, REJECT replies and ICMP errors
 *               included
 *   log         the LOG and TRACE lines, as dmesg -r shows them
 *
 * Packets the engine creates while handling one (REJECT replies, ICMP
 * errors) are told apart from it by the order of the events (see
 * packet_session.c): their rules are not in its trace, their verdicts do
 * not decide it.
 */
#ifndef UXT_PACKET_SESSION_H
#define UXT_PACKET_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "engine.h"
#include "getopt.h"

/* getopt values of the shared options; the front doors' own start at
 * PS_OPT_OWN */
enum {
	PS_OPT_HOST = 0x100,
	PS_OPT_TRACE,
	PS_OPT_JSON,
	PS_OPT_LOG,
	PS_OPT_NFLOG_DIR,
	PS_OPT_TIME,
	PS_OPT_SYSLOG,
	PS_OPT_OWN = 0x200,
};

#define PS_LONGOPTS                                                         \
	{"host", 1, PS_OPT_HOST}, {"trace", 0, PS_OPT_TRACE},                \
	{"json", 0, PS_OPT_JSON}, {"log", 1, PS_OPT_LOG},                    \
	{"nflog-dir", 1, PS_OPT_NFLOG_DIR}, {"syslog", 0, PS_OPT_SYSLOG}

struct ps_options {
	const char *host_file;	/* NULL: this network namespace */
	bool trace;
	bool json;
	const char *log_path;	/* LOG lines go there instead of stdout */
	bool syslog;		/* ... and/or to syslog(3) */
	const char *nflog_dir;
	bool have_time;		/* --time */
	uint64_t time_ns;
	bool wall_clock;	/* time_ns is the wall clock (inject without
				 * --time): saved with the conntrack table */
	const char *write_path;	/* replay -w: the packets that leave */
	bool quiet;		/* replay -q: no per-packet report */
};

/* One of the shared options (PS_OPT_*).  0, or -1 with e set. */
int ps_option(struct ps_options *o, int id, const char *arg,
	      struct uxt_err *e);
/* What the parse loops of both front doors do with an option that is not
 * their own: getopt's '?' and ':' (it has said what was wrong) become a
 * parameter problem, the rest go to ps_option().  0, or -1 with e set. */
int ps_other_option(struct ps_options *o, struct cli_io *io, int opt,
		    const char *arg, struct uxt_err *e);
/* The help lines of the shared options but --time; trace and json say what
 * --trace and --json print. */
void ps_help_options(struct uxt_buf *b, const char *trace, const char *json);
/* Prints e as "PROG: ..." and returns the exit status: 2 for a parameter
 * problem (with a hint to -h), 3 otherwise. */
int ps_report(struct cli_io *io, const char *prog, const struct uxt_err *e);
/* --time SECONDS[.FRACTION] since the epoch */
int ps_parse_time(const char *arg, uint64_t *ns, struct uxt_err *e);

/* What happened to one packet. */
enum ps_fate { PS_HELD, PS_DELIVERED, PS_SENT, PS_DROPPED };

struct ps_rule_ref {
	bool set;
	char table[16];
	char chain[UXT_CHAIN_NAMESZ];
	unsigned int rulenum;
	bool policy;
};

struct ps_result {
	enum ps_fate fate;
	bool accepted;			/* delivered or sent out */
	const char *reason;		/* dropped outside the tables */
	struct ps_rule_ref decided_by;
};

struct ps_session;

/*
 * Locks and loads the state, builds the host (--host FILE or this
 * namespace), compiles the ruleset, opens the outputs.  io is where the
 * report goes.  0, or -1 with e set.
 */
int ps_start(struct ps_session **s, const struct ps_options *o,
	     struct cli_io *io, struct uxt_err *e);
struct uxt_ns *ps_ns(struct ps_session *s);
const struct uxt_host *ps_host(struct ps_session *s);
/* The ruleset the namespace runs (for listing). */
struct cli_state *ps_state(struct ps_session *s);

/* Moves the namespace's clock; what that sets off (fragment queues timing
 * out) is reported with the next packet. */
void ps_set_clock(struct ps_session *s, uint64_t now_ns);

/*
 * Hands one packet to the namespace (received on in_dev, or sent by a
 * local socket when in_dev is NULL) and reports it under number.
 * Consumes pkt.  The result stays valid until the next packet.
 */
const struct ps_result *ps_packet(struct ps_session *s, uint64_t number,
				  struct uxt_pkt *pkt,
				  const struct uxt_iface *in_dev);
/* The same for a datagram this host sent as a capture recorded it
 * (uxt_ns_output: its header as it is, fragmented as it leaves). */
const struct ps_result *ps_packet_sent(struct ps_session *s, uint64_t number,
				       struct uxt_pkt *pkt);
/*
 * Whether the namespace itself has just sent this datagram out of dev
 * (forwarded it, or made it: an ICMP error, a reply) in this session:
 * the same bytes but for the IP ID and header checksum, which the kernel
 * picks for what it makes.  A match is used up.  A capture taken on a
 * router records each forwarded datagram twice, in and out; the replay
 * makes the outgoing copy itself.
 */
bool ps_sent_by_replay(struct ps_session *s, const unsigned char *data,
		       size_t len, const struct uxt_iface *dev);
/* A record of a capture that could not be handed over. */
void ps_skip(struct ps_session *s, uint64_t number, const char *reason);

/* How many packets were handed over, and how many skipped. */
uint64_t ps_count(const struct ps_session *s);
uint64_t ps_skipped(const struct ps_session *s);

/*
 * Writes the counters and rule state back and commits them, closes the
 * outputs; with list_counters (and not --json) prints every existing
 * table as iptables -L -v -n -x does.  0, or -1 with e set.
 */
int ps_finish(struct ps_session *s, bool list_counters, struct uxt_err *e);
/* Releases everything (also after a failed ps_start); unlocks. */
void ps_free(struct ps_session *s);

/* Parses "ACCEPT", "DROP" or "table:chain:N" / "table:chain:policy". */
struct ps_expect {
	int verdict;			/* 1 ACCEPT, 0 DROP, -1: a rule */
	struct ps_rule_ref rule;
	bool rule_is_policy;
};
int ps_parse_expect(const char *arg, struct ps_expect *x, struct uxt_err *e);
bool ps_expect_met(const struct ps_expect *x, const struct ps_result *r);

#endif
