/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The packet session shared by uxt inject and uxt replay (see
 * packet_session.h).
 *
 * Telling a packet from the packets the engine creates while handling it
 * (REJECT replies, ICMP errors): the engine sends those through
 * uxt_ns_local_out, in the middle of the packet that caused them, and
 * uxt_ns_depth says how deep in such packets an event is.  Events at depth
 * 0 belong to the packet itself.
 *
 * Every packet that leaves is reported, whoever sent it; LOG lines too.
 * The fate of the packet itself is the last fate reported at depth 0: a
 * forwarded packet cut in fragments leaves several times, a broadcast
 * leaves and is looped back to this host.
 */
#include "packet_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "ct.h"
#include "ct_events.h"
#include "ext.h"
#include "nflog_pcap.h"
#include "parse.h"
#include "pcap_io.h"
#include "pktprint.h"


struct ps_trace_entry {
	char table[16];
	char chain[UXT_CHAIN_NAMESZ];
	unsigned int rulenum;
	const char *comment;		/* "rule", "return", "policy" */
};

struct ps_out {
	char dev[16];
	char *summary;
	char *hex;
};

/* Everything reported about the packet being handled. */
struct ps_record {
	struct ps_result res;
	char reason[160];
	struct ps_rule_ref last_accept;
	struct ps_rule_ref first_drop;
	struct ps_trace_entry *trace;
	size_t ntrace, trace_cap;
	struct ps_out *outs;
	size_t nouts, outs_cap;
	char **logs;
	size_t nlogs, logs_cap;
	bool fate_seen;
};

/* How a packet entered the namespace */
enum ps_entry { PS_ENTRY_RECEIVED, PS_ENTRY_RAW_SEND, PS_ENTRY_SENT };

/* A datagram the namespace sent out of a device, remembered so that a
 * capture's record of it can be recognised (ps_sent_by_replay). */
struct ps_sent {
	uint64_t hash;
	uint32_t len;
	int ifindex;
	bool live;
};
#define PS_SENT_RING 4096

struct ps_session {
	struct ps_options opt;
	struct cli_io *io;
	struct cli_state st;
	bool state_open;
	struct uxt_ns *ns;
	int log_fd;			/* --log, or -1 */
	struct uxt_nflog_pcap *nflog;
	struct uxt_pcap_writer *wout;	/* -w */
	bool in_clock;			/* events of a clock change */
	struct ps_sent sent[PS_SENT_RING];
	unsigned int sent_next;
	int entry;			/* enum ps_entry of the packet */
	struct ps_record rec;
	bool rec_started;		/* ps_set_clock began the next record */
	uint64_t count, skipped;
	struct uxt_buf scratch;		/* summaries */
	struct uxt_err pending;		/* first failure of an output */
	bool failed;
	struct ctev_writer *ctev;	/* the state's conntrack event log */
	bool ct_found;			/* the state had a conntrack table */
};

static void *ps_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fputs("uxt: out of memory\n", stderr);
		exit(UXT_RESOURCE_PROBLEM);
	}
	return p;
}

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return arr;
	while (n < need)
		n *= 2;
	p = realloc(arr, n * elem);
	if (!p) {
		fputs("uxt: out of memory\n", stderr);
		exit(UXT_RESOURCE_PROBLEM);
	}
	*cap = n;
	return p;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = ps_alloc(n + 1);

	memcpy(p, s, n + 1);
	return p;
}

/* Options */

int ps_parse_time(const char *arg, uint64_t *ns, struct uxt_err *e)
{
	const char *p = arg;
	uint64_t sec = 0, frac = 0;
	int digits = 0;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > (UINT64_MAX / 1000000000u - 9) / 10)
			goto bad;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				digits++;
			}
	}
	if (*p)
		goto bad;
	for (; digits < 9; digits++)
		frac *= 10;
	*ns = sec * 1000000000u + frac;
	return 0;
bad:
	return uxt_error(e, UXT_PARAMETER_PROBLEM,
			 "--time \"%s\": seconds since the epoch expected "
			 "(e.g. 1700000000.25)", arg);
}

int ps_option(struct ps_options *o, int id, const char *arg,
	      struct uxt_err *e)
{
	switch (id) {
	case PS_OPT_HOST:
		o->host_file = arg;
		return 0;
	case PS_OPT_TRACE:
		o->trace = true;
		return 0;
	case PS_OPT_JSON:
		o->json = true;
		return 0;
	case PS_OPT_LOG:
		o->log_path = arg;
		return 0;
	case PS_OPT_SYSLOG:
		o->syslog = true;
		return 0;
	case PS_OPT_NFLOG_DIR:
		o->nflog_dir = arg;
		return 0;
	case PS_OPT_TIME:
		o->have_time = true;
		return ps_parse_time(arg, &o->time_ns, e);
	default:
		return uxt_error(e, UXT_PARAMETER_PROBLEM, "unknown option");
	}
}

int ps_other_option(struct ps_options *o, struct cli_io *io, int opt,
		    const char *arg, struct uxt_err *e)
{
	switch (opt) {
	case '?':
	case ':':
		/* getopt has said what was wrong */
		uxt_buf_flush(&io->err);
		return uxt_error(e, UXT_PARAMETER_PROBLEM, "bad option");
	default:
		return ps_option(o, opt, arg, e) ? -1 : 0;
	}
}

void ps_help_options(struct uxt_buf *b, const char *trace, const char *json)
{
	uxt_buf_puts(b,
		"  --host FILE                the host described in FILE (default: this netns)\n");
	uxt_buf_printf(b, "  --trace                    %s\n", trace);
	uxt_buf_printf(b, "  --json                     %s\n", json);
	uxt_buf_puts(b,
		"  --log FILE                 append LOG lines to FILE instead of printing them\n"
		"  --syslog                   send LOG lines to syslog (facility user, the\n"
		"                             rule's level) instead of printing them\n"
		"  --nflog-dir DIR            write DIR/nflog-GROUP.pcap for NFLOG rules\n");
}

int ps_report(struct cli_io *io, const char *prog, const struct uxt_err *e)
{
	size_t n = strlen(e->msg);

	while (n && e->msg[n - 1] == '\n')
		n--;
	uxt_buf_flush(&io->out);
	uxt_buf_printf(&io->err, "%s: %.*s\n", prog, (int)n, e->msg);
	if (e->status == UXT_PARAMETER_PROBLEM) {
		uxt_buf_printf(&io->err, "Try `%s -h' for more information.\n",
			       prog);
		return 2;
	}
	return 3;
}

/* Events */

static void fail_once(struct ps_session *s, const struct uxt_err *e)
{
	if (!s->failed)
		s->pending = *e;
	s->failed = true;
}

/* How deep in created packets the current event is; 0: the packet. */
static unsigned int nesting(const struct ps_session *s)
{
	return uxt_ns_depth(s->ns) + (s->in_clock ? 1u : 0u);
}

static void set_ref(struct ps_session *s, struct ps_rule_ref *r,
		    const char *table, const char *chain, unsigned int rulenum)
{
	struct uxt_table *t = uxt_ruleset_table(&s->st.rs, table);
	struct uxt_chain *c = t ? uxt_table_chain(t, chain) : NULL;

	r->set = true;
	snprintf(r->table, sizeof(r->table), "%s", table);
	snprintf(r->chain, sizeof(r->chain), "%s", chain);
	r->rulenum = rulenum;
	r->policy = c && uxt_chain_builtin(c) && rulenum == c->nrules + 1;
}

static void ev_rule(void *ctx, const char *table, unsigned int hook,
		    const char *chain, unsigned int rulenum, const char *comment,
		    const struct uxt_rule *rule)
{
	struct ps_session *s = ctx;
	struct ps_record *r = &s->rec;

	struct ps_trace_entry *t;

	(void)hook;
	(void)rule;
	if (nesting(s) != 0)
		return;
	r->trace = grow(r->trace, &r->trace_cap, r->ntrace + 1,
			sizeof(*r->trace));
	t = &r->trace[r->ntrace++];
	snprintf(t->table, sizeof(t->table), "%s", table);
	snprintf(t->chain, sizeof(t->chain), "%s", chain);
	t->rulenum = rulenum;
	t->comment = comment;
}

static void ev_verdict(void *ctx, const char *table, unsigned int hook,
		       unsigned int verdict, const char *chain,
		       unsigned int rulenum)
{
	struct ps_session *s = ctx;
	struct ps_record *r = &s->rec;

	(void)hook;
	if (nesting(s) != 0)
		return;
	if (verdict == UXT_NF_ACCEPT)
		set_ref(s, &r->last_accept, table, chain, rulenum);
	else if (!r->first_drop.set)
		set_ref(s, &r->first_drop, table, chain, rulenum);
}

static void add_log(struct ps_session *s, const char *line)
{
	struct ps_record *r = &s->rec;

	r->logs = grow(r->logs, &r->logs_cap, r->nlogs + 1, sizeof(*r->logs));
	r->logs[r->nlogs++] = dup_str(line);
}

/* A fate: of the packet when not nested, else the end of an error. */
static bool own_fate(struct ps_session *s)
{
	return nesting(s) == 0;
}

/* FNV-1a over the datagram without its IP ID and header checksum */
static uint64_t sent_hash(const unsigned char *data, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (i == 4 || i == 5 || i == 10 || i == 11) ?
					  0 : data[i];

		h = (h ^ c) * 0x100000001b3ull;
	}
	return h;
}

static void remember_sent(struct ps_session *s, const struct uxt_pkt *pkt,
			  const struct uxt_iface *dev)
{
	struct ps_sent *e = &s->sent[s->sent_next++ % PS_SENT_RING];

	e->hash = sent_hash(pkt->data, pkt->len);
	e->len = pkt->len;
	e->ifindex = dev ? dev->index : 0;
	e->live = true;
}

static void ev_xmit(void *ctx, const struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	struct ps_session *s = ctx;
	struct ps_record *r = &s->rec;
	struct ps_out *o;
	char *hex;

	r->outs = grow(r->outs, &r->outs_cap, r->nouts + 1, sizeof(*r->outs));
	o = &r->outs[r->nouts++];
	snprintf(o->dev, sizeof(o->dev), "%s", dev ? dev->name : "");
	if (!s->opt.quiet) {
		uxt_buf_reset(&s->scratch);
		uxt_pkt_summary(&s->scratch, pkt->data, pkt->len);
		o->summary = dup_str(uxt_buf_str(&s->scratch));
		hex = ps_alloc((size_t)pkt->len * 2 + 1);
		for (uint32_t i = 0; i < pkt->len; i++) {
			static const char digits[] = "0123456789abcdef";

			hex[2 * i] = digits[pkt->data[i] >> 4];
			hex[2 * i + 1] = digits[pkt->data[i] & 15];
		}
		o->hex = hex;
	}
	/* what the replay itself makes of a received datagram; a datagram
	 * the capture says this host sent is its own record */
	if (s->entry == PS_ENTRY_RECEIVED)
		remember_sent(s, pkt, dev);
	if (s->wout)
		uxt_pcap_write_sll2(s->wout, uxt_ns_time(s->ns), pkt, dev);
	if (own_fate(s)) {
		r->res.fate = PS_SENT;
		r->fate_seen = true;
	}
}

static void ev_deliver(void *ctx, const struct uxt_pkt *pkt)
{
	struct ps_session *s = ctx;

	(void)pkt;
	if (own_fate(s)) {
		s->rec.res.fate = PS_DELIVERED;
		s->rec.fate_seen = true;
	}
}

static void ev_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	struct ps_session *s = ctx;
	struct ps_record *r = &s->rec;

	(void)pkt;
	if (!own_fate(s))
		return;
	r->res.fate = PS_DROPPED;
	r->fate_seen = true;
	if (reason)
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	else
		r->reason[0] = '\0';
}

static void ev_log(void *ctx, unsigned int level, const char *line)
{
	struct ps_session *s = ctx;
	struct uxt_buf *b = &s->scratch;

	uxt_buf_reset(b);
	uxt_buf_printf(b, "<%u>%s", level, line);
	add_log(s, uxt_buf_str(b));
	if (s->opt.syslog)
		/* the kernel's line at its level, as a kernel log reader
		 * forwards it; the facility is the user's */
		syslog(LOG_USER | (int)(level & 7), "%s", line);
	if (s->log_fd >= 0) {
		const char *text;
		size_t len, off = 0;

		uxt_buf_putc(b, '\n');
		text = uxt_buf_str(b);
		len = b->len;
		while (off < len) {
			ssize_t n = write(s->log_fd, text + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				struct uxt_err e;

				uxt_error_bare(&e, UXT_OTHER_PROBLEM,
					       "%s: write failed: %s",
					       s->opt.log_path, strerror(errno));
				fail_once(s, &e);
				break;
			}
			off += (size_t)n;
		}
	}
}

static void ev_nflog(void *ctx, const struct uxt_pkt *pkt, unsigned int hook,
		     uint16_t group, const char *prefix, uint32_t copy_len)
{
	struct ps_session *s = ctx;
	struct uxt_err e;

	if (!s->nflog)
		return;
	if (uxt_nflog_pcap_write(s->nflog, pkt, hook, group, prefix, copy_len,
				 uxt_ns_time(s->ns), &e))
		fail_once(s, &e);
}

/* Conntrack events go to the state's event log (conntrack -E follows it) */
static void ev_ct(void *ctx, unsigned int kind, uint32_t event_mask,
		  const struct uxt_ct *ct, uint64_t now_ns)
{
	struct ps_session *s = ctx;

	if (!s->ctev)
		s->ctev = ctev_writer_open(s->st.store.dir, 0);
	ctev_writer_event(s->ctev, (enum uxt_ct_event_kind)kind, event_mask,
			  ct, now_ns);
}

/* Set-up */

static int load_host(struct ps_session *s, struct uxt_err *e)
{
	struct uxt_host *h = ps_alloc(sizeof(*h));
	int rc;

	uxt_host_init(h);
	if (s->opt.host_file)
		rc = uxt_host_from_file(h, s->opt.host_file, e);
	else
		rc = uxt_host_from_netns(h, e);
	if (rc) {
		uxt_host_free(h);
		free(h);
		return -1;
	}
	uxt_ns_set_host(s->ns, h);
	return 0;
}

int ps_start(struct ps_session **sp, const struct ps_options *o,
	     struct cli_io *io, struct uxt_err *e)
{
	struct ps_session *s = ps_alloc(sizeof(*s));
	struct uxt_events ev = {
		.rule = ev_rule,
		.verdict = ev_verdict,
		.xmit = ev_xmit,
		.deliver = ev_deliver,
		.drop = ev_drop,
		.log = ev_log,
		.nflog = ev_nflog,
		.ct_event = ev_ct,
	};

	*sp = s;
	s->opt = *o;
	s->io = io;
	s->log_fd = -1;
	uxt_buf_init(&s->scratch, -1);
	if (cli_state_open(&s->st, e))
		return -1;
	s->state_open = true;
	/* wait for the lock as iptables without -w does */
	if (cli_state_lock_load(&s->st, 0, e))
		return -1;
	s->ns = uxt_ns_new();
	if (uxt_ns_classifier_from_env(s->ns, e) || load_host(s, e))
		return -1;
	uxt_ns_set_time(s->ns, o->time_ns);
	if (uxt_ns_set_ruleset(s->ns, &s->st.rs, e))
		return -1;
	ev.ctx = s;
	uxt_ns_set_events(s->ns, &ev);
	/* the state's conntrack table, brought to the first packet's time
	 * (what expired meanwhile goes, with its events) */
	if (uxt_store_load_ct(&s->st.store, uxt_ns_ct(s->ns), &s->ct_found, e))
		return -1;
	uxt_ns_set_time(s->ns, o->time_ns);
	if (o->log_path) {
		s->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				 0644);
		if (s->log_fd < 0)
			return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s",
					      o->log_path, strerror(errno));
	}
	if (o->syslog)
		openlog("uxt", LOG_PID, LOG_USER);
	if (o->nflog_dir) {
		s->nflog = uxt_nflog_pcap_open(o->nflog_dir, e);
		if (!s->nflog)
			return -1;
	}
	if (o->write_path && uxt_pcap_open_sll2(&s->wout, o->write_path, e))
		return -1;
	return 0;
}

struct uxt_ns *ps_ns(struct ps_session *s)
{
	return s->ns;
}

const struct uxt_host *ps_host(struct ps_session *s)
{
	return uxt_ns_host(s->ns);
}

struct cli_state *ps_state(struct ps_session *s)
{
	return &s->st;
}

static void record_reset(struct ps_record *r)
{
	for (size_t i = 0; i < r->nouts; i++) {
		free(r->outs[i].summary);
		free(r->outs[i].hex);
	}
	for (size_t i = 0; i < r->nlogs; i++)
		free(r->logs[i]);
	r->nouts = r->nlogs = r->ntrace = 0;
	memset(&r->res, 0, sizeof(r->res));
	memset(&r->last_accept, 0, sizeof(r->last_accept));
	memset(&r->first_drop, 0, sizeof(r->first_drop));
	r->reason[0] = '\0';
	r->fate_seen = false;
}

static void record_free(struct ps_record *r)
{
	record_reset(r);
	free(r->outs);
	free(r->logs);
	free(r->trace);
	memset(r, 0, sizeof(*r));
}

void ps_set_clock(struct ps_session *s, uint64_t now_ns)
{
	/* a new packet's record starts here, so that what the clock sets
	 * off is reported with it */
	record_reset(&s->rec);
	s->rec_started = true;
	s->in_clock = true;
	uxt_ns_set_time(s->ns, now_ns);
	s->in_clock = false;
}

/* Printing */

static void json_string(struct uxt_buf *b, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;

	uxt_buf_putc(b, '"');
	for (; *p; p++) {
		unsigned char c = *p;

		if (c == '"' || c == '\\') {
			uxt_buf_putc(b, '\\');
			uxt_buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7F) {
			uxt_buf_printf(b, "\\u%04x", c);
		} else if (c < 0x80) {
			uxt_buf_putc(b, (char)c);
		} else {
			/* a valid UTF-8 sequence passes, any other byte is
			 * written as the code point of its value */
			int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 :
				(c & 0xF8) == 0xF0 ? 3 : -1;
			int k;

			for (k = 1; n > 0 && k <= n; k++)
				if ((p[k] & 0xC0) != 0x80)
					break;
			if (n > 0 && k == n + 1 && c >= 0xC2 && c <= 0xF4) {
				uxt_buf_putn(b, (const char *)p, (size_t)n + 1);
				p += n;
			} else {
				uxt_buf_printf(b, "\\u%04x", c);
			}
		}
	}
	uxt_buf_putc(b, '"');
}

static void put_ref(struct uxt_buf *b, const struct ps_rule_ref *r)
{
	if (r->policy)
		uxt_buf_printf(b, "%s:%s:policy", r->table, r->chain);
	else
		uxt_buf_printf(b, "%s:%s:%u", r->table, r->chain, r->rulenum);
}

static void print_text(struct ps_session *s, uint64_t number,
		       const char *summary)
{
	struct uxt_buf *b = &s->io->out;
	const struct ps_record *r = &s->rec;

	if (number)
		uxt_buf_printf(b, "%llu ", (unsigned long long)number);
	uxt_buf_printf(b, "%s => %s", summary,
		       r->res.accepted ? "ACCEPT" : "DROP");
	if (r->res.decided_by.set) {
		uxt_buf_putc(b, ' ');
		put_ref(b, &r->res.decided_by);
	} else if (r->res.reason) {
		uxt_buf_printf(b, " (%s)", r->res.reason);
	}
	uxt_buf_putc(b, '\n');
	for (size_t i = 0; i < r->nouts; i++)
		uxt_buf_printf(b, "  out %s: %s\n", r->outs[i].dev,
			       r->outs[i].summary);
	if (!s->opt.log_path && !s->opt.syslog)
		for (size_t i = 0; i < r->nlogs; i++)
			uxt_buf_printf(b, "  log: %s\n", r->logs[i]);
	if (s->opt.trace)
		for (size_t i = 0; i < r->ntrace; i++)
			uxt_buf_printf(b, "  trace: %s:%s:%s:%u\n", r->trace[i].table,
				       r->trace[i].chain, r->trace[i].comment,
				       r->trace[i].rulenum);
}

static void print_json(struct ps_session *s, uint64_t number,
		       const char *summary, const char *skipped)
{
	struct uxt_buf *b = &s->io->out;
	const struct ps_record *r = &s->rec;

	uxt_buf_printf(b, "{\"packet\": %llu, \"summary\": ",
		       (unsigned long long)(number ? number : 1));
	if (summary)
		json_string(b, summary);
	else
		uxt_buf_puts(b, "null");
	if (skipped) {
		/* a record that never reached the namespace */
		uxt_buf_puts(b, ", \"verdict\": null, \"decided_by\": null, "
				"\"reason\": ");
		json_string(b, skipped);
		uxt_buf_puts(b, ", \"trace\": [], \"out\": [], \"log\": []}\n");
		return;
	}
	uxt_buf_printf(b, ", \"verdict\": \"%s\", \"decided_by\": ",
		       r->res.accepted ? "ACCEPT" : "DROP");
	if (r->res.decided_by.set) {
		uxt_buf_puts(b, "{\"table\": ");
		json_string(b, r->res.decided_by.table);
		uxt_buf_puts(b, ", \"chain\": ");
		json_string(b, r->res.decided_by.chain);
		uxt_buf_printf(b, ", \"rule\": %u, \"policy\": %s}",
			       r->res.decided_by.rulenum,
			       r->res.decided_by.policy ? "true" : "false");
	} else {
		uxt_buf_puts(b, "null");
	}
	uxt_buf_puts(b, ", \"reason\": ");
	if (r->res.reason)
		json_string(b, r->res.reason);
	else
		uxt_buf_puts(b, "null");
	uxt_buf_puts(b, ", \"trace\": [");
	for (size_t i = 0; i < r->ntrace; i++) {
		uxt_buf_puts(b, i ? ", {\"table\": " : "{\"table\": ");
		json_string(b, r->trace[i].table);
		uxt_buf_puts(b, ", \"chain\": ");
		json_string(b, r->trace[i].chain);
		uxt_buf_printf(b, ", \"rule\": %u, \"comment\": ", r->trace[i].rulenum);
		json_string(b, r->trace[i].comment);
		uxt_buf_putc(b, '}');
	}
	uxt_buf_puts(b, "], \"out\": [");
	for (size_t i = 0; i < r->nouts; i++) {
		uxt_buf_puts(b, i ? ", {\"dev\": " : "{\"dev\": ");
		json_string(b, r->outs[i].dev);
		uxt_buf_puts(b, ", \"summary\": ");
		json_string(b, r->outs[i].summary);
		uxt_buf_puts(b, ", \"hex\": ");
		json_string(b, r->outs[i].hex);
		uxt_buf_putc(b, '}');
	}
	uxt_buf_puts(b, "], \"log\": [");
	for (size_t i = 0; i < r->nlogs; i++) {
		if (i)
			uxt_buf_puts(b, ", ");
		json_string(b, r->logs[i]);
	}
	uxt_buf_puts(b, "]}\n");
}

/* Packets */

static void settle(struct ps_record *r)
{
	struct ps_result *res = &r->res;

	if (!r->fate_seen) {
		res->fate = PS_HELD;
		snprintf(r->reason, sizeof(r->reason),
			 "held for reassembly (not all fragments seen)");
	}
	res->accepted = res->fate == PS_DELIVERED || res->fate == PS_SENT;
	res->reason = NULL;
	memset(&res->decided_by, 0, sizeof(res->decided_by));
	if (res->accepted) {
		if (r->last_accept.set)
			res->decided_by = r->last_accept;
	} else if (r->reason[0]) {
		res->reason = r->reason;
	} else if (r->first_drop.set) {
		res->decided_by = r->first_drop;
	}
}

static const struct ps_result *handle(struct ps_session *s, uint64_t number,
				      struct uxt_pkt *pkt,
				      const struct uxt_iface *in_dev,
				      enum ps_entry entry)
{
	char *summary = NULL;

	if (!s->rec_started)
		record_reset(&s->rec);
	s->rec_started = false;
	if (!s->opt.quiet) {
		uxt_buf_reset(&s->scratch);
		uxt_pkt_summary(&s->scratch, pkt->data, pkt->len);
		summary = dup_str(uxt_buf_str(&s->scratch));
	}
	s->count++;
	s->entry = (int)entry;
	if (entry == PS_ENTRY_RECEIVED)
		uxt_ns_receive(s->ns, pkt, in_dev);
	else if (entry == PS_ENTRY_RAW_SEND)
		uxt_ns_send(s->ns, pkt);
	else
		uxt_ns_output(s->ns, pkt);
	settle(&s->rec);
	if (s->opt.quiet)
		;
	else if (s->opt.json)
		print_json(s, number, summary, NULL);
	else
		print_text(s, number, summary);
	free(summary);
	return &s->rec.res;
}

const struct ps_result *ps_packet(struct ps_session *s, uint64_t number,
				  struct uxt_pkt *pkt,
				  const struct uxt_iface *in_dev)
{
	return handle(s, number, pkt, in_dev,
		      in_dev ? PS_ENTRY_RECEIVED : PS_ENTRY_RAW_SEND);
}

const struct ps_result *ps_packet_sent(struct ps_session *s, uint64_t number,
				       struct uxt_pkt *pkt)
{
	return handle(s, number, pkt, NULL, PS_ENTRY_SENT);
}

bool ps_sent_by_replay(struct ps_session *s, const unsigned char *data,
		       size_t len, const struct uxt_iface *dev)
{
	uint64_t h = sent_hash(data, len);
	int ifindex = dev ? dev->index : 0;

	for (unsigned int i = 0; i < PS_SENT_RING; i++) {
		struct ps_sent *e = &s->sent[i];

		if (e->live && e->hash == h && e->len == len &&
		    e->ifindex == ifindex) {
			e->live = false;
			return true;
		}
	}
	return false;
}

void ps_skip(struct ps_session *s, uint64_t number, const char *reason)
{
	s->skipped++;
	if (s->opt.quiet) {
		;
	} else if (s->opt.json) {
		char text[200];

		snprintf(text, sizeof(text), "skipped: %s", reason);
		print_json(s, number, NULL, text);
	} else {
		uxt_buf_printf(&s->io->out, "%llu skipped: %s\n",
			       (unsigned long long)number, reason);
	}
	record_reset(&s->rec);
	s->rec_started = false;
}

uint64_t ps_count(const struct ps_session *s)
{
	return s->count;
}

uint64_t ps_skipped(const struct ps_session *s)
{
	return s->skipped;
}

/* The end */

/* Every existing table as iptables -t T -L -v -n -x lists it, through the
 * iptables command itself so that the listing is its own. */
static void list_counters(struct ps_session *s)
{
	struct uxt_ruleset *rs = &s->st.rs;

	for (int i = 0; i < rs->ntables; i++) {
		const struct uxt_table *t = rs->tables[rs->order[i]];
		char a0[] = "iptables", a1[] = "-t", a3[] = "-L", a4[] = "-v",
		     a5[] = "-n", a6[] = "-x";
		char table[32];
		char *argv[] = {a0, a1, table, a3, a4, a5, a6, NULL};
		struct uxt_err e;
		bool changed;

		if (!t)
			continue;
		snprintf(table, sizeof(table), "%s", t->def->name);
		uxt_buf_printf(&s->io->out, "\nTable: %s\n", table);
		if (cli_do_command(s->io, &s->st, 7, argv, NULL, &changed, &e) < 0)
			fail_once(s, &e);
	}
}

int ps_finish(struct ps_session *s, bool list, struct uxt_err *e)
{
	struct uxt_err ce;
	int ret = 0;

	record_reset(&s->rec);
	if (s->ns && s->st.loaded) {
		uxt_ns_sync_ruleset(s->ns, &s->st.rs);
		/* nothing to keep when no table exists */
		if (s->st.rs.ntables > 0 && cli_state_commit(&s->st, &ce))
			fail_once(s, &ce);
		/* the conntrack table, with the clock of the last packet */
		uxt_ct_table_set_wall_clock(uxt_ns_ct(s->ns), s->opt.wall_clock);
		if ((s->ct_found || uxt_ns_ct_active(s->ns) ||
		     uxt_ct_table_count(uxt_ns_ct(s->ns)) > 0) &&
		    uxt_store_commit_ct(&s->st.store, uxt_ns_ct(s->ns), &ce))
			fail_once(s, &ce);
	}
	if (s->wout && uxt_pcap_close_write(s->wout, &ce))
		fail_once(s, &ce);
	s->wout = NULL;
	if (s->nflog && uxt_nflog_pcap_close(s->nflog, &ce))
		fail_once(s, &ce);
	s->nflog = NULL;
	if (list && !s->opt.json && s->st.loaded)
		list_counters(s);
	if (s->failed) {
		*e = s->pending;
		ret = -1;
	}
	return ret;
}

void ps_free(struct ps_session *s)
{
	if (!s)
		return;
	if (s->wout)
		uxt_pcap_close_write(s->wout, NULL);
	if (s->nflog)
		uxt_nflog_pcap_close(s->nflog, NULL);
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->opt.syslog)
		closelog();
	uxt_ns_free(s->ns);
	ctev_writer_close(s->ctev);
	if (s->state_open)
		cli_state_close(&s->st);
	record_free(&s->rec);
	uxt_buf_free(&s->scratch);
	free(s);
}

/* --expect */

int ps_parse_expect(const char *arg, struct ps_expect *x, struct uxt_err *e)
{
	const char *c1, *c2;
	size_t tl, cl;
	unsigned int n;

	memset(x, 0, sizeof(*x));
	if (strcmp(arg, "ACCEPT") == 0) {
		x->verdict = 1;
		return 0;
	}
	if (strcmp(arg, "DROP") == 0) {
		x->verdict = 0;
		return 0;
	}
	x->verdict = -1;
	c1 = strchr(arg, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || strchr(c2 + 1, ':'))
		goto bad;
	tl = (size_t)(c1 - arg);
	cl = (size_t)(c2 - c1 - 1);
	if (tl == 0 || tl >= sizeof(x->rule.table) || cl == 0 ||
	    cl >= sizeof(x->rule.chain))
		goto bad;
	memcpy(x->rule.table, arg, tl);
	memcpy(x->rule.chain, c1 + 1, cl);
	if (strcmp(c2 + 1, "policy") == 0) {
		x->rule_is_policy = true;
	} else if (uxt_strtoui(c2 + 1, NULL, &n, 1, UINT32_MAX)) {
		x->rule.rulenum = n;
	} else {
		goto bad;
	}
	x->rule.set = true;
	return 0;
bad:
	return uxt_error(e, UXT_PARAMETER_PROBLEM,
			 "--expect \"%s\": ACCEPT, DROP or TABLE:CHAIN:RULE "
			 "(a number or \"policy\") expected", arg);
}

bool ps_expect_met(const struct ps_expect *x, const struct ps_result *r)
{
	const struct ps_rule_ref *d = &r->decided_by;

	if (x->verdict >= 0)
		return r->accepted == (x->verdict == 1);
	if (!d->set || strcmp(d->table, x->rule.table) != 0 ||
	    strcmp(d->chain, x->rule.chain) != 0)
		return false;
	if (x->rule_is_policy)
		return d->policy;
	return d->rulenum == x->rule.rulenum;
}
