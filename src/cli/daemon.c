/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt daemon: uxtables as the firewall of a network namespace
 * (docs/daemon.md).
 *
 * The kernel hands every IPv4 packet of the namespace over at each hook
 * where the ruleset has a table (all five with connection tracking or
 * TRACE: ruleset_queue_hooks) (kernel_hooks.h: nftables base chains at
 * priority -450 with notrack and the xt NFQUEUE target), before its own
 * tables; the daemon
 * runs the engine at that hook (uxt_ns_hook: the same tables, walk and
 * targets as every front door) and answers with the verdict, the mark and,
 * when a target changed it, the datagram.  The kernel runs the paths
 * themselves (routing, forwarding, local delivery, fragmentation).
 *
 * Threads:
 *   workers   one per queue (--queues, one per CPU by default), each with
 *             its netlink socket; they read a batch of packets, run them
 *             through an engine and send the verdicts together.
 *   rtnl      follows the namespace's interfaces, addresses, routes and
 *             forwarding/rp_filter switches (rtnetlink), rebuilds the host
 *             model when they change and hands it to the main thread.
 *   main      the control socket (ctl.h), signals, and every change of
 *             configuration: rulesets and host models are swapped in under
 *             a writer lock that the workers take as readers around each
 *             batch, so all queues change at once, between two packets.
 *
 * Engines.  A stateless ruleset runs on one engine (struct uxt_ns) per
 * worker, each with its own counters; the displayed counters are their
 * sum.  A ruleset with state shared between packets (connection tracking,
 * NAT, limit) runs on one engine for all workers, under a mutex, as the
 * kernel's conntrack table and rule state are one per namespace.
 *
 * Counters.  The command line sees counters through the state directory:
 * before it loads, it asks the daemon to sync (write the live counters
 * into the state file); after it commits, to reload.  Let F be the
 * counters of the state file as last written or loaded, seen_t what
 * engine t's counters were then; a sync writes F + sum(live_t - seen_t) +
 * carry.  Packets counted between a sync and the reload that follows
 * (the command's own window) are carried over to the same rules in the new
 * ruleset (matched by content, as libiptc keeps the counters of the rules
 * a commit leaves alone), unless the command set those counters itself.
 *
 * Packets the engine creates (REJECT replies, ICMP errors) are sent through
 * a raw socket whose packets carry a mark of their own (--own-mark): they
 * then traverse OUTPUT and POSTROUTING in the kernel and come back to the
 * daemon like any locally generated packet, as the kernel's own replies
 * traverse them.  At OUTPUT the daemon recognises the mark, gives the
 * packet the mark the engine made it with (0, as the kernel's replies
 * have) and treats it as having no socket.
 *
 * What the kernel keeps in the sk_buff from hook to hook but NFQUEUE does
 * not carry (the TRACE flag, later the conntrack entry) is kept here,
 * keyed by what of the datagram no hook in between changes (addresses,
 * protocol, IP ID, the first 8 bytes of the transport header), until the
 * packet's last hook.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ct_events.h"
#include "ctl.h"
#include "engine.h"
#include "ext.h"
#include "getopt.h"
#include "host.h"
#include "kernel_hooks.h"
#include "nflog_pcap.h"
#include "nfqueue.h"
#include "pktbuild.h"
#include "store.h"
#include "table.h"

#define DAEMON_NAME "uxtables"
#define DEFAULT_OWN_MARK 0x75787400u	/* "uxt\0" */
#define DEFAULT_MAXLEN 16384
#define BATCH 32
#define INFLIGHT_BUCKETS 1024
#define INFLIGHT_TTL_MS 3000
#define MAX_CLIENTS 64
#define STUB_IFACES 8

/* Options */

struct options {
	bool foreground;
	bool fail_open;
	bool force;
	bool keep_hooks;
	bool cpu_fanout;
	bool use_syslog;
	unsigned int queues;
	unsigned int queue_base;
	unsigned int maxlen;
	uint32_t own_mark;
	const char *log_path;
	const char *nflog_dir;
};

/* Counters laid out flat: per table (uxt_table_defs order), chain by chain,
 * each chain's rules and then its tail, as uxt_ns_counters gives them. */
struct layout {
	size_t off[UXT_NTABLES];
	size_t n[UXT_NTABLES];
	size_t total;
};

struct live;

/* What the last sync wrote of an entry (ct-reload compares with it) */
struct ct_snap {
	uint32_t id, mark, status;
	uint8_t tcp_state;
	uint64_t timeout_ns;
};

struct engine {
	pthread_mutex_t mu;
	struct live *live;
	struct uxt_ns *ns;
	struct uxt_ruleset rs;		/* points into live->img */
	struct uxt_counters *seen;	/* counters at the last sync */
};

/* The TRACE flag (and conntrack entry) of a packet between hooks */
struct inflight_entry {
	struct inflight_entry *next;
	uint64_t key;
	int64_t t_ms;
	bool nf_trace;
	struct uxt_ct *ct;
	uint8_t ctinfo;
};

struct worker {
	struct live *live;
	unsigned int index;
	pthread_t tid;
	bool started;
	struct uxt_nfq *q;
	struct uxt_nfq_packet pkts[BATCH];
	unsigned char *snap;
	struct uxt_iface stubs[STUB_IFACES];
	unsigned int nstubs;
	int64_t last_expire_ms;
	_Atomic uint64_t packets, accepted, dropped;
};

struct live {
	struct options opt;
	struct uxt_store store;
	int pid_fd;
	int ctl_fd;
	char sock_path[256];
	bool hooks_installed;
	uint32_t queue_hooks;		/* the hooks that queue now (bits) */

	/* configuration: changed by the main thread only, under cfg as a
	 * writer; workers read it under cfg as readers */
	pthread_rwlock_t cfg;
	struct engine **eng;
	unsigned int neng;
	bool shared;
	bool may_mangle;
	void *img;			/* the state file the engines run */
	size_t img_len;
	uint64_t gen;			/* its generation */
	struct layout lay;
	struct uxt_counters *F;		/* counters in the state file */
	struct uxt_counters *carry;	/* counted, not yet written */
	char *host_text;		/* the host model, as uxt host prints it */

	struct worker *workers;
	unsigned int nworkers;
	_Atomic bool stopping;

	/* sinks */
	pthread_mutex_t log_mu;
	int log_fd;
	bool syslog_on;
	pthread_mutex_t nflog_mu;
	struct uxt_nflog_pcap *nflog;

	int raw_fd;
	_Atomic uint64_t created;

	/* conntrack: the event log, written while a conntrack -E listens
	 * (ct-listen), and the table as the last sync wrote it */
	pthread_mutex_t ctev_mu;
	struct ctev_writer *ctev;
	_Atomic int64_t ct_listen_until_ms;
	_Atomic bool ct_quiet;		/* ct-reload applying a command's change */
	const struct uxt_ct_table *ct_snap_table;
	struct uxt_ct_settings ct_snap_set;
	struct ct_snap *ct_snap;
	size_t ct_nsnap, ct_snapcap;

	/* between hooks */
	pthread_mutex_t inflight_mu;
	_Atomic unsigned int inflight_count;
	struct inflight_entry *inflight[INFLIGHT_BUCKETS];

	/* host model updates from the rtnl thread */
	pthread_t rtnl_tid;
	bool rtnl_started;
	int host_efd;
	pthread_mutex_t host_mu;
	char *host_pending;
	_Atomic bool host_refresh;
};

/* Messages of the daemon itself */

static bool log_to_stderr = true;

static void dmsg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dmsg(int prio, const char *fmt, ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (log_to_stderr)
		fprintf(stderr, "uxt daemon: %s\n", text);
	syslog(prio, "%s", text);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		dmsg(LOG_ERR, "out of memory");
		exit(UXT_RESOURCE_PROBLEM);
	}
	return p;
}

/* systemd's readiness protocol, without libsystemd */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* Rulesets: layout, counters, what they need */

static void layout_of(const struct uxt_ruleset *rs, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	for (int t = 0; t < UXT_NTABLES; t++) {
		const struct uxt_table *tab = rs->tables[t];

		l->off[t] = l->total;
		if (!tab)
			continue;
		for (uint32_t c = 0; c < tab->nchains; c++)
			l->n[t] += tab->chains[c]->nrules + 1u;
		l->total += l->n[t];
	}
}

/* The counters a ruleset holds, in layout order. */
static void ruleset_counters(const struct uxt_ruleset *rs,
			     const struct layout *l, struct uxt_counters *out)
{
	for (int t = 0; t < UXT_NTABLES; t++) {
		const struct uxt_table *tab = rs->tables[t];
		size_t i = l->off[t];

		if (!tab)
			continue;
		for (uint32_t c = 0; c < tab->nchains; c++) {
			const struct uxt_chain *ch = tab->chains[c];

			for (uint32_t j = 0; j < ch->nrules; j++)
				out[i++] = ch->rules[j]->counters;
			if (uxt_chain_builtin(ch))
				out[i] = ch->policy_counters;
			else
				memset(&out[i], 0, sizeof(out[i]));
			i++;
		}
	}
}

static bool ext_is_stateful(const struct uxt_ext *x)
{
	static const char *const names[] = {
		"conntrack", "state", "connmark", "CONNMARK", "CT", "NOTRACK",
		"DNAT", "SNAT", "MASQUERADE", "REDIRECT",
	};

	if (!x)
		return false;
	if (x->priv_size)
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(x->name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Whether packets of the ruleset share state (connection tracking, NAT,
 * a rule's own state such as limit's tokens): then one engine serves all
 * queues.
 */
static bool ruleset_shared(const struct uxt_ruleset *rs)
{
	if (rs->tables[1])	/* nat: needs connection tracking */
		return true;
	for (int t = 0; t < UXT_NTABLES; t++) {
		const struct uxt_table *tab = rs->tables[t];

		if (!tab)
			continue;
		for (uint32_t c = 0; c < tab->nchains; c++) {
			const struct uxt_chain *ch = tab->chains[c];

			for (uint32_t j = 0; j < ch->nrules; j++) {
				const struct uxt_rule *r = ch->rules[j];
				const struct uxt_xrec *x;

				uxt_rule_foreach_match(r, x)
					if (ext_is_stateful(uxt_ext_by_id(x->ext)))
						return true;
				if (ext_is_stateful(uxt_ext_by_id(uxt_rule_target(r)->ext)))
					return true;
			}
		}
	}
	return false;
}

/* Whether a target may change the datagram's bytes: nat and mangle. */
static bool ruleset_mangles(const struct uxt_ruleset *rs)
{
	return rs->tables[1] || rs->tables[2];
}

/* An extension whose checkentry would make the kernel track connections. */
static bool xrec_needs_ct(const struct uxt_xrec *x)
{
	const struct uxt_ext *ext = uxt_ext_by_id(x->ext);

	if (!ext)
		return false;
	if (ext->needs_conntrack_data)
		return ext->needs_conntrack_data(x->data);
	return ext->needs_conntrack;
}

/*
 * The hooks (bits of NF_INET_*) the kernel must queue packets at for rs:
 * those of its tables, where the engine has something to do; a hook
 * without a table is a no-op for the engine (uxt_ns_hook), and each one
 * left out saves a round trip through the queue (a forwarded packet under
 * a filter-only ruleset is queued once, at FORWARD, instead of three
 * times).  All five when something travels with the packet from hook to
 * hook (connection tracking: the nat table or an extension that needs it;
 * TRACE's flag), which the daemon carries between hooks itself; and all
 * five for a ruleset without a table, so that a daemon that dies still
 * fails closed on every path (any table's hooks cover every path: each
 * has OUTPUT, and PREROUTING or both INPUT and FORWARD).
 */
static uint32_t ruleset_queue_hooks(const struct uxt_ruleset *rs)
{
	uint32_t hooks = 0;

	if (rs->tables[1])	/* nat */
		return UXT_KHOOKS_ALL;
	for (int t = 0; t < UXT_NTABLES; t++) {
		const struct uxt_table *tab = rs->tables[t];

		if (!tab)
			continue;
		hooks |= uxt_table_defs[t].valid_hooks;
		for (uint32_t c = 0; c < tab->nchains; c++) {
			const struct uxt_chain *ch = tab->chains[c];

			for (uint32_t j = 0; j < ch->nrules; j++) {
				const struct uxt_rule *r = ch->rules[j];
				const struct uxt_ext *tg;
				const struct uxt_xrec *x;

				uxt_rule_foreach_match(r, x)
					if (xrec_needs_ct(x))
						return UXT_KHOOKS_ALL;
				if (xrec_needs_ct(uxt_rule_target(r)))
					return UXT_KHOOKS_ALL;
				tg = uxt_ext_by_id(uxt_rule_target(r)->ext);
				if (tg && strcmp(tg->name, "TRACE") == 0)
					return UXT_KHOOKS_ALL;
			}
		}
	}
	return hooks ? hooks & UXT_KHOOKS_ALL : UXT_KHOOKS_ALL;
}

/*
 * For each entry of new (layout ln), the entry of old (layout lo) that is
 * the same rule, or -1: per chain of the same name, in order, a rule
 * matching the next unmatched old rule or one a little further on (an
 * insertion, deletion or replacement leaves the rest matched).  Tails
 * match tails.
 */
static void match_rulesets(const struct uxt_ruleset *old, const struct layout *lo,
			   const struct uxt_ruleset *new, const struct layout *ln,
			   long *map)
{
	for (size_t i = 0; i < ln->total; i++)
		map[i] = -1;
	for (int t = 0; t < UXT_NTABLES; t++) {
		const struct uxt_table *nt = new->tables[t], *ot = old->tables[t];
		size_t ni = ln->off[t];

		if (!nt)
			continue;
		for (uint32_t c = 0; c < nt->nchains; c++) {
			const struct uxt_chain *nch = nt->chains[c], *och = NULL;
			size_t obase = lo->off[t];
			uint32_t k = 0;

			if (ot)
				for (uint32_t oc = 0; oc < ot->nchains; oc++) {
					if (strcmp(ot->chains[oc]->name, nch->name) == 0) {
						och = ot->chains[oc];
						break;
					}
					obase += ot->chains[oc]->nrules + 1u;
				}
			for (uint32_t j = 0; j < nch->nrules; j++) {
				if (och) {
					for (uint32_t look = 0;
					     look < 64 && k + look < och->nrules; look++)
						if (uxt_rule_same(och->rules[k + look],
								  nch->rules[j])) {
							map[ni + j] = (long)(obase + k + look);
							k += look + 1;
							break;
						}
				}
			}
			if (och)
				map[ni + nch->nrules] = (long)(obase + och->nrules);
			ni += nch->nrules + 1u;
		}
	}
}

/* State files */

static int read_state_file(struct live *L, void **img, size_t *len,
			   uint64_t *gen, struct uxt_err *e)
{
	char path[4200];
	struct stat st;
	unsigned char *buf;
	size_t off = 0;
	int fd;

	*img = NULL;
	*len = 0;
	*gen = 0;
	snprintf(path, sizeof(path), "%s/state", L->store.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s", path,
				      strerror(errno));
	}
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(struct uxt_state_hdr)) {
		close(fd);
		return uxt_error_bare(e, UXT_OTHER_PROBLEM,
				      "state file %s is damaged (size)", path);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return uxt_error_bare(e, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			close(fd);
			return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: short read",
					      path);
		}
		off += (size_t)n;
	}
	close(fd);
	*img = buf;
	*len = off;
	*gen = ((const struct uxt_state_hdr *)buf)->generation;
	return 0;
}

static uint64_t state_file_generation(struct live *L)
{
	char path[4200];
	struct uxt_state_hdr h;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/state", L->store.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, &h, sizeof(h));
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h.magic, UXT_STATE_MAGIC, 8) != 0)
		return UINT64_MAX;
	return h.generation;
}

static int parse_image(const void *img, size_t len, struct uxt_ruleset *rs,
		       struct uxt_err *e)
{
	if (!img) {
		uxt_ruleset_init(rs);
		return 0;
	}
	return uxt_state_parse(img, len, rs, e);
}

/* Sinks: LOG, NFLOG */

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void ev_log(void *ctx, unsigned int level, const char *line)
{
	struct engine *eng = ctx;
	struct live *L = eng->live;

	pthread_mutex_lock(&L->log_mu);
	if (L->syslog_on)
		syslog((int)(level & 7), "%s", line);
	if (L->log_fd >= 0) {
		char head[64], buf[2048];
		struct timespec ts;
		struct tm tm;
		int n;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(buf, sizeof(buf), "%s.%06ld %s: <%u>%s\n", head,
			     ts.tv_nsec / 1000, DAEMON_NAME, level, line);
		if (n > 0)
			write_all(L->log_fd, buf,
				  (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	}
	pthread_mutex_unlock(&L->log_mu);
}

static void ev_nflog(void *ctx, const struct uxt_pkt *pkt, unsigned int hook,
		     uint16_t group, const char *prefix, uint32_t copy_len)
{
	struct engine *eng = ctx;
	struct live *L = eng->live;
	struct uxt_err e;

	if (!L->nflog)
		return;
	pthread_mutex_lock(&L->nflog_mu);
	if (L->nflog &&
	    uxt_nflog_pcap_write(L->nflog, pkt, hook, group, prefix, copy_len,
				 wall_ns(), &e))
		dmsg(LOG_ERR, "NFLOG: %s", e.msg);
	pthread_mutex_unlock(&L->nflog_mu);
}

static int open_sinks(struct live *L, struct uxt_err *e)
{
	if (L->opt.log_path) {
		L->log_fd = open(L->opt.log_path,
				 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (L->log_fd < 0)
			return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s",
					      L->opt.log_path, strerror(errno));
	}
	if (L->opt.nflog_dir) {
		L->nflog = uxt_nflog_pcap_open(L->opt.nflog_dir, e);
		if (!L->nflog)
			return -1;
	}
	return 0;
}

/* SIGHUP: new files for rotated ones */
static void reopen_sinks(struct live *L)
{
	struct uxt_err e;

	pthread_mutex_lock(&L->log_mu);
	if (L->opt.log_path) {
		int fd = open(L->opt.log_path,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		if (fd < 0) {
			dmsg(LOG_ERR, "%s: %s", L->opt.log_path, strerror(errno));
		} else {
			if (L->log_fd >= 0)
				close(L->log_fd);
			L->log_fd = fd;
		}
	}
	pthread_mutex_unlock(&L->log_mu);
	pthread_mutex_lock(&L->nflog_mu);
	if (L->nflog) {
		if (uxt_nflog_pcap_close(L->nflog, &e))
			dmsg(LOG_ERR, "NFLOG: %s", e.msg);
		L->nflog = uxt_nflog_pcap_open(L->opt.nflog_dir, &e);
		if (!L->nflog)
			dmsg(LOG_ERR, "NFLOG: %s", e.msg);
	}
	pthread_mutex_unlock(&L->nflog_mu);
	dmsg(LOG_INFO, "log files reopened");
}

/* Between hooks */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* What no hook in between changes: addresses, protocol, IP ID, and the
 * first 8 bytes of the transport header of a first fragment (a datagram
 * reassembled before INPUT keeps those of its first fragment). */
static uint64_t packet_key(const struct uxt_pkt *p)
{
	const struct uxt_iphdr *iph = uxt_iph(p);
	unsigned int hl = uxt_ip_hlen(p);
	uint64_t k = ((uint64_t)iph->saddr << 32 | iph->daddr);
	uint64_t l4 = 0;

	k = mix64(k) ^ mix64((uint64_t)iph->protocol << 16 | iph->id);
	if (!uxt_pkt_fragoff(p) && hl + 8 <= p->len)
		memcpy(&l4, p->data + hl, 8);
	else
		l4 = uxt_pkt_fragoff(p) | 1ull << 40;
	return mix64(k ^ mix64(l4));
}

static void inflight_put(struct live *L, struct uxt_pkt *p)
{
	struct inflight_entry *en = xcalloc(1, sizeof(*en));
	unsigned int b;

	en->key = packet_key(p);
	en->t_ms = mono_ms();
	en->nf_trace = p->nf_trace;
	en->ct = p->ct;
	en->ctinfo = p->ctinfo;
	p->ct = NULL;
	b = (unsigned int)(en->key % INFLIGHT_BUCKETS);
	pthread_mutex_lock(&L->inflight_mu);
	en->next = L->inflight[b];
	L->inflight[b] = en;
	atomic_fetch_add(&L->inflight_count, 1);
	pthread_mutex_unlock(&L->inflight_mu);
}

/* Restores what an earlier hook left for p; true if something was. */
static bool inflight_take(struct live *L, struct uxt_pkt *p)
{
	uint64_t key = packet_key(p);
	unsigned int b = (unsigned int)(key % INFLIGHT_BUCKETS);
	struct inflight_entry **pp, *found = NULL, **foundp = NULL;

	pthread_mutex_lock(&L->inflight_mu);
	/* the oldest entry of the key: identical datagrams pass in order */
	for (pp = &L->inflight[b]; *pp; pp = &(*pp)->next)
		if ((*pp)->key == key) {
			found = *pp;
			foundp = pp;
		}
	if (found) {
		*foundp = found->next;
		atomic_fetch_sub(&L->inflight_count, 1);
	}
	pthread_mutex_unlock(&L->inflight_mu);
	if (!found)
		return false;
	p->nf_trace = found->nf_trace;
	p->ct = found->ct;
	p->ctinfo = found->ctinfo;
	free(found);
	return true;
}

/* Entries of packets the kernel dropped after a verdict; called with the
 * engine's lock held. */
static void inflight_expire(struct live *L, struct engine *eng, int64_t now)
{
	struct inflight_entry *dead = NULL;

	pthread_mutex_lock(&L->inflight_mu);
	for (unsigned int b = 0; b < INFLIGHT_BUCKETS; b++) {
		struct inflight_entry **pp = &L->inflight[b];

		while (*pp) {
			struct inflight_entry *en = *pp;

			if (now - en->t_ms > INFLIGHT_TTL_MS) {
				*pp = en->next;
				en->next = dead;
				dead = en;
				atomic_fetch_sub(&L->inflight_count, 1);
			} else {
				pp = &en->next;
			}
		}
	}
	pthread_mutex_unlock(&L->inflight_mu);
	while (dead) {
		struct inflight_entry *en = dead;
		struct uxt_pkt p;

		dead = en->next;
		memset(&p, 0, sizeof(p));
		p.ct = en->ct;
		p.ctinfo = en->ctinfo;
		uxt_ns_hook_finish(eng->ns, &p);
		free(en);
	}
}

/* Packets the engine creates */

static void ev_local_out(void *ctx, struct uxt_pkt *pkt,
			 const struct uxt_route_result *rt)
{
	struct engine *eng = ctx;
	struct live *L = eng->live;
	struct uxt_iphdr *iph;
	struct sockaddr_in sin = {.sin_family = AF_INET};

	(void)rt;
	if (pkt->len < sizeof(*iph) || L->raw_fd < 0) {
		uxt_ns_hook_finish(eng->ns, pkt);
		return;
	}
	/* what leaves has its checksums complete */
	uxt_pkt_csum_help(pkt);
	iph = uxt_iph(pkt);
	if (!iph->id && !(iph->frag_off & htons(UXT_IP_DF))) {
		/* the kernel would pick one; pick it here so that the
		 * packet is known again at OUTPUT */
		iph->id = htons(uxt_ns_next_ip_id(eng->ns, iph->daddr));
		uxt_ip_send_check(pkt);
	}
	if (pkt->ct) {
		/* the reply holds the entry until its last hook, as the
		 * kernel's skb holds its reference (nf_ct_attach): the entry
		 * of a request REJECT dropped is freed otherwise */
		uxt_ct_pkt_get(uxt_ns_ct(eng->ns), pkt);
		inflight_put(L, pkt);
	}
	sin.sin_addr.s_addr = iph->daddr;
	if (sendto(L->raw_fd, pkt->data, pkt->len, MSG_DONTWAIT,
		   (struct sockaddr *)&sin, sizeof(sin)) >= 0)
		atomic_fetch_add(&L->created, 1);
	uxt_ns_hook_finish(eng->ns, pkt);
}

/* Conntrack events go to the state's event log while someone follows it
 * (conntrack -E), as the kernel sends them only to listeners; called with
 * the engine's lock held. */
static void ev_ct_event(void *ctx, unsigned int kind, uint32_t event_mask,
			const struct uxt_ct *ct, uint64_t now_ns)
{
	struct engine *eng = ctx;
	struct live *L = eng->live;

	if (atomic_load(&L->ct_quiet) ||
	    atomic_load_explicit(&L->ct_listen_until_ms,
				 memory_order_relaxed) < mono_ms())
		return;
	pthread_mutex_lock(&L->ctev_mu);
	if (!L->ctev)
		L->ctev = ctev_writer_open(L->store.dir, 0);
	ctev_writer_event(L->ctev, (enum uxt_ct_event_kind)kind, event_mask, ct,
			  now_ns);
	pthread_mutex_unlock(&L->ctev_mu);
}

/* Engines */

static struct engine *engine_new(struct live *L, const void *img, size_t len,
				 const struct uxt_counters *base, size_t nbase,
				 struct uxt_err *e)
{
	struct engine *eng = xcalloc(1, sizeof(*eng));
	struct uxt_host *h = xcalloc(1, sizeof(*h));
	struct uxt_events ev = {
		.log = ev_log,
		.nflog = ev_nflog,
		.local_out = ev_local_out,
		.ct_event = ev_ct_event,
	};

	pthread_mutex_init(&eng->mu, NULL);
	eng->live = L;
	if (parse_image(img, len, &eng->rs, e)) {
		free(h);
		pthread_mutex_destroy(&eng->mu);
		free(eng);
		return NULL;
	}
	eng->ns = uxt_ns_new();
	uxt_host_init(h);
	if (uxt_host_parse(h, L->host_text, strlen(L->host_text), "netns", e)) {
		uxt_host_free(h);
		free(h);
		uxt_ns_free(eng->ns);
		uxt_ruleset_free(&eng->rs);
		pthread_mutex_destroy(&eng->mu);
		free(eng);
		return NULL;
	}
	uxt_ns_set_host(eng->ns, h);
	ev.ctx = eng;
	uxt_ns_set_events(eng->ns, &ev);
	uxt_ns_set_time(eng->ns, wall_ns());
	if (uxt_ns_classifier_from_env(eng->ns, e) ||
	    uxt_ns_set_ruleset(eng->ns, &eng->rs, e)) {
		uxt_ns_free(eng->ns);
		uxt_ruleset_free(&eng->rs);
		pthread_mutex_destroy(&eng->mu);
		free(eng);
		return NULL;
	}
	eng->seen = xcalloc(nbase, sizeof(*eng->seen));
	if (nbase)
		memcpy(eng->seen, base, nbase * sizeof(*base));
	return eng;
}

static void engine_free(struct engine *eng)
{
	if (!eng)
		return;
	uxt_ns_free(eng->ns);
	uxt_ruleset_free(&eng->rs);
	free(eng->seen);
	pthread_mutex_destroy(&eng->mu);
	free(eng);
}

/* The live counters of eng, in layout order (eng->mu held). */
static void engine_counters(struct engine *eng, const struct layout *l,
			    struct uxt_counters *out)
{
	for (int t = 0; t < UXT_NTABLES; t++)
		if (l->n[t])
			uxt_ns_counters(eng->ns, t, out + l->off[t], l->n[t]);
}

/*
 * What the engines counted since the last sync, added to acc; seen moves
 * on.  Called by the main thread; takes each engine's lock.
 */
static void collect_deltas(struct live *L, struct uxt_counters *acc)
{
	size_t n = L->lay.total;
	struct uxt_counters *now = xcalloc(n, sizeof(*now));

	for (unsigned int k = 0; k < L->neng; k++) {
		struct engine *eng = L->eng[k];

		pthread_mutex_lock(&eng->mu);
		engine_counters(eng, &L->lay, now);
		pthread_mutex_unlock(&eng->mu);
		for (size_t i = 0; i < n; i++) {
			acc[i].pcnt += now[i].pcnt - eng->seen[i].pcnt;
			acc[i].bcnt += now[i].bcnt - eng->seen[i].bcnt;
			eng->seen[i] = now[i];
		}
	}
	free(now);
}

/* The kernel's hooks for the options, queueing at hooks. */
static void khooks_config(const struct live *L, uint32_t hooks,
			  struct uxt_khooks_config *kc)
{
	memset(kc, 0, sizeof(*kc));
	kc->queue_base = (uint16_t)L->opt.queue_base;
	kc->queues = (uint16_t)L->opt.queues;
	kc->bypass = L->opt.fail_open;
	kc->cpu_fanout = L->opt.cpu_fanout;
	kc->queue_hooks = hooks;
}

/* Makes the kernel queue packets at exactly hooks (ruleset_queue_hooks),
 * in one transaction; main thread. */
static int set_queue_hooks(struct live *L, uint32_t hooks, struct uxt_err *e)
{
	struct uxt_khooks_config kc;

	if (!L->hooks_installed || hooks == L->queue_hooks)
		return 0;
	khooks_config(L, hooks, &kc);
	if (uxt_khooks_set_queue_hooks(&kc, L->queue_hooks, e))
		return -1;
	L->queue_hooks = hooks;
	return 0;
}

/*
 * Loads the state file and puts it in service: new engines (or, for a
 * ruleset with shared state that the running one also has, the same
 * engine with the new ruleset, so that connection tracking goes on), the
 * counters of the command's window carried over.
 */
static int do_reload(struct live *L, struct uxt_err *e)
{
	void *img;
	size_t len;
	uint64_t gen;
	struct uxt_ruleset rs0, old0;
	struct layout lay;
	struct uxt_counters *Fnew, *delta, *carry;
	long *map;
	bool shared, mangles, in_place;
	uint32_t hooks;
	struct engine **neweng = NULL, **oldeng;
	unsigned int nnew, nold;
	void *oldimg;

	if (read_state_file(L, &img, &len, &gen, e))
		return -1;
	if (parse_image(img, len, &rs0, e)) {
		free(img);
		return -1;
	}
	layout_of(&rs0, &lay);
	Fnew = xcalloc(lay.total, sizeof(*Fnew));
	ruleset_counters(&rs0, &lay, Fnew);
	shared = ruleset_shared(&rs0);
	mangles = ruleset_mangles(&rs0);
	hooks = ruleset_queue_hooks(&rs0);
	map = xcalloc(lay.total, sizeof(*map));
	if (parse_image(L->img, L->img_len, &old0, e)) {
		/* cannot happen: the running image was parsed before */
		uxt_ruleset_init(&old0);
	}
	match_rulesets(&old0, &L->lay, &rs0, &lay, map);
	uxt_ruleset_free(&old0);
	uxt_ruleset_free(&rs0);
	/* the hooks the new ruleset needs queue before it serves (those it
	 * no longer needs stop after the swap) */
	if (set_queue_hooks(L, L->queue_hooks | hooks, e)) {
		free(map);
		free(Fnew);
		free(img);
		return -1;
	}

	in_place = shared && L->shared && L->neng == 1;
	nnew = shared ? 1 : L->nworkers;
	if (!in_place) {
		neweng = xcalloc(nnew, sizeof(*neweng));
		for (unsigned int k = 0; k < nnew; k++) {
			neweng[k] = engine_new(L, img, len, Fnew, lay.total, e);
			if (!neweng[k]) {
				for (unsigned int j = 0; j < k; j++)
					engine_free(neweng[j]);
				free(neweng);
				free(map);
				free(Fnew);
				free(img);
				return -1;
			}
		}
	}

	delta = xcalloc(L->lay.total, sizeof(*delta));
	oldeng = L->eng;
	nold = L->neng;
	oldimg = L->img;
	pthread_rwlock_wrlock(&L->cfg);
	collect_deltas(L, delta);
	if (in_place) {
		struct engine *eng = L->eng[0];
		struct uxt_ruleset rsn, rso = eng->rs;

		/* parsed before the lock would be better; the ruleset must
		 * live in the engine, so it is parsed here (cheap next to
		 * the compilation, which needs the engine anyway) */
		if (parse_image(img, len, &rsn, e) == 0) {
			pthread_mutex_lock(&eng->mu);
			eng->rs = rsn;
			if (uxt_ns_set_ruleset(eng->ns, &eng->rs, e)) {
				eng->rs = rso;
				uxt_ns_set_ruleset(eng->ns, &eng->rs, NULL);
				pthread_mutex_unlock(&eng->mu);
				uxt_ruleset_free(&rsn);
				pthread_rwlock_unlock(&L->cfg);
				free(delta);
				free(map);
				free(Fnew);
				free(img);
				return -1;
			}
			pthread_mutex_unlock(&eng->mu);
			uxt_ruleset_free(&rso);
			free(eng->seen);
			eng->seen = xcalloc(lay.total, sizeof(*eng->seen));
			if (lay.total)
				memcpy(eng->seen, Fnew, lay.total * sizeof(*Fnew));
		} else {
			pthread_rwlock_unlock(&L->cfg);
			free(delta);
			free(map);
			free(Fnew);
			free(img);
			return -1;
		}
	} else {
		L->eng = neweng;
		L->neng = nnew;
		L->ct_snap_table = NULL;	/* a new conntrack table */
	}
	L->shared = shared;
	L->may_mangle = mangles;
	pthread_rwlock_unlock(&L->cfg);
	{
		struct uxt_err he;

		/* a hook left queueing only costs time */
		if (set_queue_hooks(L, hooks, &he))
			dmsg(LOG_WARNING, "%s", he.msg);
	}

	/* the window's counts (and what was not written yet) follow their
	 * rules, unless the command set those counters itself */
	carry = xcalloc(lay.total, sizeof(*carry));
	for (size_t j = 0; j < lay.total; j++) {
		long i = map[j];
		uint64_t p, b;

		if (i < 0 || (size_t)i >= L->lay.total)
			continue;
		p = delta[i].pcnt + L->carry[i].pcnt;
		b = delta[i].bcnt + L->carry[i].bcnt;
		if ((Fnew[j].pcnt == L->F[i].pcnt && Fnew[j].bcnt == L->F[i].bcnt) ||
		    (Fnew[j].pcnt == 0 && Fnew[j].bcnt == 0)) {
			carry[j].pcnt = p;
			carry[j].bcnt = b;
		}
	}
	free(delta);
	free(map);
	free(L->F);
	free(L->carry);
	L->F = Fnew;
	L->carry = carry;
	L->lay = lay;
	L->img = img;
	L->img_len = len;
	L->gen = gen;
	if (!in_place) {
		for (unsigned int k = 0; k < nold; k++)
			engine_free(oldeng[k]);
		free(oldeng);
	}
	free(oldimg);
	return 0;
}

static int ct_snap_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct ct_snap *)a)->id;
	uint32_t y = ((const struct ct_snap *)b)->id;

	return x < y ? -1 : x > y;
}

static int ct_snap_add(struct uxt_ct *ct, void *arg)
{
	struct live *L = arg;
	struct ct_snap *s;

	if (L->ct_nsnap == L->ct_snapcap) {
		size_t cap = L->ct_snapcap ? L->ct_snapcap * 2 : 256;

		s = realloc(L->ct_snap, cap * sizeof(*s));
		if (!s)
			return -1;	/* a partial snapshot: ct-reload
					 * leaves the rest alone */
		L->ct_snap = s;
		L->ct_snapcap = cap;
	}
	s = &L->ct_snap[L->ct_nsnap++];
	s->id = ct->id;
	s->mark = ct->mark;
	s->status = ct->status;
	s->tcp_state = ct->tuple[0].proto == 6 ? ct->proto.tcp.state : 0;
	s->timeout_ns = ct->timeout_ns;
	return 0;
}

/* The connection tracking table of the shared engine, into the state
 * directory (DIR/conntrack, what conntrack -L reads); what it wrote is
 * kept for ct-reload. */
static int sync_ct(struct live *L, struct uxt_err *e)
{
	struct engine *eng;
	int ret = 0;

	if (!L->shared || L->neng != 1)
		return 0;
	eng = L->eng[0];
	pthread_mutex_lock(&eng->mu);
	if (uxt_ns_ct_active(eng->ns)) {
		struct uxt_ct_table *t = uxt_ns_ct(eng->ns);

		/* its time runs with the wall clock: a listing made later
		 * counts the timeouts down */
		uxt_ct_table_set_wall_clock(t, true);
		ret = uxt_store_commit_ct(&L->store, t, e);
		L->ct_nsnap = 0;
		L->ct_snap_table = NULL;
		if (ret == 0) {
			L->ct_snap_set = *uxt_ct_table_settings(t);
			uxt_ct_table_walk(t, ct_snap_add, L);
			if (L->ct_nsnap)
				qsort(L->ct_snap, L->ct_nsnap,
				      sizeof(*L->ct_snap), ct_snap_cmp);
			L->ct_snap_table = t;
		}
	}
	pthread_mutex_unlock(&eng->mu);
	return ret;
}

/* The entries of a table loaded from the state directory, by id */
struct ct_by_id {
	struct uxt_ct **v;
	size_t n, cap;
};

static int ct_by_id_add(struct uxt_ct *ct, void *arg)
{
	struct ct_by_id *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct uxt_ct **v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -1;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = ct;
	return 0;
}

static int ct_ptr_cmp(const void *a, const void *b)
{
	uint32_t x = (*(struct uxt_ct *const *)a)->id;
	uint32_t y = (*(struct uxt_ct *const *)b)->id;

	return x < y ? -1 : x > y;
}

struct ct_apply {
	struct live *L;
	struct uxt_ct_table *t;
	struct ct_by_id *file;
};

/* One live entry: what the command changed of it since the sync */
static int ct_apply_one(struct uxt_ct *ct, void *arg)
{
	struct ct_apply *a = arg;
	struct live *L = a->L;
	struct ct_snap key = {.id = ct->id}, *s;
	struct uxt_ct kf = {.id = ct->id}, *kp = &kf, **fp;
	const struct uxt_ct *f;
	uint32_t diff;

	s = L->ct_nsnap ? bsearch(&key, L->ct_snap, L->ct_nsnap, sizeof(*s),
				  ct_snap_cmp) : NULL;
	if (!s)
		return 0;	/* made by a packet after the sync */
	fp = a->file->n ? bsearch(&kp, a->file->v, a->file->n,
				  sizeof(*a->file->v), ct_ptr_cmp) : NULL;
	if (!fp) {
		/* deleted (-D, -F) or expired by the command's clock */
		uxt_ct_destroy(a->t, ct);
		return 0;
	}
	f = *fp;
	if (f->mark != s->mark)
		ct->mark = f->mark;
	diff = f->status ^ s->status;
	ct->status = (ct->status & ~diff) | (f->status & diff);
	if (f->timeout_ns != s->timeout_ns)
		uxt_ct_set_timeout(a->t, ct, f->timeout_ns);
	if (ct->tuple[0].proto == 6 && f->proto.tcp.state != s->tcp_state)
		ct->proto.tcp.state = f->proto.tcp.state;
	return 0;
}

/*
 * ct-reload: a command (conntrack -D/-F/-U, uxt sysctl -w) committed the
 * table it loaded after a sync.  What it changed is applied to the live
 * table: entries gone from the file are destroyed, fields that differ from
 * what the sync wrote take the file's value; entries made and fields
 * changed by packets since the sync stay.  The command logged its own
 * events; these changes log none.
 */
static int do_ct_reload(struct live *L, struct uxt_err *e)
{
	struct uxt_ct_table *file;
	struct ct_by_id b = {0};
	struct engine *eng;
	bool found;
	int ret = 0;

	if (!L->shared || L->neng != 1 || !L->ct_snap_table)
		return 0;
	file = uxt_ct_table_new();
	if (!file)
		return uxt_error_bare(e, UXT_RESOURCE_PROBLEM, "out of memory");
	if (uxt_store_load_ct(&L->store, file, &found, e) ||
	    uxt_ct_table_walk(file, ct_by_id_add, &b)) {
		if (!e->msg[0])
			uxt_error_bare(e, UXT_RESOURCE_PROBLEM, "out of memory");
		uxt_ct_table_free(file);
		free(b.v);
		return -1;
	}
	if (b.n)
		qsort(b.v, b.n, sizeof(*b.v), ct_ptr_cmp);
	eng = L->eng[0];
	pthread_mutex_lock(&eng->mu);
	if (uxt_ns_ct_active(eng->ns) && uxt_ns_ct(eng->ns) == L->ct_snap_table) {
		struct ct_apply a = {.L = L, .t = uxt_ns_ct(eng->ns), .file = &b};

		atomic_store(&L->ct_quiet, true);
		if (found)
			*uxt_ct_table_settings(a.t) = *uxt_ct_table_settings(file);
		uxt_ct_table_walk(a.t, ct_apply_one, &a);
		atomic_store(&L->ct_quiet, false);
	}
	pthread_mutex_unlock(&eng->mu);
	/* applied once: the next command syncs first */
	L->ct_snap_table = NULL;
	L->ct_nsnap = 0;
	uxt_ct_table_free(file);
	free(b.v);
	return ret;
}

/*
 * Writes the live counters into the state file.  The caller holds the
 * state lock (a command line that asked, or the daemon itself at exit).
 */
static int do_sync(struct live *L, struct uxt_err *e)
{
	struct uxt_counters *M;
	struct uxt_ruleset rs;
	bool dirty = false;
	size_t n;
	uint64_t fgen = state_file_generation(L);

	if (fgen != L->gen) {
		/* committed behind the daemon's back: take it first */
		if (do_reload(L, e))
			return -1;
	}
	n = L->lay.total;
	M = xcalloc(n, sizeof(*M));
	for (size_t i = 0; i < n; i++) {
		M[i].pcnt = L->F[i].pcnt + L->carry[i].pcnt;
		M[i].bcnt = L->F[i].bcnt + L->carry[i].bcnt;
	}
	collect_deltas(L, M);
	for (size_t i = 0; i < n && !dirty; i++)
		dirty = M[i].pcnt != L->F[i].pcnt || M[i].bcnt != L->F[i].bcnt;
	if (sync_ct(L, e)) {
		free(M);
		return -1;
	}
	if (!dirty || !L->img) {
		free(M);
		memset(L->carry, 0, n * sizeof(*L->carry));
		return 0;
	}
	if (parse_image(L->img, L->img_len, &rs, e)) {
		free(M);
		return -1;
	}
	for (int t = 0; t < UXT_NTABLES; t++) {
		struct uxt_table *tab = rs.tables[t];
		size_t i = L->lay.off[t];

		if (!tab)
			continue;
		for (uint32_t c = 0; c < tab->nchains; c++) {
			struct uxt_chain *ch = tab->chains[c];

			for (uint32_t j = 0; j < ch->nrules; j++, i++) {
				struct uxt_rule *r;

				if (ch->rules[j]->counters.pcnt == M[i].pcnt &&
				    ch->rules[j]->counters.bcnt == M[i].bcnt)
					continue;
				r = uxt_rule_dup(&rs, ch->rules[j]);
				r->counters = M[i];
				ch->rules[j] = r;
			}
			if (uxt_chain_builtin(ch))
				ch->policy_counters = M[i];
			i++;
		}
	}
	L->store.generation = L->gen;
	if (uxt_store_commit(&L->store, &rs, e)) {
		uxt_ruleset_free(&rs);
		free(M);
		return -1;
	}
	uxt_ruleset_free(&rs);
	L->gen = L->store.generation;
	free(L->F);
	L->F = M;
	memset(L->carry, 0, n * sizeof(*L->carry));
	return 0;
}

/* A new host model, from the rtnl thread (main thread). */
static void apply_host(struct live *L, char *text)
{
	struct uxt_err e;

	pthread_rwlock_wrlock(&L->cfg);
	for (unsigned int k = 0; k < L->neng; k++) {
		struct uxt_host *h = xcalloc(1, sizeof(*h));

		uxt_host_init(h);
		if (uxt_host_parse(h, text, strlen(text), "netns", &e)) {
			dmsg(LOG_ERR, "host model: %s", e.msg);
			uxt_host_free(h);
			free(h);
			continue;
		}
		pthread_mutex_lock(&L->eng[k]->mu);
		uxt_ns_set_host(L->eng[k]->ns, h);
		pthread_mutex_unlock(&L->eng[k]->mu);
	}
	free(L->host_text);
	L->host_text = text;
	for (unsigned int w = 0; w < L->nworkers; w++)
		L->workers[w].nstubs = 0;
	pthread_rwlock_unlock(&L->cfg);
}

/* Workers */

static const struct uxt_iface *dev_of(struct worker *w, const struct uxt_host *h,
				      int index)
{
	const struct uxt_iface *d;
	char name[IF_NAMESIZE];

	if (index <= 0)
		return NULL;
	d = h ? uxt_host_iface_by_index(h, index) : NULL;
	if (d)
		return d;
	/* a device newer than the model: its name, until the model has it */
	atomic_store(&w->live->host_refresh, true);
	for (unsigned int i = 0; i < w->nstubs; i++)
		if (w->stubs[i].index == index)
			return &w->stubs[i];
	if (!if_indextoname((unsigned int)index, name))
		snprintf(name, sizeof(name), "if%d", index);
	if (w->nstubs == STUB_IFACES)
		w->nstubs = 0;
	memset(&w->stubs[w->nstubs], 0, sizeof(w->stubs[0]));
	snprintf(w->stubs[w->nstubs].name, sizeof(w->stubs[0].name), "%s", name);
	w->stubs[w->nstubs].index = index;
	w->stubs[w->nstubs].type = UXT_ARPHRD_ETHER;
	w->stubs[w->nstubs].mtu = 1500;
	w->stubs[w->nstubs].up = true;
	return &w->stubs[w->nstubs++];
}

static void handle(struct worker *w, struct engine *eng,
		   struct uxt_nfq_packet *np, uint64_t now)
{
	struct live *L = w->live;
	const struct uxt_host *h = uxt_ns_host(eng->ns);
	const struct uxt_iface *in, *out;
	struct uxt_pkt p;
	struct uxt_err e;
	unsigned int hook = np->hook, v;
	uint32_t len0;
	bool own = false, modified = false, final;

	if (!np->payload || np->len < sizeof(struct uxt_iphdr) ||
	    (np->payload[0] >> 4) != 4 || hook >= UXT_NHOOKS ||
	    (np->payload[0] & 15) * 4u > np->len) {
		/* not a datagram the engine can look at (the kernel checked
		 * IPv4 headers before any hook); let it be */
		if (uxt_nfq_verdict(w->q, np, NF_ACCEPT, false, 0, NULL, 0, &e))
			dmsg(LOG_ERR, "%s", e.msg);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.data = np->payload;
	p.len = np->len;
	p.cap = np->room;
	in = dev_of(w, h, np->indev);
	out = dev_of(w, h, np->outdev);
	p.indev = in;
	p.outdev = out;
	p.mark = np->mark;
	if (hook == UXT_HOOK_LOCAL_OUT && np->mark == L->opt.own_mark) {
		/* a packet the engine made: no socket, the mark it was made
		 * with (IP4_REPLY_MARK: 0) */
		own = true;
		p.mark = 0;
	} else if (np->has_uid) {
		p.has_sock = true;
		p.uid = np->uid;
		p.gid = np->has_gid ? np->gid : 0;
	}
	if (in) {
		uxt_pkt_set_rx_link(&p, h, in);
		if (np->hwaddr_len == 6 && p.mac_len == 14 && !in->loopback)
			memcpy(p.mac + 6, np->hwaddr, 6);
	} else {
		p.pkt_type = UXT_PACKET_HOST;
	}
	p.tstamp_ns = np->tstamp_ns ? np->tstamp_ns : now;
	if (np->skb_info & NFQA_SKB_CSUMNOTREADY) {
		const struct uxt_iphdr *iph = uxt_iph(&p);
		unsigned int hl = uxt_ip_hlen(&p);

		if (!uxt_pkt_fragoff(&p) && iph->protocol == 6 && hl + 18 <= p.len) {
			p.csum_partial = true;
			p.csum_offset = (uint16_t)(hl + 16);
		} else if (!uxt_pkt_fragoff(&p) && iph->protocol == 17 &&
			   hl + 8 <= p.len) {
			p.csum_partial = true;
			p.csum_offset = (uint16_t)(hl + 6);
		}
	}
	if (atomic_load_explicit(&L->inflight_count, memory_order_relaxed) &&
	    (own || hook == UXT_HOOK_LOCAL_IN || hook == UXT_HOOK_FORWARD ||
	     hook == UXT_HOOK_POST_ROUTING ||
	     (hook == UXT_HOOK_PRE_ROUTING && in && in->loopback)))
		inflight_take(L, &p);
	len0 = p.len;
	if (L->may_mangle)
		memcpy(w->snap, p.data, p.len);
	v = uxt_ns_hook(eng->ns, hook, &p, in, out);
	atomic_fetch_add_explicit(&w->packets, 1, memory_order_relaxed);
	if (v != UXT_NF_ACCEPT) {
		atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed);
		if (uxt_nfq_verdict(w->q, np, NF_DROP, false, 0, NULL, 0, &e))
			dmsg(LOG_ERR, "%s", e.msg);
		uxt_ns_hook_finish(eng->ns, &p);
		return;
	}
	atomic_fetch_add_explicit(&w->accepted, 1, memory_order_relaxed);
	if (L->may_mangle && p.data &&
	    (p.len != len0 || p.data != np->payload || memcmp(p.data, w->snap, len0)))
		modified = true;
	if (modified && p.csum_partial)
		/* the kernel takes new bytes as checksummed (CHECKSUM_NONE) */
		uxt_pkt_csum_help(&p);
	if (uxt_nfq_verdict(w->q, np, NF_ACCEPT, p.mark != np->mark, p.mark,
			    modified ? p.data : NULL, p.len, &e))
		dmsg(LOG_ERR, "%s", e.msg);
	final = hook == UXT_HOOK_LOCAL_IN ||
		(hook == UXT_HOOK_POST_ROUTING && !(out && out->loopback));
	if (!final && (p.nf_trace || p.ct))
		inflight_put(L, &p);
	uxt_ns_hook_finish(eng->ns, &p);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct live *L = w->live;
	struct uxt_err e;
	unsigned int errors = 0;

	while (!atomic_load(&L->stopping)) {
		int n = uxt_nfq_recv(w->q, w->pkts, BATCH, 200, &e);
		struct engine *eng;
		uint64_t now;

		if (n < 0) {
			if (errors++ < 10)
				dmsg(LOG_ERR, "queue %u: %s",
				     L->opt.queue_base + w->index, e.msg);
			usleep(10000);
			continue;
		}
		if (n == 0 && !atomic_load(&L->inflight_count))
			continue;
		pthread_rwlock_rdlock(&L->cfg);
		eng = L->eng[L->shared ? 0 : w->index % L->neng];
		pthread_mutex_lock(&eng->mu);
		now = wall_ns();
		uxt_ns_set_time(eng->ns, now);
		for (int i = 0; i < n; i++)
			handle(w, eng, &w->pkts[i], now);
		if (atomic_load(&L->inflight_count)) {
			int64_t ms = mono_ms();

			if (ms - w->last_expire_ms > 500) {
				w->last_expire_ms = ms;
				inflight_expire(L, eng, ms);
			}
		}
		pthread_mutex_unlock(&eng->mu);
		pthread_rwlock_unlock(&L->cfg);
		if (uxt_nfq_flush(w->q, &e) && errors++ < 10)
			dmsg(LOG_ERR, "queue %u: %s", L->opt.queue_base + w->index,
			     e.msg);
	}
	return NULL;
}

/* rtnetlink: following the host */

static void *rtnl_main(void *arg)
{
	struct live *L = arg;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	unsigned int groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
	char buf[16384];
	bool dirty = false;
	int64_t last_event = 0, last_read = mono_ms();

	if (!nl || mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		dmsg(LOG_ERR, "rtnetlink: %s; the host model will not follow "
		     "changes", strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return NULL;
	}
	{
		int grp = RTNLGRP_IPV4_NETCONF;

		setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK,
			   NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp));
	}
	while (!atomic_load(&L->stopping)) {
		struct pollfd pfd = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
		int64_t now;
		int r = poll(&pfd, 1, 50);

		if (r > 0) {
			ssize_t n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);

			(void)n;
			dirty = true;
			last_event = mono_ms();
			continue;
		}
		now = mono_ms();
		if (atomic_exchange(&L->host_refresh, false))
			dirty = true;
		/* settle for 20 ms; and read it again now and then, for the
		 * switches that announce nothing (send_redirects...) */
		if ((dirty && now - last_event >= 20) || now - last_read >= 10000) {
			struct uxt_host h;
			struct uxt_err e;
			struct uxt_buf b;

			dirty = false;
			last_read = now;
			uxt_host_init(&h);
			if (uxt_host_from_netns(&h, &e)) {
				dmsg(LOG_ERR, "host model: %s", e.msg);
				uxt_host_free(&h);
				continue;
			}
			uxt_buf_init(&b, -1);
			uxt_host_format(&h, &b);
			uxt_host_free(&h);
			pthread_mutex_lock(&L->host_mu);
			if (!L->host_pending ||
			    strcmp(L->host_pending, uxt_buf_str(&b)) != 0) {
				free(L->host_pending);
				L->host_pending = strdup(uxt_buf_str(&b));
				if (L->host_pending) {
					uint64_t one = 1;

					if (write(L->host_efd, &one, sizeof(one)) < 0)
						dmsg(LOG_ERR, "host model: %s",
						     strerror(errno));
				}
			}
			pthread_mutex_unlock(&L->host_mu);
			uxt_buf_free(&b);
		}
	}
	mnl_socket_close(nl);
	return NULL;
}

/* The control socket */

static void status_text(struct live *L, char *out, size_t n)
{
	uint64_t pk = 0, acc = 0, drop = 0, lost = 0, enobufs = 0;
	char hooks[64] = "";

	for (unsigned int h = 0; h < UXT_NHOOKS; h++)
		if (L->queue_hooks & (1u << h))
			snprintf(hooks + strlen(hooks), sizeof(hooks) - strlen(hooks),
				 "%s%s", hooks[0] ? " " : "", uxt_hook_names[h]);
	for (unsigned int i = 0; i < L->nworkers; i++) {
		const struct uxt_nfq_stats *s = uxt_nfq_stats(L->workers[i].q);

		pk += atomic_load(&L->workers[i].packets);
		acc += atomic_load(&L->workers[i].accepted);
		drop += atomic_load(&L->workers[i].dropped);
		lost += s->lost;
		enobufs += s->enobufs;
	}
	snprintf(out, n,
		 "ok\npid %d\nstate %.1000s\nqueues %u-%u\nengines %u\nmode %s\n"
		 "failure %s\nhooks %s\ngeneration %llu\npackets %llu\n"
		 "accepted %llu\ndropped %llu\ncreated %llu\nlost %llu\n"
		 "overruns %llu\n",
		 (int)getpid(), L->store.dir, L->opt.queue_base,
		 L->opt.queue_base + L->opt.queues - 1, L->neng,
		 L->shared ? "shared" : "parallel",
		 L->opt.fail_open ? "open" : "closed", hooks,
		 (unsigned long long)L->gen, (unsigned long long)pk,
		 (unsigned long long)acc, (unsigned long long)drop,
		 (unsigned long long)atomic_load(&L->created),
		 (unsigned long long)lost, (unsigned long long)enobufs);
}

static void serve(struct live *L, int fd)
{
	char req[256], reply[9000];
	struct uxt_err e;
	ssize_t n = recv(fd, req, sizeof(req) - 1, MSG_DONTWAIT);

	if (n <= 0)
		return;
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	uxt_err_clear(&e);
	if (strcmp(req, "sync") == 0) {
		if (do_sync(L, &e))
			snprintf(reply, sizeof(reply), "error: %s", e.msg);
		else
			snprintf(reply, sizeof(reply), "ok generation %llu",
				 (unsigned long long)L->gen);
	} else if (strcmp(req, "reload") == 0) {
		if (do_reload(L, &e))
			snprintf(reply, sizeof(reply), "error: %s", e.msg);
		else
			snprintf(reply, sizeof(reply), "ok generation %llu",
				 (unsigned long long)L->gen);
	} else if (strcmp(req, "ct-reload") == 0) {
		if (do_ct_reload(L, &e))
			snprintf(reply, sizeof(reply), "error: %s", e.msg);
		else
			snprintf(reply, sizeof(reply), "ok");
	} else if (strcmp(req, "ct-listen") == 0) {
		atomic_store(&L->ct_listen_until_ms, mono_ms() + CTL_LISTEN_MS);
		snprintf(reply, sizeof(reply), "ok");
	} else if (strcmp(req, "status") == 0) {
		status_text(L, reply, sizeof(reply));
	} else {
		snprintf(reply, sizeof(reply), "error: unknown request \"%.64s\"", req);
	}
	send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int open_ctl(struct live *L, struct uxt_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (ctl_socket_path(L->store.dir, L->sock_path, sizeof(L->sock_path)))
		return uxt_error_bare(e, UXT_OTHER_PROBLEM,
				      "%s: the state directory's path is too long "
				      "for a unix socket", L->store.dir);
	memcpy(sa.sun_path, L->sock_path, strlen(L->sock_path));
	unlink(L->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return uxt_error_bare(e, UXT_OTHER_PROBLEM, "socket: %s",
				      strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(L->sock_path, 0600) != 0 || listen(fd, 64) != 0) {
		int err = errno;

		close(fd);
		return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s", L->sock_path,
				      strerror(err));
	}
	L->ctl_fd = fd;
	return 0;
}

/* Start and stop */

static const char *const usage_text =
	"Usage: uxt daemon [OPTIONS]\n"
	"       uxt daemon --status | --stop\n"
	"Filters the live traffic of this network namespace with the uxtables\n"
	"ruleset of the namespace (NFQUEUE; see docs/daemon.md).\n\n"
	"  -f, --foreground      stay in the foreground\n"
	"      --fail-open       while the daemon is down (or its queues are\n"
	"                        full) packets pass unfiltered; the default is\n"
	"                        to drop them\n"
	"  -q, --queues N        queues and worker threads (default: one per CPU)\n"
	"      --threads N       the same\n"
	"      --queue-num N     first queue number (default 0)\n"
	"      --cpu-fanout      queue by CPU instead of by address hash\n"
	"      --maxlen N        packets each queue holds (default 16384)\n"
	"      --log FILE        LOG and TRACE lines to FILE\n"
	"      --syslog          LOG and TRACE lines to syslog (the default\n"
	"                        without --log)\n"
	"      --nflog-dir DIR   NFLOG groups to DIR/nflog-GROUP.pcap\n"
	"      --force           start even though the kernel has a ruleset\n"
	"      --keep-hooks      leave the kernel's hooks in place at exit\n"
	"      --own-mark MARK   mark of the packets the daemon sends\n"
	"                        (default 0x75787400)\n"
	"      --status          what the running daemon says about itself\n"
	"      --stop            stop the running daemon (SIGTERM) and wait\n";

enum {
	OPT_FAIL_OPEN = 0x100,
	OPT_THREADS,
	OPT_QUEUE_NUM,
	OPT_CPU_FANOUT,
	OPT_MAXLEN,
	OPT_LOG,
	OPT_SYSLOG,
	OPT_NFLOG_DIR,
	OPT_FORCE,
	OPT_KEEP_HOOKS,
	OPT_OWN_MARK,
	OPT_STATUS,
	OPT_STOP,
	OPT_HELP,
};

static const struct uxt_option daemon_opts[] = {
	{"foreground", 0, 'f'},
	{"fail-open", 0, OPT_FAIL_OPEN},
	{"queues", 1, 'q'},
	{"threads", 1, OPT_THREADS},
	{"queue-num", 1, OPT_QUEUE_NUM},
	{"cpu-fanout", 0, OPT_CPU_FANOUT},
	{"maxlen", 1, OPT_MAXLEN},
	{"log", 1, OPT_LOG},
	{"syslog", 0, OPT_SYSLOG},
	{"nflog-dir", 1, OPT_NFLOG_DIR},
	{"force", 0, OPT_FORCE},
	{"keep-hooks", 0, OPT_KEEP_HOOKS},
	{"own-mark", 1, OPT_OWN_MARK},
	{"status", 0, OPT_STATUS},
	{"stop", 0, OPT_STOP},
	{"help", 0, OPT_HELP},
	{NULL, 0, 0},
};

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return errno || end == s || *end || *v > max || s[0] == '-' ? -1 : 0;
}

static int read_pid(const char *dir)
{
	char path[4200], buf[32];
	int fd, pid = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, CTL_PID_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* a daemon runs while the file is locked */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		pid = atoi(buf);
	}
	return pid;
}

static int do_status(const char *dir)
{
	char reply[4096];
	struct uxt_err e;
	int r = ctl_call(dir, "status", reply, sizeof(reply), &e);

	if (r == 1) {
		fprintf(stderr, "uxt daemon: no daemon serves %s\n", dir);
		return 3;
	}
	if (r < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	fputs(reply + 3, stdout);
	return 0;
}

static int do_stop(const char *dir)
{
	int pid = read_pid(dir);
	int64_t deadline;

	if (pid <= 0) {
		fprintf(stderr, "uxt daemon: no daemon serves %s\n", dir);
		return 3;
	}
	if (kill(pid, SIGTERM) != 0) {
		fprintf(stderr, "uxt daemon: pid %d: %s\n", pid, strerror(errno));
		return 1;
	}
	deadline = mono_ms() + 60000;
	while (mono_ms() < deadline) {
		if (read_pid(dir) <= 0)
			return 0;
		usleep(20000);
	}
	fprintf(stderr, "uxt daemon: pid %d did not stop within 60 s\n", pid);
	return 1;
}

static int take_pid_lock(struct live *L, struct uxt_err *e)
{
	char path[4200], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", L->store.dir, CTL_PID_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s", path,
				      strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int pid = 0;

		n = (int)read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			pid = atoi(buf);
		}
		close(fd);
		return uxt_error_bare(e, UXT_OTHER_PROBLEM,
				      "another uxt daemon (pid %d) serves this "
				      "namespace (%s)", pid, L->store.dir);
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return uxt_error_bare(e, UXT_OTHER_PROBLEM, "%s: %s", path,
				      strerror(errno));
	}
	L->pid_fd = fd;
	return 0;
}

/* The first load: under the state lock, with the control socket opened
 * before the lock is released, so that no commit goes unseen. */
static int first_load(struct live *L, struct uxt_err *e)
{
	struct uxt_ruleset rs;
	struct uxt_host h;
	struct uxt_buf b;
	int ret = -1;

	uxt_host_init(&h);
	if (uxt_host_from_netns(&h, e)) {
		uxt_host_free(&h);
		return -1;
	}
	uxt_buf_init(&b, -1);
	uxt_host_format(&h, &b);
	uxt_host_free(&h);
	L->host_text = strdup(uxt_buf_str(&b));
	uxt_buf_free(&b);
	if (!L->host_text)
		return uxt_error_bare(e, UXT_RESOURCE_PROBLEM, "out of memory");

	if (uxt_store_lock(&L->store, 0, e))
		return -1;
	if (read_state_file(L, &L->img, &L->img_len, &L->gen, e))
		goto out;
	if (parse_image(L->img, L->img_len, &rs, e))
		goto out;
	layout_of(&rs, &L->lay);
	L->F = xcalloc(L->lay.total, sizeof(*L->F));
	L->carry = xcalloc(L->lay.total, sizeof(*L->carry));
	ruleset_counters(&rs, &L->lay, L->F);
	L->shared = ruleset_shared(&rs);
	L->may_mangle = ruleset_mangles(&rs);
	uxt_ruleset_free(&rs);
	L->neng = L->shared ? 1 : L->nworkers;
	L->eng = xcalloc(L->neng, sizeof(*L->eng));
	for (unsigned int k = 0; k < L->neng; k++) {
		L->eng[k] = engine_new(L, L->img, L->img_len, L->F, L->lay.total, e);
		if (!L->eng[k])
			goto out;
	}
	if (open_ctl(L, e))
		goto out;
	ret = 0;
out:
	uxt_store_unlock(&L->store);
	return ret;
}

/* The last sync, under the state lock; commands waiting for the lock may
 * be waiting for the daemon's answer meanwhile, so it keeps answering. */
static void final_sync(struct live *L, struct pollfd *clients, int *nclients)
{
	int64_t deadline = mono_ms() + 20000;
	struct uxt_err e;
	int fd = open(L->store.lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		dmsg(LOG_ERR, "counters not saved: %s: %s", L->store.lock_path,
		     strerror(errno));
		return;
	}
	/* those already connected have asked or will ask at once */
	for (int i = 0; i < *nclients; i++) {
		struct pollfd p = {.fd = clients[i].fd, .events = POLLIN};

		if (poll(&p, 1, 100) > 0)
			serve(L, clients[i].fd);
		close(clients[i].fd);
	}
	*nclients = 0;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		struct pollfd pfd = {.fd = L->ctl_fd, .events = POLLIN};

		if (mono_ms() > deadline) {
			dmsg(LOG_ERR, "counters not saved: the state lock stays "
			     "taken");
			close(fd);
			return;
		}
		if (poll(&pfd, 1, 10) > 0) {
			int c = accept4(L->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				struct pollfd p = {.fd = c, .events = POLLIN};

				if (poll(&p, 1, 1000) > 0)
					serve(L, c);
				close(c);
			}
		}
	}
	if (do_sync(L, &e))
		dmsg(LOG_ERR, "counters not saved: %s", e.msg);
	close(fd);
}

static void install_failure_hooks_note(struct live *L)
{
	dmsg(LOG_INFO, "serving %s: queues %u-%u, %u worker%s, %s, failure "
	     "policy: %s", L->store.dir, L->opt.queue_base,
	     L->opt.queue_base + L->opt.queues - 1, L->nworkers,
	     L->nworkers == 1 ? "" : "s",
	     L->shared ? "one shared engine" : "one engine per worker",
	     L->opt.fail_open ? "open (packets pass while the daemon is down)" :
				"closed (packets are dropped while the daemon is down)");
}

static void notify_parent(int fd, const char *msg)
{
	if (fd < 0)
		return;
	write_all(fd, msg, strlen(msg));
	close(fd);
}

static int run(struct live *L, int ready_fd)
{
	struct uxt_err e;
	struct uxt_buf survey;
	sigset_t mask;
	int sfd = -1, nfound;
	bool ours = false;
	struct pollfd clients[MAX_CLIENTS];
	int nclients = 0, status = 0;
	char msg[8400];

	uxt_err_clear(&e);
	/* signals are read from a signalfd, never delivered to a thread */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	if (take_pid_lock(L, &e))
		goto fail;
	uxt_buf_init(&survey, -1);
	nfound = uxt_khooks_survey(&survey, &ours, &e);
	if (nfound < 0) {
		uxt_buf_free(&survey);
		goto fail;
	}
	if (nfound > 0 && !L->opt.force) {
		snprintf(e.msg, sizeof(e.msg),
			 "the kernel already filters this namespace:\n%s"
			 "uxtables would run before it at every hook and the "
			 "two would both judge each packet; remove that "
			 "ruleset, or start with --force",
			 uxt_buf_str(&survey));
		uxt_buf_free(&survey);
		goto fail;
	}
	if (nfound > 0)
		dmsg(LOG_WARNING, "--force: the kernel's own ruleset stays and "
		     "runs after uxtables:\n%s", uxt_buf_str(&survey));
	uxt_buf_free(&survey);
	if (ours)
		dmsg(LOG_NOTICE, "taking over the hooks left by a daemon that "
		     "did not stop");

	if (first_load(L, &e))
		goto fail;
	if (open_sinks(L, &e))
		goto fail;
	L->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (L->raw_fd < 0) {
		uxt_error_bare(&e, UXT_OTHER_PROBLEM, "raw socket: %s",
			       strerror(errno));
		goto fail;
	}
	if (setsockopt(L->raw_fd, SOL_SOCKET, SO_MARK, &L->opt.own_mark,
		       sizeof(L->opt.own_mark)) != 0) {
		uxt_error_bare(&e, UXT_OTHER_PROBLEM, "SO_MARK: %s", strerror(errno));
		goto fail;
	}
	/* the queues first, so that no packet finds them unbound once the
	 * hooks are there */
	for (unsigned int i = 0; i < L->nworkers; i++) {
		struct uxt_nfq_config qc = {
			.queue = (uint16_t)(L->opt.queue_base + i),
			.maxlen = L->opt.maxlen,
			.fail_open = L->opt.fail_open,
			.uid_gid = true,
			.rcvbuf = 8u << 20,
			.batch = BATCH,
		};
		struct worker *w = &L->workers[i];

		w->live = L;
		w->index = i;
		w->snap = xcalloc(1, 65536 + 64);
		if (uxt_nfq_open(&w->q, &qc, &e))
			goto fail;
	}
	{
		char comment[96];
		struct uxt_khooks_config kc;
		struct uxt_ruleset rs;

		if (parse_image(L->img, L->img_len, &rs, &e))
			goto fail;
		khooks_config(L, ruleset_queue_hooks(&rs), &kc);
		uxt_ruleset_free(&rs);
		snprintf(comment, sizeof(comment),
			 "uxtables daemon: every IPv4 packet to uxt (pid %d)",
			 (int)getpid());
		kc.comment = comment;
		if (uxt_khooks_install(&kc, &e))
			goto fail;
		L->hooks_installed = true;
		L->queue_hooks = kc.queue_hooks;
	}
	for (unsigned int i = 0; i < L->nworkers; i++) {
		if (pthread_create(&L->workers[i].tid, NULL, worker_main,
				   &L->workers[i]) != 0) {
			uxt_error_bare(&e, UXT_OTHER_PROBLEM, "thread: %s",
				       strerror(errno));
			goto fail;
		}
		L->workers[i].started = true;
	}
	if (pthread_create(&L->rtnl_tid, NULL, rtnl_main, L) == 0)
		L->rtnl_started = true;

	install_failure_hooks_note(L);
	notify_parent(ready_fd, "ok");
	ready_fd = -1;
	if (!L->opt.foreground) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		log_to_stderr = false;
	}
	sd_notify_msg("READY=1");

	for (;;) {
		struct pollfd pfd[3 + MAX_CLIENTS];
		int n = 0;

		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = L->ctl_fd;
		pfd[n++].events = nclients < MAX_CLIENTS ? POLLIN : 0;
		pfd[n].fd = L->host_efd;
		pfd[n++].events = POLLIN;
		for (int i = 0; i < nclients; i++)
			pfd[n++] = clients[i];
		if (poll(pfd, (nfds_t)n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			dmsg(LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reopen_sinks(L);
				} else {
					dmsg(LOG_INFO, "%s: stopping",
					     strsignal((int)si.ssi_signo));
					break;
				}
			}
		}
		if (pfd[2].revents & POLLIN) {
			uint64_t v;
			char *text;

			if (read(L->host_efd, &v, sizeof(v)) < 0)
				v = 0;
			pthread_mutex_lock(&L->host_mu);
			text = L->host_pending;
			L->host_pending = NULL;
			pthread_mutex_unlock(&L->host_mu);
			if (text && strcmp(text, L->host_text) != 0)
				apply_host(L, text);
			else
				free(text);
		}
		/* requests of connected clients, then new clients */
		for (int i = 0, j = 3; i < nclients; i++, j++) {
			if (!pfd[j].revents)
				continue;
			if (pfd[j].revents & POLLIN)
				serve(L, clients[i].fd);
			/* one request per connection */
			close(clients[i].fd);
			clients[i].fd = -1;
		}
		{
			int k = 0;

			for (int i = 0; i < nclients; i++)
				if (clients[i].fd >= 0)
					clients[k++] = clients[i];
			nclients = k;
		}
		if (pfd[1].revents & POLLIN) {
			int c = accept4(L->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0 && nclients < MAX_CLIENTS) {
				clients[nclients].fd = c;
				clients[nclients].events = POLLIN;
				clients[nclients].revents = 0;
				nclients++;
			} else if (c >= 0) {
				close(c);
			}
		}
	}

	sd_notify_msg("STOPPING=1");
	/* the hooks go first (unless kept): packets then pass the kernel
	 * alone instead of waiting in queues nobody reads */
	if (L->hooks_installed && !L->opt.keep_hooks) {
		if (uxt_khooks_remove(&e))
			dmsg(LOG_ERR, "%s", e.msg);
		L->hooks_installed = false;
	}
	goto stop;

fail:
	status = 1;
	snprintf(msg, sizeof(msg), "error: %s", e.msg);
	if (ready_fd >= 0) {
		notify_parent(ready_fd, msg);
		ready_fd = -1;
	} else {
		dmsg(LOG_ERR, "%s", e.msg);
	}
	/* hooks this daemon installed must not stay behind a failed start */
	if (L->hooks_installed) {
		struct uxt_err e2;

		if (uxt_khooks_remove(&e2))
			dmsg(LOG_ERR, "%s", e2.msg);
		L->hooks_installed = false;
	}
stop:
	atomic_store(&L->stopping, true);
	for (unsigned int i = 0; i < L->nworkers; i++)
		if (L->workers[i].started)
			pthread_join(L->workers[i].tid, NULL);
	if (L->rtnl_started)
		pthread_join(L->rtnl_tid, NULL);
	if (status == 0 && L->ctl_fd >= 0)
		final_sync(L, clients, &nclients);
	for (int i = 0; i < nclients; i++)
		close(clients[i].fd);
	if (L->ctl_fd >= 0) {
		close(L->ctl_fd);
		unlink(L->sock_path);
	}
	for (unsigned int i = 0; i < L->nworkers; i++) {
		uxt_nfq_close(L->workers[i].q);
		free(L->workers[i].snap);
	}
	pthread_mutex_lock(&L->nflog_mu);
	if (L->nflog && uxt_nflog_pcap_close(L->nflog, &e))
		dmsg(LOG_ERR, "NFLOG: %s", e.msg);
	L->nflog = NULL;
	pthread_mutex_unlock(&L->nflog_mu);
	if (L->log_fd >= 0)
		close(L->log_fd);
	if (L->raw_fd >= 0)
		close(L->raw_fd);
	for (unsigned int k = 0; k < L->neng; k++)
		engine_free(L->eng[k]);
	free(L->eng);
	for (unsigned int b = 0; b < INFLIGHT_BUCKETS; b++)
		while (L->inflight[b]) {
			struct inflight_entry *en = L->inflight[b];

			L->inflight[b] = en->next;
			free(en);
		}
	free(L->img);
	free(L->F);
	free(L->carry);
	free(L->host_text);
	free(L->host_pending);
	ctev_writer_close(L->ctev);
	free(L->ct_snap);
	if (status == 0)
		dmsg(LOG_INFO, "stopped");
	if (L->pid_fd >= 0)
		close(L->pid_fd);
	if (sfd >= 0)
		close(sfd);
	return status;
}

static int daemon_main(struct live *L, int argc, char **argv)
{
	struct uxt_getopt g;
	struct uxt_buf errbuf;
	struct uxt_err e;
	char dir[4096];
	int c, status, pipefd[2] = {-1, -1};
	bool status_req = false, stop_req = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	L->opt.own_mark = DEFAULT_OWN_MARK;
	L->opt.maxlen = DEFAULT_MAXLEN;
	L->opt.queues = ncpu > 0 ? (unsigned int)ncpu : 1;
	if (L->opt.queues > 64)
		L->opt.queues = 64;
	L->pid_fd = L->ctl_fd = L->log_fd = L->raw_fd = -1;
	uxt_buf_init(&errbuf, -1);
	uxt_getopt_init(&g, &errbuf, 1);
	while ((c = uxt_getopt_long(&g, argc, argv, "fq:h", daemon_opts, NULL)) != -1) {
		unsigned long v;

		switch (c) {
		case 'f':
			L->opt.foreground = true;
			break;
		case OPT_FAIL_OPEN:
			L->opt.fail_open = true;
			break;
		case 'q':
		case OPT_THREADS:
			if (parse_uint(g.optarg, 64, &v) || v == 0) {
				fprintf(stderr, "uxt daemon: --queues: 1 to 64\n");
				uxt_buf_free(&errbuf);
				return 2;
			}
			L->opt.queues = (unsigned int)v;
			break;
		case OPT_QUEUE_NUM:
			if (parse_uint(g.optarg, 65535, &v)) {
				fprintf(stderr, "uxt daemon: --queue-num: 0 to 65535\n");
				uxt_buf_free(&errbuf);
				return 2;
			}
			L->opt.queue_base = (unsigned int)v;
			break;
		case OPT_CPU_FANOUT:
			L->opt.cpu_fanout = true;
			break;
		case OPT_MAXLEN:
			if (parse_uint(g.optarg, 1u << 24, &v) || v == 0) {
				fprintf(stderr, "uxt daemon: --maxlen: a positive number\n");
				uxt_buf_free(&errbuf);
				return 2;
			}
			L->opt.maxlen = (unsigned int)v;
			break;
		case OPT_LOG:
			L->opt.log_path = g.optarg;
			break;
		case OPT_SYSLOG:
			L->opt.use_syslog = true;
			break;
		case OPT_NFLOG_DIR:
			L->opt.nflog_dir = g.optarg;
			break;
		case OPT_FORCE:
			L->opt.force = true;
			break;
		case OPT_KEEP_HOOKS:
			L->opt.keep_hooks = true;
			break;
		case OPT_OWN_MARK:
			if (parse_uint(g.optarg, UINT32_MAX, &v) || v == 0) {
				fprintf(stderr, "uxt daemon: --own-mark: a non-zero mark\n");
				uxt_buf_free(&errbuf);
				return 2;
			}
			L->opt.own_mark = (uint32_t)v;
			break;
		case OPT_STATUS:
			status_req = true;
			break;
		case OPT_STOP:
			stop_req = true;
			break;
		case 'h':
		case OPT_HELP:
			uxt_buf_free(&errbuf);
			fputs(usage_text, stdout);
			return 0;
		default:
			uxt_buf_flush(&errbuf);
			uxt_buf_free(&errbuf);
			fputs(usage_text, stderr);
			return 2;
		}
	}
	uxt_buf_free(&errbuf);
	if (g.optind < argc) {
		fprintf(stderr, "uxt daemon: unexpected argument \"%s\"\n",
			argv[g.optind]);
		return 2;
	}
	if (L->opt.queue_base + L->opt.queues > 65536) {
		fprintf(stderr, "uxt daemon: --queue-num and --queues go beyond queue 65535\n");
		return 2;
	}
	L->syslog_on = L->opt.use_syslog || !L->opt.log_path;
	if (uxt_store_default_dir(dir, sizeof(dir), &e) ||
	    uxt_store_open(&L->store, dir, &e)) {
		fprintf(stderr, "uxt daemon: %s\n", e.msg);
		return 1;
	}
	if (status_req)
		return do_status(L->store.dir);
	if (stop_req)
		return do_stop(L->store.dir);
	if (geteuid() != 0) {
		fprintf(stderr, "uxt daemon: needs root (CAP_NET_ADMIN) to take "
			"the namespace's traffic\n");
		return 1;
	}
	openlog(DAEMON_NAME, LOG_PID, LOG_DAEMON);
	if (!L->opt.foreground) {
		pid_t pid;

		if (pipe2(pipefd, O_CLOEXEC) != 0) {
			fprintf(stderr, "uxt daemon: pipe: %s\n", strerror(errno));
			return 1;
		}
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "uxt daemon: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid > 0) {
			char buf[8400];
			ssize_t n, got = 0;

			close(pipefd[1]);
			while ((n = read(pipefd[0], buf + got,
					 sizeof(buf) - 1 - (size_t)got)) > 0)
				got += n;
			buf[got] = '\0';
			close(pipefd[0]);
			if (strncmp(buf, "ok", 2) == 0)
				return 0;
			if (strncmp(buf, "error: ", 7) == 0)
				fprintf(stderr, "uxt daemon: %s\n", buf + 7);
			else
				fprintf(stderr, "uxt daemon: failed to start\n");
			waitpid(pid, NULL, 0);
			return 1;
		}
		close(pipefd[0]);
		setsid();
		log_to_stderr = false;
	}
	L->nworkers = L->opt.queues;
	L->workers = xcalloc(L->nworkers, sizeof(*L->workers));
	{
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		/* a swap must not wait behind an endless line of batches */
		pthread_rwlockattr_setkind_np(&ra,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&L->cfg, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_mutex_init(&L->log_mu, NULL);
	pthread_mutex_init(&L->nflog_mu, NULL);
	pthread_mutex_init(&L->inflight_mu, NULL);
	pthread_mutex_init(&L->host_mu, NULL);
	pthread_mutex_init(&L->ctev_mu, NULL);
	L->host_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	status = run(L, L->opt.foreground ? -1 : pipefd[1]);
	close(L->host_efd);
	free(L->workers);
	pthread_rwlock_destroy(&L->cfg);
	closelog();
	return status;
}

int uxt_daemon_main(int argc, char **argv)
{
	struct live *L = xcalloc(1, sizeof(*L));
	int status;

	L->store.lock_fd = -1;
	status = daemon_main(L, argc, argv);
	uxt_store_close(&L->store);
	free(L);
	return status;
}
