/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conntrack: the command line of conntrack-tools 1.4.7 over the namespace's
 * connection tracking table (docs/conntrack-cli.md).
 *
 * Parsing follows conntrack 1.4.7 step by step, because what it prints on
 * a bad command line is part of the interface: getopt_long with a ":"
 * optstring and opterr off, commands with an optional table argument taken
 * from the next word, the protocol's options merged into the table when -p
 * names it (at an offset of 256 per merge), then the table of legal
 * option/command combinations and the protocol's own checks.  Values are
 * read as 1.4.7 reads them (strtoul without checks for --zone and --mark,
 * inet_aton for addresses), so odd values do what they do there.
 *
 * Filtering follows libnetfilter_conntrack's comparison of the command's
 * template with each entry as the kernel's message carries it (an
 * attribute the template has and the message lacks does not match), plus
 * the kernel's own dump filters (family, mark, status).
 *
 * Entries come from the state directory (ct_state.h), under the state
 * lock; events are written to, and followed from, its event log
 * (ct_events.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ct.h"
#include "ct_events.h"
#include "ct_state.h"
#include "ctl.h"
#include "getopt.h"

#define PROGNAME "conntrack"
#define VERSION "1.4.7"

/* Commands (enum ct_command) */
enum {
	CT_LIST_BIT, CT_CREATE_BIT, CT_UPDATE_BIT, CT_DELETE_BIT, CT_GET_BIT,
	CT_FLUSH_BIT, CT_EVENT_BIT, CT_VERSION_BIT, CT_HELP_BIT, EXP_LIST_BIT,
	EXP_CREATE_BIT, EXP_DELETE_BIT, EXP_GET_BIT, EXP_FLUSH_BIT,
	EXP_EVENT_BIT, CT_COUNT_BIT, EXP_COUNT_BIT, CT_STATS_BIT,
	EXP_STATS_BIT, CT_ADD_BIT, NUMBER_OF_CMD
};
#define C(b) (1u << (b))
#define CT_LIST C(CT_LIST_BIT)
#define CT_CREATE C(CT_CREATE_BIT)
#define CT_UPDATE C(CT_UPDATE_BIT)
#define CT_DELETE C(CT_DELETE_BIT)
#define CT_GET C(CT_GET_BIT)
#define CT_FLUSH C(CT_FLUSH_BIT)
#define CT_EVENT C(CT_EVENT_BIT)
#define CT_VERSION C(CT_VERSION_BIT)
#define CT_HELP C(CT_HELP_BIT)
#define EXP_LIST C(EXP_LIST_BIT)
#define EXP_CREATE C(EXP_CREATE_BIT)
#define EXP_DELETE C(EXP_DELETE_BIT)
#define EXP_GET C(EXP_GET_BIT)
#define EXP_FLUSH C(EXP_FLUSH_BIT)
#define EXP_EVENT C(EXP_EVENT_BIT)
#define CT_COUNT C(CT_COUNT_BIT)
#define EXP_COUNT C(EXP_COUNT_BIT)
#define CT_STATS C(CT_STATS_BIT)
#define EXP_STATS C(EXP_STATS_BIT)
#define CT_ADD C(CT_ADD_BIT)

/* Options (enum ct_options) */
enum {
	O_ORIG_SRC, O_ORIG_DST, O_REPL_SRC, O_REPL_DST, O_PROTO, O_TIMEOUT,
	O_STATUS, O_ZERO, O_EVENT_MASK, O_EXP_SRC, O_EXP_DST, O_MASK_SRC,
	O_MASK_DST, O_NATRANGE, O_MARK, O_ID, O_FAMILY, O_SRC_NAT, O_DST_NAT,
	O_OUTPUT, O_SECMARK, O_BUFFERSIZE, O_ANY_NAT, O_ZONE, O_LABEL,
	O_ADD_LABEL, O_DEL_LABEL, O_ORIG_ZONE, O_REPL_ZONE, NUMBER_OF_OPT
};
#define OPT(b) (1u << (b))
#define CT_OPT_ORIG (OPT(O_ORIG_SRC) | OPT(O_ORIG_DST))
#define CT_OPT_REPL (OPT(O_REPL_SRC) | OPT(O_REPL_DST))
#define CT_OPT_TUPLE_ORIG (CT_OPT_ORIG | OPT(O_PROTO))
#define CT_OPT_TUPLE_REPL (CT_OPT_REPL | OPT(O_PROTO))
#define CT_COMPARISON (OPT(O_PROTO) | CT_OPT_ORIG | CT_OPT_REPL |         \
		       OPT(O_MARK) | OPT(O_SECMARK) | OPT(O_STATUS) |         \
		       OPT(O_ID) | OPT(O_ZONE) | OPT(O_LABEL) |               \
		       OPT(O_ORIG_ZONE) | OPT(O_REPL_ZONE))

static const char *const optflags[NUMBER_OF_OPT] = {
	"src", "dst", "reply-src", "reply-dst", "protonum", "timeout",
	"status", "zero", "event-mask", "tuple-src", "tuple-dst", "mask-src",
	"mask-dst", "nat-range", "mark", "id", "family", "src-nat", "dst-nat",
	"output", "secmark", "buffer-size", "any-nat", "zone", "label",
	"label-add", "label-del", "orig-zone", "reply-zone",
};

static const struct uxt_option original_opts[] = {
	{"dump", 2, 'L'}, {"create", 2, 'I'}, {"add", 2, 'A'},
	{"delete", 2, 'D'}, {"update", 2, 'U'}, {"get", 2, 'G'},
	{"flush", 2, 'F'}, {"event", 2, 'E'}, {"counter", 2, 'C'},
	{"stats", 0, 'S'}, {"version", 0, 'V'}, {"help", 0, 'h'},
	{"orig-src", 1, 's'}, {"src", 1, 's'}, {"orig-dst", 1, 'd'},
	{"dst", 1, 'd'}, {"reply-src", 1, 'r'}, {"reply-dst", 1, 'q'},
	{"protonum", 1, 'p'}, {"timeout", 1, 't'}, {"status", 1, 'u'},
	{"zero", 0, 'z'}, {"event-mask", 1, 'e'}, {"tuple-src", 1, '['},
	{"tuple-dst", 1, ']'}, {"mask-src", 1, '{'}, {"mask-dst", 1, '}'},
	{"nat-range", 1, 'a'}, {"mark", 1, 'm'}, {"secmark", 1, 'c'},
	{"id", 2, 'i'}, {"family", 1, 'f'}, {"src-nat", 2, 'n'},
	{"dst-nat", 2, 'g'}, {"output", 1, 'o'}, {"buffer-size", 1, 'b'},
	{"any-nat", 2, 'j'}, {"zone", 1, 'w'}, {"label", 1, 'l'},
	{"label-add", 1, '<'}, {"label-del", 2, '>'}, {"orig-zone", 1, '('},
	{"reply-zone", 1, ')'},
};
#define N_ORIGINAL_OPTS (sizeof(original_opts) / sizeof(original_opts[0]))

static const char getopt_str[] = ":L::I::U::D::G::E::F::A::hVs:d:r:q:"
				 "p:t:u:e:a:z[:]:{:}:m:i:f:o:n::"
				 "g::c:b:C::Sj::w:l:<:>::(:):";

/* 0 illegal, 1 compulsory, 2 optional, 3 see the coupled checks */
static const char commands_v_options[NUMBER_OF_CMD][NUMBER_OF_OPT] = {
	/* s d r q p t u z e [ ] { } a m i f n g o c b j w l < > ( ) */
	[CT_LIST_BIT] = {2,2,2,2,2,0,2,2,0,0,0,2,2,0,2,0,2,2,2,2,2,0,2,2,2,0,0,2,2},
	[CT_CREATE_BIT] = {3,3,3,3,1,1,2,0,0,0,0,0,0,2,2,0,0,2,2,0,0,0,0,2,0,2,0,2,2},
	[CT_UPDATE_BIT] = {2,2,2,2,2,2,2,0,0,0,0,2,2,0,2,2,2,2,2,2,0,0,0,0,2,2,2,0,0},
	[CT_DELETE_BIT] = {2,2,2,2,2,2,2,0,0,0,0,2,2,0,2,2,2,2,2,2,0,0,0,2,2,0,0,2,2},
	[CT_GET_BIT] = {3,3,3,3,1,0,0,0,0,0,0,0,0,0,0,2,0,0,0,2,0,0,0,0,2,0,0,0,0},
	[CT_FLUSH_BIT] = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0,0},
	[CT_EVENT_BIT] = {2,2,2,2,2,0,0,0,2,0,0,2,2,0,2,0,2,2,2,2,2,2,2,2,2,0,0,2,2},
	[CT_VERSION_BIT] = {0},
	[CT_HELP_BIT] = {0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0},
	[EXP_LIST_BIT] = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,2,0,0,0,0,0,0,0,0,0},
	[EXP_CREATE_BIT] = {1,1,2,2,1,1,2,0,0,1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0},
	[EXP_DELETE_BIT] = {1,1,2,2,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0},
	[EXP_GET_BIT] = {1,1,2,2,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0},
	[EXP_FLUSH_BIT] = {0},
	[EXP_EVENT_BIT] = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0},
	[CT_COUNT_BIT] = {0},
	[EXP_COUNT_BIT] = {0},
	[CT_STATS_BIT] = {0},
	[EXP_STATS_BIT] = {0},
	[CT_ADD_BIT] = {3,3,3,3,1,1,2,0,0,0,0,0,0,2,2,0,0,2,2,0,0,0,0,2,0,2,0,2,2},
};

static const char *const exit_msg[NUMBER_OF_CMD] = {
	[CT_LIST_BIT] = "%d flow entries have been shown.\n",
	[CT_CREATE_BIT] = "%d flow entries have been created.\n",
	[CT_UPDATE_BIT] = "%d flow entries have been updated.\n",
	[CT_DELETE_BIT] = "%d flow entries have been deleted.\n",
	[CT_GET_BIT] = "%d flow entries have been shown.\n",
	[CT_EVENT_BIT] = "%d flow events have been shown.\n",
	[EXP_LIST_BIT] = "%d expectations have been shown.\n",
	[EXP_DELETE_BIT] = "%d expectations have been shown.\n",
	[CT_ADD_BIT] = "%d flow entries have been added.\n",
};

static const char usage_text[] =
	"\n"
	"Commands:\n"
	"  -L [table] [options]\t\tList conntrack or expectation table\n"
	"  -G [table] parameters\t\tGet conntrack or expectation\n"
	"  -D [table] parameters\t\tDelete conntrack or expectation\n"
	"  -I [table] parameters\t\tCreate a conntrack or expectation\n"
	"  -U [table] parameters\t\tUpdate a conntrack\n"
	"  -E [table] [options]\t\tShow events\n"
	"  -F [table]\t\t\tFlush table\n"
	"  -C [table]\t\t\tShow counter\n"
	"  -S\t\t\t\tShow statistics\n"
	"\n"
	"Tables: conntrack, expect, dying, unconfirmed\n"
	"\n"
	"Conntrack parameters and options:\n"
	"  -n, --src-nat ip\t\t\tsource NAT ip\n"
	"  -g, --dst-nat ip\t\t\tdestination NAT ip\n"
	"  -j, --any-nat ip\t\t\tsource or destination NAT ip\n"
	"  -m, --mark mark\t\t\tSet mark\n"
	"  -c, --secmark secmark\t\t\tSet selinux secmark\n"
	"  -e, --event-mask eventmask\t\tEvent mask, eg. NEW,DESTROY\n"
	"  -z, --zero \t\t\t\tZero counters while listing\n"
	"  -o, --output type[,...]\t\tOutput format, eg. xml\n"
	"  -l, --label label[,...]\t\tconntrack labels\n"
	"\n"
	"Expectation parameters and options:\n"
	"  --tuple-src ip\tSource address in expect tuple\n"
	"  --tuple-dst ip\tDestination address in expect tuple\n"
	"\n"
	"Updating parameters and options:\n"
	"  --label-add label\tAdd label\n"
	"  --label-del label\tDelete label\n"
	"\n"
	"Common parameters and options:\n"
	"  -s, --src, --orig-src ip\t\tSource address from original direction\n"
	"  -d, --dst, --orig-dst ip\t\tDestination address from original direction\n"
	"  -r, --reply-src ip\t\tSource addres from reply direction\n"
	"  -q, --reply-dst ip\t\tDestination address from reply direction\n"
	"  -p, --protonum proto\t\tLayer 4 Protocol, eg. 'tcp'\n"
	"  -f, --family proto\t\tLayer 3 Protocol, eg. 'ipv6'\n"
	"  -t, --timeout timeout\t\tSet timeout\n"
	"  -u, --status status\t\tSet status, eg. ASSURED\n"
	"  -w, --zone value\t\tSet conntrack zone\n"
	"  --orig-zone value\t\tSet zone for original direction\n"
	"  --reply-zone value\t\tSet zone for reply direction\n"
	"  -b, --buffer-size\t\tNetlink socket buffer size\n"
	"  --mask-src ip\t\t\tSource mask address\n"
	"  --mask-dst ip\t\t\tDestination mask address\n"
	"\n";

/* The attributes of the command's template (libnetfilter_conntrack's
 * ATTR_*): which ones are set */
enum {
	A_ORIG_L3 = 1u << 0, A_REPL_L3 = 1u << 1,
	A_ORIG_SRC = 1u << 2, A_ORIG_DST = 1u << 3,
	A_REPL_SRC = 1u << 4, A_REPL_DST = 1u << 5,
	A_ORIG_SRC6 = 1u << 6, A_ORIG_DST6 = 1u << 7,
	A_REPL_SRC6 = 1u << 8, A_REPL_DST6 = 1u << 9,
	A_ORIG_L4 = 1u << 10, A_REPL_L4 = 1u << 11,
	A_ORIG_SPORT = 1u << 12, A_ORIG_DPORT = 1u << 13,
	A_REPL_SPORT = 1u << 14, A_REPL_DPORT = 1u << 15,
	A_ICMP_TYPE = 1u << 16, A_ICMP_CODE = 1u << 17, A_ICMP_ID = 1u << 18,
	A_TCP_STATE = 1u << 19, A_TIMEOUT = 1u << 20, A_STATUS = 1u << 21,
	A_SECMARK = 1u << 22, A_ID = 1u << 23, A_ZONE = 1u << 24,
	A_ORIG_ZONE = 1u << 25, A_REPL_ZONE = 1u << 26,
	A_SNAT = 1u << 27, A_DNAT = 1u << 28, A_SNAT_PORT = 1u << 29,
	A_DNAT_PORT = 1u << 30,
};

struct tmpl {
	uint32_t set;
	uint8_t orig_l3, repl_l3;	/* AF_INET / AF_INET6 */
	uint32_t src[2], dst[2];	/* by direction, network order */
	uint8_t l4[2];
	uint16_t sport[2], dport[2];	/* network order */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;		/* network order */
	uint8_t tcp_state;
	uint32_t timeout, status, secmark, id;
	uint16_t zone, orig_zone, repl_zone;
	uint32_t snat, dnat;		/* network order */
	uint16_t snat_port, dnat_port;	/* as 1.4.7 stores them */
	/* --mark value[/mask] */
	uint32_t mark_value, mark_mask;
	/* the kernel's dump filters */
	bool mark_kernel, status_kernel;
	uint32_t status_val, status_mask;
	/* --mask-src / --mask-dst (v4) */
	uint32_t mask[2];
	bool mask_set[2];
};

/* A protocol handler (struct ctproto_handler) */
struct cmd;
struct proto {
	const char *name;
	uint8_t protonum;
	const struct uxt_option *opts;
	const char *help;
	/* returns -1 with e set on a bad value */
	int (*parse)(struct cmd *c, int opt, const char *arg, struct uxt_err *e);
	int (*final_check)(struct cmd *c, unsigned int cmdbit, struct uxt_err *e);
	int option_offset;
};

struct cmd {
	unsigned int command, cmd;
	unsigned int type;		/* table: CT_TABLE_* */
	unsigned int options;
	unsigned int event_mask;	/* CT_EVENT_F_* */
	unsigned int output;		/* CTEV_O_* */
	int family;
	int protonum;
	unsigned int l4flags;
	unsigned long buffersize;
	struct tmpl t;
	struct proto *h;
	/* the merged long options */
	struct uxt_option *opts;
	size_t nopts;
	int global_offset;
	struct uxt_getopt g;
	struct cli_io *io;
	bool xml_started;
};

enum { CT_TABLE_CONNTRACK, CT_TABLE_EXPECT, CT_TABLE_DYING, CT_TABLE_UNCONFIRMED };

enum {
	CT_EVENT_F_NEW = 1 << 0,
	CT_EVENT_F_UPD = 1 << 1,
	CT_EVENT_F_DEL = 1 << 2,
	CT_EVENT_F_ALL = 7,
};

/* Errors as exit_error() prints them */

static int fail(struct uxt_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct uxt_err *e, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(e->msg, sizeof(e->msg), "%s v%s (conntrack-tools): ",
		     PROGNAME, VERSION);
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	e->status = status;
	e->flags = UXT_ERR_BARE;
	return -1;
}

static int report(struct cli_io *io, const struct uxt_err *e)
{
	uxt_buf_flush(&io->out);
	/* the library's errors (state, lock) get the program's banner */
	if (!(e->flags & UXT_ERR_BARE))
		uxt_buf_printf(&io->err, "%s v%s (conntrack-tools): ", PROGNAME,
			       VERSION);
	uxt_buf_printf(&io->err, "%s\n", e->msg);
	if (e->status == UXT_PARAMETER_PROBLEM && !(e->flags & UXT_ERR_NO_TRY))
		uxt_buf_printf(&io->err,
			       "Try `%s -h' or '%s --help' for more information.\n",
			       PROGNAME, PROGNAME);
	cli_io_flush(io);
	return e->status;
}

/* Protocols */

enum {
	TCP_ORIG_SPORT = 1 << 0, TCP_ORIG_DPORT = 1 << 1,
	TCP_REPL_SPORT = 1 << 2, TCP_REPL_DPORT = 1 << 3,
	TCP_MASK_SPORT = 1 << 4, TCP_MASK_DPORT = 1 << 5,
	TCP_STATE = 1 << 6, TCP_EXP_SPORT = 1 << 7, TCP_EXP_DPORT = 1 << 8,
};

static const struct uxt_option tcp_opts[] = {
	{"orig-port-src", 1, '1'}, {"sport", 1, '1'},
	{"orig-port-dst", 1, '2'}, {"dport", 1, '2'},
	{"reply-port-src", 1, '3'}, {"reply-port-dst", 1, '4'},
	{"mask-port-src", 1, '5'}, {"mask-port-dst", 1, '6'},
	{"state", 1, '7'}, {"tuple-port-src", 1, '8'},
	{"tuple-port-dst", 1, '9'}, {NULL, 0, 0},
};

static const struct uxt_option udp_opts[] = {
	{"orig-port-src", 1, '1'}, {"sport", 1, '1'},
	{"orig-port-dst", 1, '2'}, {"dport", 1, '2'},
	{"reply-port-src", 1, '3'}, {"reply-port-dst", 1, '4'},
	{"mask-port-src", 1, '5'}, {"mask-port-dst", 1, '6'},
	{"tuple-port-src", 1, '7'}, {"tuple-port-dst", 1, '8'},
	{NULL, 0, 0},
};

static const struct uxt_option icmp_opts[] = {
	{"icmp-type", 1, '1'}, {"icmp-code", 1, '2'}, {"icmp-id", 1, '3'},
	{NULL, 0, 0},
};

static const struct uxt_option no_opts[] = {{NULL, 0, 0}};

static const char *const tcp_optflags[] = {
	"sport", "dport", "reply-port-src", "reply-port-dst", "mask-port-src",
	"mask-port-dst", "state", "tuple-port-src", "tuple-port-dst",
};
static const char tcp_v_options[NUMBER_OF_CMD][9] = {
	[CT_LIST_BIT] = {2,2,2,2,0,0,2,0,0},
	[CT_CREATE_BIT] = {3,3,3,3,0,0,1,0,0},
	[CT_UPDATE_BIT] = {2,2,2,2,0,0,2,0,0},
	[CT_DELETE_BIT] = {2,2,2,2,0,0,2,0,0},
	[CT_GET_BIT] = {3,3,3,3,0,0,2,0,0},
	[CT_EVENT_BIT] = {2,2,2,2,0,0,2,0,0},
	[EXP_CREATE_BIT] = {1,1,0,0,1,1,0,1,1},
	[EXP_DELETE_BIT] = {1,1,1,1,0,0,0,0,0},
	[EXP_GET_BIT] = {1,1,1,1,0,0,0,0,0},
};

static const char *const udp_optflags[] = {
	"sport", "dport", "reply-port-src", "reply-port-dst", "mask-port-src",
	"mask-port-dst", "tuple-port-src", "tuple-port-dst",
};
static const char udp_v_options[NUMBER_OF_CMD][8] = {
	[CT_LIST_BIT] = {2,2,2,2,0,0,0,0},
	[CT_CREATE_BIT] = {3,3,3,3,0,0,0,0},
	[CT_UPDATE_BIT] = {2,2,2,2,0,0,0,0},
	[CT_DELETE_BIT] = {2,2,2,2,0,0,0,0},
	[CT_GET_BIT] = {3,3,3,3,0,0,0,0},
	[CT_EVENT_BIT] = {2,2,2,2,0,0,0,0},
	[EXP_CREATE_BIT] = {1,1,0,0,1,1,1,1},
	[EXP_DELETE_BIT] = {1,1,1,1,0,0,0,0},
	[EXP_GET_BIT] = {1,1,1,1,0,0,0,0},
};

static const char *const icmp_optflags[] = {"icmp-type", "icmp-code", "icmp-id"};
static const char icmp_v_options[NUMBER_OF_CMD][3] = {
	[CT_LIST_BIT] = {2,2,2},
	[CT_CREATE_BIT] = {1,1,2},
	[CT_UPDATE_BIT] = {2,2,2},
	[CT_DELETE_BIT] = {2,2,2},
	[CT_GET_BIT] = {1,1,2},
	[CT_EVENT_BIT] = {2,2,2},
};

/*
 * generic_opt_check(): 1 when the combination is right, 0 with *partial
 * the first coupled set partly given, -1 with e set on an error.
 */
static int generic_opt_check(unsigned int local, int num, const char *optset,
			     const char *const *names, const unsigned int *coupled,
			     int ncoupled, int *partial, struct uxt_err *e)
{
	bool special = false;
	int matching = -1;

	for (int i = 0; i < num; i++) {
		if (!(local & (1u << i))) {
			if (optset[i] == 1)
				return fail(e, UXT_PARAMETER_PROBLEM,
					    "You need to supply the `--%s' option "
					    "for this command", names[i]);
		} else if (optset[i] == 0) {
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "Illegal option `--%s' with this command",
				    names[i]);
		}
		if (optset[i] == 3)
			special = true;
	}
	if (!special || !coupled)
		return 1;
	*partial = -1;
	for (int i = 0; i < ncoupled; i++) {
		if ((local & coupled[i]) == coupled[i]) {
			matching = i;
			break;
		}
		if ((local & coupled[i]) && *partial < 0)
			*partial = i;
	}
	return matching >= 0 ? 1 : 0;
}

static uint16_t port_arg(const char *arg)
{
	return htons((uint16_t)atoi(arg));
}

/* The port options '1'..'4' (--sport, --dport, --reply-port-src,
 * --reply-port-dst) of the protocols with ports */
static void set_port(struct cmd *c, int opt, const char *arg, uint8_t proto)
{
	static const struct {
		uint32_t attr, l4attr;
		unsigned int flag;
	} ports[4] = {
		{A_ORIG_SPORT, A_ORIG_L4, TCP_ORIG_SPORT},
		{A_ORIG_DPORT, A_ORIG_L4, TCP_ORIG_DPORT},
		{A_REPL_SPORT, A_REPL_L4, TCP_REPL_SPORT},
		{A_REPL_DPORT, A_REPL_L4, TCP_REPL_DPORT},
	};
	struct tmpl *t = &c->t;
	int i = opt - '1', d = i / 2;

	if (i & 1)
		t->dport[d] = port_arg(arg);
	else
		t->sport[d] = port_arg(arg);
	t->l4[d] = proto;
	t->set |= ports[i].attr | ports[i].l4attr;
	c->l4flags |= ports[i].flag;
}

static int tcp_parse(struct cmd *c, int opt, const char *arg,
		     struct uxt_err *e)
{
	static const char *const states[] = {
		"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
		"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
	};
	struct tmpl *t = &c->t;
	int i;

	switch (opt) {
	case '1':
	case '2':
	case '3':
	case '4':
		set_port(c, opt, arg, 6);
		break;
	case '5':
		c->l4flags |= TCP_MASK_SPORT;
		break;
	case '6':
		c->l4flags |= TCP_MASK_DPORT;
		break;
	case '7':
		for (i = 0; i < 10; i++)
			if (strcmp(arg, states[i]) == 0) {
				t->tcp_state = (uint8_t)i;
				t->set |= A_TCP_STATE;
				break;
			}
		if (strcmp(arg, "LISTEN") == 0) {
			t->tcp_state = 9;
			t->set |= A_TCP_STATE;
		} else if (i == 10) {
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "unknown TCP state `%s'", arg);
		}
		c->l4flags |= TCP_STATE;
		break;
	case '8':
		c->l4flags |= TCP_EXP_SPORT;
		break;
	case '9':
		c->l4flags |= TCP_EXP_DPORT;
		break;
	}
	return 0;
}

static int ports_final_check(struct cmd *c, unsigned int cmdbit, int n,
			     const char (*table)[9], const char *const *names,
			     struct uxt_err *e)
{
	static const unsigned int coupled[2] = {
		TCP_ORIG_SPORT | TCP_ORIG_DPORT,
		TCP_REPL_SPORT | TCP_REPL_DPORT,
	};
	int partial = -1;
	int ret = generic_opt_check(c->l4flags, n, table[cmdbit], names,
				    coupled, 2, &partial, e);

	if (ret < 0)
		return -1;
	if (ret == 0) {
		if (partial == 1)
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "you have to specify `--reply-src-port' and "
				    "`--reply-dst-port'");
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "you have to specify `--sport' and `--dport'");
	}
	return 0;
}

static int tcp_final_check(struct cmd *c, unsigned int cmdbit,
			   struct uxt_err *e)
{
	return ports_final_check(c, cmdbit, 9, tcp_v_options, tcp_optflags, e);
}

static int udp_parse(struct cmd *c, int opt, const char *arg,
		     struct uxt_err *e)
{
	uint8_t proto = c->h ? c->h->protonum : 17;

	(void)e;
	switch (opt) {
	case '1':
	case '2':
	case '3':
	case '4':
		set_port(c, opt, arg, proto);
		break;
	case '5':
		c->l4flags |= TCP_MASK_SPORT;
		break;
	case '6':
		c->l4flags |= TCP_MASK_DPORT;
		break;
	case '7':
		c->l4flags |= 1 << 6;
		break;
	case '8':
		c->l4flags |= 1 << 7;
		break;
	}
	return 0;
}

static int udp_final_check(struct cmd *c, unsigned int cmdbit,
			   struct uxt_err *e)
{
	char table[NUMBER_OF_CMD][9];

	for (int i = 0; i < NUMBER_OF_CMD; i++) {
		memcpy(table[i], udp_v_options[i], 8);
		table[i][8] = 0;
	}
	return ports_final_check(c, cmdbit, 8, (const char (*)[9])table,
				 udp_optflags, e);
}

static int icmp_parse(struct cmd *c, int opt, const char *arg,
		      struct uxt_err *e)
{
	struct tmpl *t = &c->t;

	(void)e;
	switch (opt) {
	case '1':
		t->icmp_type = (uint8_t)atoi(arg);
		t->set |= A_ICMP_TYPE;
		c->l4flags |= 1;
		break;
	case '2':
		t->icmp_code = (uint8_t)atoi(arg);
		t->set |= A_ICMP_CODE;
		c->l4flags |= 2;
		break;
	case '3':
		t->icmp_id = htons((uint16_t)atoi(arg));
		t->set |= A_ICMP_ID;
		c->l4flags |= 4;
		break;
	default:
		return 0;
	}
	t->l4[0] = 1;
	t->set |= A_ORIG_L4;
	if (t->set & A_REPL_L3) {
		t->l4[1] = 1;
		t->set |= A_REPL_L4;
	}
	return 0;
}

static int icmp_final_check(struct cmd *c, unsigned int cmdbit,
			    struct uxt_err *e)
{
	int partial;

	return generic_opt_check(c->l4flags, 3, icmp_v_options[cmdbit],
				 icmp_optflags, NULL, 0, &partial, e) < 0 ? -1 : 0;
}

/* The unknown protocols' handler, then the others in conntrack's list
 * order (newest registration first); the first is not in that list. */
static struct proto protos[] = {
	{"unknown", 0, no_opts, "  no options (unsupported)\n", NULL, NULL, 0},
	{"gre", 47, no_opts,
	 "  --orig-key-src\t\toriginal source key\n"
	 "  --orig-key-dst\t\toriginal destination key\n"
	 "  --reply-key-src\t\treply source key\n"
	 "  --reply-key-dst\t\treply destination key\n"
	 "  --mask-key-src\t\tmask source key\n"
	 "  --mask-key-dst\t\tmask destination key\n"
	 "  --tuple-key-src\t\texpectation tuple src key\n"
	 "  --tuple-key-src\t\texpectation tuple dst key\n", NULL, NULL, 0},
	{"icmpv6", 58, no_opts,
	 "  --icmpv6-type\t\t\ticmpv6 type\n"
	 "  --icmpv6-code\t\t\ticmpv6 code\n"
	 "  --icmpv6-id\t\t\ticmpv6 id\n", NULL, NULL, 0},
	{"icmp", 1, icmp_opts,
	 "  --icmp-type\t\t\ticmp type\n"
	 "  --icmp-code\t\t\ticmp code\n"
	 "  --icmp-id\t\t\ticmp id\n", icmp_parse, icmp_final_check, 0},
	{"dccp", 33, no_opts,
	 "  --orig-port-src\t\toriginal source port\n"
	 "  --orig-port-dst\t\toriginal destination port\n"
	 "  --reply-port-src\t\treply source port\n"
	 "  --reply-port-dst\t\treply destination port\n"
	 "  --mask-port-src\t\tmask source port\n"
	 "  --mask-port-dst\t\tmask destination port\n"
	 "  --tuple-port-src\t\texpectation tuple src port\n"
	 "  --tuple-port-src\t\texpectation tuple dst port\n"
	 "  --state\t\t\tDCCP state, fe. RESPOND\n", NULL, NULL, 0},
	{"sctp", 132, no_opts,
	 "  --orig-port-src\t\toriginal source port\n"
	 "  --orig-port-dst\t\toriginal destination port\n"
	 "  --reply-port-src\t\treply source port\n"
	 "  --reply-port-dst\t\treply destination port\n"
	 "  --mask-port-src\t\tmask source port\n"
	 "  --mask-port-dst\t\tmask destination port\n"
	 "  --tuple-port-src\t\texpectation tuple src port\n"
	 "  --tuple-port-src\t\texpectation tuple dst port\n"
	 "  --state\t\t\tSCTP state, fe. ESTABLISHED\n", NULL, NULL, 0},
	{"udplite", 136, udp_opts,
	 "  --orig-port-src\t\toriginal source port\n"
	 "  --orig-port-dst\t\toriginal destination port\n"
	 "  --reply-port-src\t\treply source port\n"
	 "  --reply-port-dst\t\treply destination port\n"
	 "  --mask-port-src\t\tmask source port\n"
	 "  --mask-port-dst\t\tmask destination port\n"
	 "  --tuple-port-src\t\texpectation tuple src port\n"
	 "  --tuple-port-src\t\texpectation tuple dst port\n",
	 udp_parse, udp_final_check, 0},
	{"udp", 17, udp_opts,
	 "  --orig-port-src\t\toriginal source port\n"
	 "  --orig-port-dst\t\toriginal destination port\n"
	 "  --reply-port-src\t\treply source port\n"
	 "  --reply-port-dst\t\treply destination port\n"
	 "  --mask-port-src\t\tmask source port\n"
	 "  --mask-port-dst\t\tmask destination port\n"
	 "  --tuple-port-src\t\texpectation tuple src port\n"
	 "  --tuple-port-src\t\texpectation tuple dst port\n",
	 udp_parse, udp_final_check, 0},
	{"tcp", 6, tcp_opts,
	 "  --orig-port-src\t\toriginal source port\n"
	 "  --orig-port-dst\t\toriginal destination port\n"
	 "  --reply-port-src\t\treply source port\n"
	 "  --reply-port-dst\t\treply destination port\n"
	 "  --mask-port-src\t\tmask source port\n"
	 "  --mask-port-dst\t\tmask destination port\n"
	 "  --tuple-port-src\t\texpectation tuple src port\n"
	 "  --tuple-port-src\t\texpectation tuple dst port\n"
	 "  --state\t\t\tTCP state, fe. ESTABLISHED\n",
	 tcp_parse, tcp_final_check, 0},
};
#define NPROTOS (sizeof(protos) / sizeof(protos[0]))
#define PROTO_UNKNOWN (&protos[0])

static struct proto *findproto(const char *name, int *pnum)
{
	struct protoent *pent;
	unsigned long val;
	char *end;

	for (size_t i = 1; i < NPROTOS; i++)
		if (strcasecmp(protos[i].name, name) == 0) {
			*pnum = protos[i].protonum;
			return &protos[i];
		}
	pent = getprotobyname(name);
	if (pent) {
		*pnum = pent->p_proto;
		return PROTO_UNKNOWN;
	}
	val = strtoul(name, &end, 0);
	if (val <= 255 && end != name && *end == '\0') {
		for (size_t i = 1; i < NPROTOS; i++)
			if (protos[i].protonum == val) {
				*pnum = (int)val;
				return &protos[i];
			}
		*pnum = (int)val;
		return PROTO_UNKNOWN;
	}
	return NULL;
}

/* The long options, with a protocol's merged in (merge_options()). */
static int merge_options(struct cmd *c, struct proto *h, struct uxt_err *e)
{
	size_t n = 0;
	struct uxt_option *m;

	while (h->opts[n].name)
		n++;
	m = realloc(c->opts, (c->nopts + n + 1) * sizeof(*m));
	if (!m)
		return fail(e, UXT_OTHER_PROBLEM, "out of memory");
	c->global_offset += 256;
	h->option_offset = c->global_offset;
	for (size_t i = 0; i < n; i++) {
		m[c->nopts + i] = h->opts[i];
		m[c->nopts + i].val += h->option_offset;
	}
	c->nopts += n;
	memset(&m[c->nopts], 0, sizeof(*m));
	c->opts = m;
	return 0;
}

static const char *get_long_opt(const struct cmd *c, int opt)
{
	for (size_t i = 0; i < c->nopts; i++)
		if (c->opts[i].val == opt)
			return c->opts[i].name;
	return "unknown";
}

/* Parameters (status, event mask, output) */

enum { PARSE_STATUS, PARSE_EVENT, PARSE_OUTPUT };

static int do_parse_parameter(const char *str, size_t len, unsigned int *value,
			      int type, struct cli_io *io)
{
	static const struct {
		const char *name;
		unsigned int value;
	} status[] = {
		{"ASSURED", UXT_IPS_ASSURED}, {"SEEN_REPLY", UXT_IPS_SEEN_REPLY},
		{"UNSET", 0}, {"FIXED_TIMEOUT", UXT_IPS_FIXED_TIMEOUT},
		{"EXPECTED", UXT_IPS_EXPECTED}, {"OFFLOAD", UXT_IPS_OFFLOAD},
		{"HW_OFFLOAD", UXT_IPS_HW_OFFLOAD},
	}, event[] = {
		{"ALL", CT_EVENT_F_ALL}, {"NEW", CT_EVENT_F_NEW},
		{"UPDATES", CT_EVENT_F_UPD}, {"DESTROY", CT_EVENT_F_DEL},
	}, output[] = {
		{"xml", CTEV_O_XML}, {"extended", CTEV_O_EXT},
		{"timestamp", CTEV_O_TMS}, {"id", CTEV_O_ID},
		{"ktimestamp", CTEV_O_KTMS}, {"labels", CTEV_O_CL},
		{"userspace", 0}, {"save", CTEV_O_SAVE},
	};
	const struct { const char *name; unsigned int value; } *p;
	size_t n;

	if (strncasecmp(str, "SRC_NAT", len) == 0) {
		uxt_buf_puts(&io->err,
			     "WARNING: ignoring SRC_NAT, use --src-nat instead\n");
		return 1;
	}
	if (strncasecmp(str, "DST_NAT", len) == 0) {
		uxt_buf_puts(&io->err,
			     "WARNING: ignoring DST_NAT, use --dst-nat instead\n");
		return 1;
	}
	if (type == PARSE_STATUS) {
		p = (const void *)status;
		n = sizeof(status) / sizeof(status[0]);
	} else if (type == PARSE_EVENT) {
		p = (const void *)event;
		n = sizeof(event) / sizeof(event[0]);
	} else {
		p = (const void *)output;
		n = sizeof(output) / sizeof(output[0]);
	}
	for (size_t i = 0; i < n; i++)
		if (strncasecmp(str, p[i].name, len) == 0) {
			*value |= p[i].value;
			return 1;
		}
	return 0;
}

static int parse_parameter(const char *arg, unsigned int *value, int type,
			   struct cli_io *io, struct uxt_err *e)
{
	const char *comma;

	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg ||
		    !do_parse_parameter(arg, (size_t)(comma - arg), value, type, io))
			return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'",
				    arg);
		arg = comma + 1;
	}
	if (strlen(arg) == 0 ||
	    !do_parse_parameter(arg, strlen(arg), value, type, io))
		return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'", arg);
	return 0;
}

static int parse_parameter_mask(const char *arg, unsigned int *status,
				unsigned int *mask, struct cli_io *io,
				struct uxt_err *e)
{
	static const char unreplied[] = "UNREPLIED";
	const char *comma;
	unsigned int *value;
	bool negated;

	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg)
			return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'",
				    arg);
		negated = *arg == '!';
		if (negated)
			arg++;
		if (comma == arg)
			return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'",
				    arg);
		value = negated ? mask : status;
		if (!negated && strncmp(arg, unreplied, strlen(unreplied)) == 0) {
			*mask |= UXT_IPS_SEEN_REPLY;
			arg = comma + 1;
			continue;
		}
		if (!do_parse_parameter(arg, (size_t)(comma - arg), value,
					PARSE_STATUS, io))
			return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'",
				    arg);
		arg = comma + 1;
	}
	negated = *arg == '!';
	if (negated)
		arg++;
	value = negated ? mask : status;
	if (!negated && strncmp(arg, unreplied, strlen(unreplied)) == 0) {
		*mask |= UXT_IPS_SEEN_REPLY;
		return 0;
	}
	if (strlen(arg) == 0 ||
	    !do_parse_parameter(arg, strlen(arg), value, PARSE_STATUS, io))
		return fail(e, UXT_PARAMETER_PROBLEM, "Bad parameter `%s'", arg);
	return 0;
}

/* Addresses */

/* AF_INET, AF_INET6 or AF_UNSPEC; *mask -1 none, -2 invalid */
static int parse_addr(const char *cp, uint32_t *v4, int *mask)
{
	char buf[46];
	struct in_addr a;
	struct in6_addr a6;
	char *slash, *end;
	int family = AF_UNSPEC;

	snprintf(buf, sizeof(buf), "%s", cp);
	if (mask) {
		slash = strchr(buf, '/');
		if (slash) {
			long m = strtol(slash + 1, &end, 10);

			*mask = (m < 0 || m > INT_MAX || end != slash + strlen(slash)) ?
				-2 : (int)m;
			*slash = '\0';
		} else {
			*mask = -1;
		}
	}
	if (inet_aton(buf, &a)) {
		family = AF_INET;
		*v4 = a.s_addr;
		if (mask && *mask > 32)
			*mask = -2;
	} else if (inet_pton(AF_INET6, buf, &a6) > 0) {
		family = AF_INET6;
		*v4 = 0;
		if (mask && *mask > 128)
			*mask = -2;
	}
	return family;
}

static int set_family(int *family, int new, struct uxt_err *e)
{
	if (*family == AF_UNSPEC)
		*family = new;
	else if (*family != new)
		return fail(e, UXT_PARAMETER_PROBLEM, "mismatched address family");
	return 0;
}

/* The tuple address options: --src 's', --dst 'd' (original direction),
 * --reply-src 'r', --reply-dst 'q' */
static void set_tuple_addr(struct cmd *c, int opt, uint32_t v4, int family)
{
	static const struct {
		int opt;
		unsigned int option;
		uint32_t attr, attr6;
	} addrs[4] = {
		{'s', O_ORIG_SRC, A_ORIG_SRC, A_ORIG_SRC6},
		{'d', O_ORIG_DST, A_ORIG_DST, A_ORIG_DST6},
		{'r', O_REPL_SRC, A_REPL_SRC, A_REPL_SRC6},
		{'q', O_REPL_DST, A_REPL_DST, A_REPL_DST6},
	};
	struct tmpl *t = &c->t;
	int i = 0, d;

	while (addrs[i].opt != opt)
		i++;
	d = i / 2;
	c->options |= OPT(addrs[i].option);
	if (i & 1)
		t->dst[d] = v4;
	else
		t->src[d] = v4;
	t->set |= (family == AF_INET6 ? addrs[i].attr6 : addrs[i].attr) |
		  (d ? A_REPL_L3 : A_ORIG_L3);
	if (d)
		t->repl_l3 = (uint8_t)family;
	else
		t->orig_l3 = (uint8_t)family;
}

/* The option letter's address attribute */
static void set_addr_attr(struct cmd *c, int opt, uint32_t v4, int family)
{
	struct tmpl *t = &c->t;

	switch (opt) {
	case 's':
	case 'd':
	case 'r':
	case 'q':
		set_tuple_addr(c, opt, v4, family);
		break;
	case 'n':
		c->options |= OPT(O_SRC_NAT);
		t->snat = v4;
		t->set |= A_SNAT | A_ORIG_L3;
		t->orig_l3 = (uint8_t)family;
		break;
	case 'g':
		c->options |= OPT(O_DST_NAT);
		t->dnat = v4;
		t->set |= A_DNAT | A_ORIG_L3;
		t->orig_l3 = (uint8_t)family;
		break;
	case 'j':
		c->options |= OPT(O_ANY_NAT);
		t->orig_l3 = (uint8_t)family;
		t->set |= A_ORIG_L3;
		break;
	case '[':
		c->options |= OPT(O_EXP_SRC);
		break;
	case ']':
		c->options |= OPT(O_EXP_DST);
		break;
	case '{':
		c->options |= OPT(O_MASK_SRC);
		t->mask[0] = v4;
		t->mask_set[0] = true;
		break;
	case '}':
		c->options |= OPT(O_MASK_DST);
		t->mask[1] = v4;
		t->mask_set[1] = true;
		break;
	}
}

static uint32_t netmask_v4(int bits)
{
	return bits <= 0 ? 0 : htonl(bits >= 32 ? 0xFFFFFFFFu : ~0u << (32 - bits));
}

/* nfct_parse_addr_from_opt() */
static int parse_addr_opt(struct cmd *c, int opt, const char *arg,
			  bool with_mask, int *family, uint32_t *v4out,
			  struct uxt_err *e)
{
	int mask = -1, maskopt = 0;
	uint32_t v4 = 0;
	int l3 = parse_addr(arg, &v4, &mask);

	if (l3 == AF_UNSPEC)
		return fail(e, UXT_PARAMETER_PROBLEM, "Invalid IP address `%s'",
			    arg);
	if (set_family(family, l3, e))
		return -1;
	if (opt == 's' || opt == '[')
		maskopt = '{';
	else if (opt == 'd' || opt == ']')
		maskopt = '}';
	if (mask != -1 && !maskopt)
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "CIDR notation unavailable for `--%s'",
			    get_long_opt(c, opt));
	if (mask == -2)
		return fail(e, UXT_PARAMETER_PROBLEM, "Invalid netmask");
	set_addr_attr(c, opt, v4, l3);
	if (v4out)
		*v4out = v4;
	if (mask == -1 || !maskopt || !with_mask)
		return 0;
	if (l3 == AF_INET && mask == 32)
		return 0;
	if (l3 == AF_INET6 && mask == 128)
		return 0;
	set_addr_attr(c, maskopt, l3 == AF_INET ? netmask_v4(mask) : 0, l3);
	return 0;
}

static bool valid_port(const char *s)
{
	long port;

	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	errno = 0;
	port = strtol(s, NULL, 10);
	if ((errno == ERANGE && (port == LONG_MAX || port == LONG_MIN)) ||
	    (errno != 0 && port == 0) || port > USHRT_MAX)
		return false;
	return true;
}

/* split_address_and_port(); *addr and *port are malloc'ed */
static int split_address_and_port(const char *arg, char **addr, char **port,
				  struct uxt_err *e)
{
	const char *cursor = strchr(arg, '[');

	*addr = *port = NULL;
	if (cursor) {
		const char *start = cursor + 1;
		size_t len;

		cursor = strchr(start, ']');
		if (cursor == start)
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "No IPv6 address specified");
		if (!cursor)
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "No closing ']' around IPv6 address");
		len = (size_t)(cursor - start);
		cursor = strchr(cursor, ':');
		if (cursor)
			*addr = strndup(start, len);
	} else {
		cursor = strchr(arg, ':');
		if (cursor && !strchr(cursor + 1, ':'))
			*addr = strndup(arg, (size_t)(cursor - arg));
		else
			cursor = NULL;
	}
	if (cursor) {
		cursor++;
		if (strlen(cursor) == 0) {
			free(*addr);
			*addr = NULL;
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "No port specified after `:'");
		}
		if (!valid_port(cursor)) {
			free(*addr);
			*addr = NULL;
			return fail(e, UXT_PARAMETER_PROBLEM, "Invalid port `%s'",
				    cursor);
		}
		*port = strdup(cursor);
	} else {
		*addr = strdup(arg);
	}
	return 0;
}

/* The word after a command or an optional-argument option */
static char *get_optional_arg(struct cmd *c, int argc, char **argv)
{
	if (c->g.optarg)
		return NULL;
	if (c->g.optind < argc && argv[c->g.optind][0] != '-' &&
	    argv[c->g.optind][0] != '!')
		return argv[c->g.optind++];
	return NULL;
}

static int check_type(struct cmd *c, int argc, char **argv, unsigned int *type,
		      struct uxt_err *e)
{
	const char *table = get_optional_arg(c, argc, argv);
	size_t n;

	*type = CT_TABLE_CONNTRACK;
	if (!table)
		return 0;
	n = strlen(table);
	if (strncmp("expect", table, n) == 0)
		*type = CT_TABLE_EXPECT;
	else if (strncmp("conntrack", table, n) == 0)
		*type = CT_TABLE_CONNTRACK;
	else if (strncmp("dying", table, n) == 0)
		*type = CT_TABLE_DYING;
	else if (strncmp("unconfirmed", table, n) == 0)
		*type = CT_TABLE_UNCONFIRMED;
	else
		return fail(e, UXT_PARAMETER_PROBLEM, "unknown type `%s'", table);
	return 0;
}

static unsigned int cmd2type(int c, unsigned int type)
{
	bool exp = type == CT_TABLE_EXPECT;

	switch (c) {
	case 'L':
		return exp ? EXP_LIST : CT_LIST;
	case 'I':
		return exp ? EXP_CREATE : CT_CREATE;
	case 'D':
		return exp ? EXP_DELETE : CT_DELETE;
	case 'G':
		return exp ? EXP_GET : CT_GET;
	case 'F':
		return exp ? EXP_FLUSH : CT_FLUSH;
	case 'E':
		return exp ? EXP_EVENT : CT_EVENT;
	case 'V':
		return CT_VERSION;
	case 'h':
		return CT_HELP;
	case 'C':
		return exp ? EXP_COUNT : CT_COUNT;
	case 'S':
		return exp ? EXP_STATS : CT_STATS;
	case 'U':
		return exp ? 0 : CT_UPDATE;
	case 'A':
		return exp ? 0 : CT_ADD;
	}
	return 0;
}

static int add_command(unsigned int *cmd, unsigned int newcmd,
		       struct uxt_err *e)
{
	if (*cmd)
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "Invalid commands combination");
	*cmd |= newcmd;
	return 0;
}

static unsigned int bit2cmd(unsigned int command)
{
	unsigned int i;

	for (i = 0; i < NUMBER_OF_CMD; i++)
		if (command & (1u << i))
			break;
	return i;
}

/* do_parse() */
static int do_parse(struct cmd *c, int argc, char **argv, struct uxt_err *e)
{
	static const unsigned int addr_valid[2] = {CT_OPT_ORIG, CT_OPT_REPL};
	struct tmpl *t = &c->t;
	unsigned int status = 0, type = 0;
	int family = AF_UNSPEC, partial, res, opt;

	c->opts = malloc((N_ORIGINAL_OPTS + 1) * sizeof(*c->opts));
	if (!c->opts)
		return fail(e, UXT_OTHER_PROBLEM, "out of memory");
	memcpy(c->opts, original_opts, sizeof(original_opts));
	memset(&c->opts[N_ORIGINAL_OPTS], 0, sizeof(*c->opts));
	c->nopts = N_ORIGINAL_OPTS;
	uxt_getopt_init(&c->g, &c->io->err, 0);
	c->g.optind = 0;

	while ((opt = uxt_getopt_long(&c->g, argc, argv, getopt_str, c->opts,
				      NULL)) != -1) {
		const char *optarg = c->g.optarg;

		switch (opt) {
		case 'L':
			if (check_type(c, argc, argv, &type, e))
				return -1;
			if (add_command(&c->command,
					cmd2type('L', type == CT_TABLE_EXPECT ?
						 type : CT_TABLE_CONNTRACK), e))
				return -1;
			break;
		case 'I': case 'D': case 'G': case 'F': case 'E': case 'V':
		case 'h': case 'C': case 'S': case 'U': case 'A':
			if (check_type(c, argc, argv, &type, e))
				return -1;
			if (type == CT_TABLE_DYING || type == CT_TABLE_UNCONFIRMED)
				return fail(e, UXT_PARAMETER_PROBLEM,
					    "Can't do that command with tables "
					    "`dying' and `unconfirmed'");
			if (!cmd2type(opt, type))
				return fail(e, UXT_PARAMETER_PROBLEM,
					    "Can't do --%s on %s",
					    get_long_opt(c, opt),
					    type == CT_TABLE_CONNTRACK ?
					    "conntrack" : "expectations");
			if (add_command(&c->command, cmd2type(opt, type), e))
				return -1;
			break;
		case 's': case 'd': case 'r': case 'q': case '[': case ']':
			if (parse_addr_opt(c, opt, optarg, true, &family, NULL, e))
				return -1;
			break;
		case '{': case '}':
			if (parse_addr_opt(c, opt, optarg, false, &family, NULL, e))
				return -1;
			break;
		case 'p':
			c->options |= OPT(O_PROTO);
			c->h = findproto(optarg, &c->protonum);
			if (!c->h)
				return fail(e, UXT_PARAMETER_PROBLEM,
					    "`%s' unsupported protocol", optarg);
			if (merge_options(c, c->h, e))
				return -1;
			t->l4[0] = (uint8_t)c->protonum;
			t->set |= A_ORIG_L4;
			break;
		case 't':
			c->options |= OPT(O_TIMEOUT);
			t->timeout = (uint32_t)atol(optarg);
			t->set |= A_TIMEOUT;
			break;
		case 'u':
			c->options |= OPT(O_STATUS);
			if (parse_parameter_mask(optarg, &status, &t->status_mask,
						 c->io, e))
				return -1;
			t->status = status;
			t->set |= A_STATUS;
			if (t->status_mask == 0)
				t->status_mask = status;
			t->status_val = status;
			t->status_kernel = true;
			break;
		case 'e':
			c->options |= OPT(O_EVENT_MASK);
			if (parse_parameter(optarg, &c->event_mask, PARSE_EVENT,
					    c->io, e))
				return -1;
			break;
		case 'o':
			c->options |= OPT(O_OUTPUT);
			if (parse_parameter(optarg, &c->output, PARSE_OUTPUT,
					    c->io, e))
				return -1;
			if (c->output & CTEV_O_CL)
				uxt_buf_puts(&c->io->err, "nfct_labelmap_new: "
					     "No such file or directory\n");
			if ((c->output & CTEV_O_SAVE) &&
			    (c->output & (CTEV_O_EXT | CTEV_O_TMS | CTEV_O_ID |
					  CTEV_O_KTMS | CTEV_O_CL | CTEV_O_XML)))
				return fail(e, UXT_OTHER_PROBLEM,
					    "cannot combine save output with any "
					    "other output type, use -o save only");
			break;
		case 'z':
			c->options |= OPT(O_ZERO);
			break;
		case 'n': case 'g': case 'j': {
			char *arg = get_optional_arg(c, argc, argv);
			char *addr, *port;
			uint32_t v4 = 0;

			c->options |= opt == 'n' ? OPT(O_SRC_NAT) :
				      opt == 'g' ? OPT(O_DST_NAT) : OPT(O_ANY_NAT);
			if (!arg)
				break;
			if (split_address_and_port(arg, &addr, &port, e))
				return -1;
			res = parse_addr_opt(c, opt, addr, false, &family, &v4, e);
			free(addr);
			if (res) {
				free(port);
				return -1;
			}
			if (opt == 'j' || opt == 'n') {
				t->snat = v4;
				t->set |= A_SNAT;
				if (port) {
					t->snat_port = htons((uint16_t)atoi(port));
					t->set |= A_SNAT_PORT;
				}
			}
			if (opt == 'j' || opt == 'g') {
				t->dnat = v4;
				t->set |= A_DNAT;
				if (port) {
					t->dnat_port = htons((uint16_t)atoi(port));
					t->set |= A_DNAT_PORT;
				}
			}
			free(port);
			break;
		}
		case 'w':
			c->options |= OPT(O_ZONE);
			t->zone = (uint16_t)strtoul(optarg, NULL, 0);
			t->set |= A_ZONE;
			break;
		case '(':
			c->options |= OPT(O_ORIG_ZONE);
			t->orig_zone = (uint16_t)strtoul(optarg, NULL, 0);
			t->set |= A_ORIG_ZONE;
			break;
		case ')':
			c->options |= OPT(O_REPL_ZONE);
			t->repl_zone = (uint16_t)strtoul(optarg, NULL, 0);
			t->set |= A_REPL_ZONE;
			break;
		case 'i':
			c->options |= OPT(O_ID);
			t->id = (uint32_t)strtoul(optarg ? optarg : "", NULL, 0);
			t->set |= A_ID;
			break;
		case 'c':
			c->options |= OPT(O_SECMARK);
			t->secmark = (uint32_t)strtoul(optarg, NULL, 0);
			t->set |= A_SECMARK;
			break;
		case 'm': {
			char *end;

			c->options |= OPT(O_MARK);
			t->mark_value = (uint32_t)strtoul(optarg, &end, 0);
			t->mark_mask = *end == '/' ?
				       (uint32_t)strtoul(end + 1, NULL, 0) : ~0u;
			t->mark_kernel = true;
			break;
		}
		case 'l': case '<': case '>': {
			const char *arg = optarg;
			char name[256];
			const char *comma;

			c->options |= opt == 'l' ? OPT(O_LABEL) :
				      opt == '<' ? OPT(O_ADD_LABEL) : OPT(O_DEL_LABEL);
			/* no /etc/xtables/connlabel.conf: no label is known */
			uxt_buf_puts(&c->io->err, "nfct_labelmap_new: "
				     "No such file or directory\n");
			if ((c->options & (OPT(O_DEL_LABEL) | OPT(O_ADD_LABEL))) ==
			    (OPT(O_DEL_LABEL) | OPT(O_ADD_LABEL)))
				return fail(e, UXT_OTHER_PROBLEM,
					    "cannot use --label-add and "
					    "--label-del at the same time");
			if (opt == '>') {
				arg = get_optional_arg(c, argc, argv);
				if (!arg)
					break;
			}
			comma = strchr(arg, ',');
			snprintf(name, sizeof(name), "%.*s",
				 comma ? (int)(comma - arg) : (int)strlen(arg), arg);
			return fail(e, UXT_PARAMETER_PROBLEM, "unknown label '%s'",
				    name);
		}
		case 'a':
			uxt_buf_printf(&c->io->err,
				       "WARNING: ignoring -%c, deprecated option.\n",
				       opt);
			break;
		case 'f':
			c->options |= OPT(O_FAMILY);
			if (strncmp(optarg, "ipv4", 4) == 0)
				res = set_family(&family, AF_INET, e);
			else if (strncmp(optarg, "ipv6", 4) == 0)
				res = set_family(&family, AF_INET6, e);
			else
				return fail(e, UXT_PARAMETER_PROBLEM,
					    "`%s' unsupported protocol", optarg);
			if (res)
				return -1;
			break;
		case 'b':
			c->buffersize = (unsigned long)atol(optarg);
			c->options |= OPT(O_BUFFERSIZE);
			break;
		case ':':
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "option `%s' requires an argument",
				    argv[c->g.optind - 1]);
		case '?':
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "unknown option `%s'", argv[c->g.optind - 1]);
		default:
			if (c->h && c->h->parse &&
			    c->h->parse(c, opt - c->h->option_offset, optarg, e))
				return -1;
			break;
		}
	}

	if (family == AF_UNSPEC) {
		switch (c->command) {
		case CT_LIST: case CT_UPDATE: case CT_DELETE: case CT_GET:
		case CT_FLUSH: case CT_EVENT:
			break;
		default:
			family = AF_INET;
			break;
		}
	}
	if ((c->options & OPT(O_ANY_NAT)) &&
	    (c->options & (OPT(O_SRC_NAT) | OPT(O_DST_NAT))))
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "cannot specify `--src-nat' or `--dst-nat' with "
			    "`--any-nat'");
	c->cmd = bit2cmd(c->command);
	if (c->cmd >= NUMBER_OF_CMD)
		c->cmd = NUMBER_OF_CMD;
	{
		static const char none[NUMBER_OF_OPT];
		const char *row = c->cmd < NUMBER_OF_CMD ?
				  commands_v_options[c->cmd] : none;

		res = generic_opt_check(c->options, NUMBER_OF_OPT, row, optflags,
					addr_valid, 2, &partial, e);
	}
	if (res < 0)
		return -1;
	if (res == 0) {
		if (partial == 1)
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "you have to specify `--reply-src' and "
				    "`--reply-dst'");
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "you have to specify `--src' and `--dst'");
	}
	if (!(c->command & CT_HELP) && c->h && c->h->final_check &&
	    c->cmd < NUMBER_OF_CMD && c->h->final_check(c, c->cmd, e))
		return -1;
	c->family = family;
	c->type = type;
	return 0;
}

/* Filtering (nfct_filter) */

static bool is_snat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_SRC_NAT_DONE) &&
	       r->tuple[1].dst != r->tuple[0].src;
}

static bool is_dnat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_DST_NAT_DONE) &&
	       r->tuple[1].src != r->tuple[0].dst;
}

static bool is_spat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_SRC_NAT_DONE) &&
	       r->tuple[1].dport != r->tuple[0].sport;
}

static bool is_dpat(const struct ctev_rec *r)
{
	return (r->status & UXT_IPS_DST_NAT_DONE) &&
	       r->tuple[1].sport != r->tuple[0].dport;
}

/* One side (source or destination) of filter_nat(): the NAT address and
 * port asked for must both match; neither asked for, any NAT of that side
 * does */
static bool nat_side(bool want_addr, bool addr_ok, bool want_port,
		     bool port_ok, bool any)
{
	if (!want_addr && !want_port)
		return any;
	return (!want_addr || addr_ok) && (!want_port || port_ok);
}

/* filter_nat(): true when the entry is filtered out */
static bool filter_nat(const struct cmd *c, const struct ctev_rec *r)
{
	const struct tmpl *t = &c->t;
	bool src = c->options & OPT(O_SRC_NAT), dst = c->options & OPT(O_DST_NAT);
	bool has_src = false, has_dst = false;

	if (c->options & OPT(O_ANY_NAT))
		src = dst = true;
	if (src)
		has_src = nat_side(t->set & A_SNAT,
				   is_snat(r) && t->snat == r->tuple[1].dst,
				   t->set & A_SNAT_PORT,
				   is_spat(r) && t->snat_port == r->tuple[1].dport,
				   is_snat(r) || is_spat(r));
	if (dst)
		has_dst = nat_side(t->set & A_DNAT,
				   is_dnat(r) && t->dnat == r->tuple[1].src,
				   t->set & A_DNAT_PORT,
				   is_dpat(r) && t->dnat_port == r->tuple[1].sport,
				   is_dnat(r) || is_dpat(r));
	if (c->options & OPT(O_ANY_NAT))
		return !(has_src || has_dst);
	if ((c->options & OPT(O_SRC_NAT)) && (c->options & OPT(O_DST_NAT)))
		return !(has_src && has_dst);
	if (c->options & OPT(O_SRC_NAT))
		return !has_src;
	if (c->options & OPT(O_DST_NAT))
		return !has_dst;
	return false;
}

/* An attribute the template has: the entry's must be there and equal. */
#define CMP(attr, present, equal)                                          \
	do {                                                               \
		if ((t->set & (attr)) && (!(present) || !(equal)))         \
			return false;                                      \
	} while (0)

static bool cmp_l4(const struct tmpl *t, const struct ctev_rec *r, int d)
{
	const struct uxt_ct_tuple *rt = &r->tuple[d];
	const struct uxt_ct_tuple *o = &r->tuple[0];
	uint8_t p = rt->proto;

	if (t->l4[d] != p)
		return false;
	if (p == 1 || p == 58) {
		const uint8_t *tc = (const uint8_t *)&o->dport;

		/* libnetfilter_conntrack compares the original's fields in
		 * both directions */
		CMP(A_ICMP_ID, true, t->icmp_id == o->sport);
		CMP(A_ICMP_CODE, true, t->icmp_code == tc[1]);
		CMP(A_ICMP_TYPE, true, t->icmp_type == tc[0]);
	} else if (p == 6 || p == 17 || p == 136 || p == 33 || p == 132) {
		if (d == 0) {
			CMP(A_ORIG_SPORT, true, t->sport[0] == rt->sport);
			CMP(A_ORIG_DPORT, true, t->dport[0] == rt->dport);
		} else {
			CMP(A_REPL_SPORT, true, t->sport[1] == rt->sport);
			CMP(A_REPL_DPORT, true, t->dport[1] == rt->dport);
		}
	}
	return true;
}

/* nfct_cmp(); mask: NFCT_CMP_MASK (a template attribute the entry lacks
 * is a mismatch), else such attributes are skipped */
static bool nfct_cmp(const struct tmpl *t, const struct ctev_rec *r,
		     bool meta, bool orig, bool repl, bool mask)
{
	bool m = mask;

	if (meta) {
		CMP(A_ID, true, t->id == r->id);
		/* the entries lacking a mark in an event: no mark attribute */
		CMP(A_TIMEOUT, (r->has & CTEV_HAS_TIMEOUT) || !m,
		    !(r->has & CTEV_HAS_TIMEOUT) || t->timeout == r->timeout);
		CMP(A_STATUS, true, (t->status & r->status) == t->status);
		CMP(A_TCP_STATE, (r->has & CTEV_HAS_TCPSTATE) || !m,
		    !(r->has & CTEV_HAS_TCPSTATE) || t->tcp_state == r->tcp_state);
		/* zone 0 is what an entry without a zone has */
		CMP(A_ZONE, true, t->zone == ((r->has & CTEV_HAS_ZONE) ?
					       r->zone : 0));
		CMP(A_SECMARK, !m, false);
		CMP(A_ORIG_ZONE, true, t->orig_zone ==
		    ((r->has & CTEV_HAS_ZONE_ORIG) ? r->zone : 0));
		CMP(A_REPL_ZONE, true, t->repl_zone ==
		    ((r->has & CTEV_HAS_ZONE_REPL) ? r->zone : 0));
	}
	if (orig) {
		CMP(A_ORIG_L3, true, t->orig_l3 == AF_INET);
		if ((t->set & A_ORIG_L4) && !cmp_l4(t, r, 0))
			return false;
		CMP(A_ORIG_SRC, true, t->src[0] == r->tuple[0].src);
		CMP(A_ORIG_DST, true, t->dst[0] == r->tuple[0].dst);
		CMP(A_ORIG_SRC6, !m, false);
		CMP(A_ORIG_DST6, !m, false);
	}
	if (repl) {
		CMP(A_REPL_L3, true, t->repl_l3 == AF_INET);
		if ((t->set & A_REPL_L4) && !cmp_l4(t, r, 1))
			return false;
		CMP(A_REPL_SRC, true, t->src[1] == r->tuple[1].src);
		CMP(A_REPL_DST, true, t->dst[1] == r->tuple[1].dst);
		CMP(A_REPL_SRC6, !m, false);
		CMP(A_REPL_DST6, !m, false);
	}
	return true;
}

/* filter_network(): --mask-src/--mask-dst */
static bool filter_network(const struct cmd *c, const struct ctev_rec *r)
{
	for (int d = 0; d < 2; d++) {
		unsigned int o = d ? OPT(O_MASK_DST) : OPT(O_MASK_SRC);
		uint32_t a = d ? r->tuple[0].dst : r->tuple[0].src;

		if (!(c->options & o))
			continue;
		if (c->family != AF_INET)
			return true;
		if ((a & c->t.mask[d]) != ((d ? c->t.dst[0] : c->t.src[0]) &
					   c->t.mask[d]))
			return true;
	}
	return false;
}

/* nfct_filter(): true when the entry is filtered out */
static bool nfct_filter(const struct cmd *c, const struct ctev_rec *r)
{
	if (filter_nat(c, r))
		return true;
	if ((c->options & OPT(O_MARK)) &&
	    (!(r->has & CTEV_HAS_MARK) ||
	     (r->mark & c->t.mark_mask) != c->t.mark_value))
		return true;
	if (filter_network(c, r))
		return true;
	if ((c->options & CT_COMPARISON) &&
	    !nfct_cmp(&c->t, r, true, true, true, true))
		return true;
	return false;
}

/* nfct_filter_init(): a masked address is compared by filter_network only */
static int filter_init(struct cmd *c, struct uxt_err *e)
{
	if (c->options & OPT(O_MASK_SRC)) {
		if (!(c->options & OPT(O_ORIG_SRC)))
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "Can't use --mask-src without --src");
		c->t.set &= ~(A_ORIG_SRC | A_ORIG_SRC6);
	}
	if (c->options & OPT(O_MASK_DST)) {
		if (!(c->options & OPT(O_ORIG_DST)))
			return fail(e, UXT_PARAMETER_PROBLEM,
				    "Can't use --mask-dst without --dst");
		c->t.set &= ~(A_ORIG_DST | A_ORIG_DST6);
	}
	return 0;
}

/* The kernel's dump filters (family, mark, status) */
static bool kernel_filter(const struct cmd *c, const struct uxt_ct *ct,
			  bool status)
{
	if (c->family == AF_INET6)
		return true;
	if (c->t.mark_kernel &&
	    (ct->mark & c->t.mark_mask) != c->t.mark_value)
		return true;
	if (status && c->t.status_kernel &&
	    (ct->status & c->t.status_mask) != c->t.status_val)
		return true;
	return false;
}

/* Commands */

struct walk_list {
	struct uxt_ct **v;
	size_t n, cap;
};

static int collect(struct uxt_ct *ct, void *arg)
{
	struct walk_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct uxt_ct **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return 1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ct;
	return 0;
}

static int entries(struct ct_state *st, struct walk_list *l, struct uxt_err *e)
{
	memset(l, 0, sizeof(*l));
	if (uxt_ct_table_walk(st->table, collect, l) != 0) {
		free(l->v);
		l->v = NULL;
		return fail(e, UXT_OTHER_PROBLEM, "out of memory");
	}
	return 0;
}

/* An entry or event; -o xml documents have a head for listings, -G and
 * events (1.4.7 prints none for -D and -U, and no tail for -G) */
static void print_line(struct cmd *c, const struct ctev_rec *r)
{
	if ((c->output & CTEV_O_XML) && !(c->output & CTEV_O_SAVE)) {
		if (!c->xml_started && !(c->command & (CT_DELETE | CT_UPDATE))) {
			c->xml_started = true;
			uxt_buf_puts(&c->io->out, "<?xml version=\"1.0\" "
				     "encoding=\"utf-8\"?>\n<conntrack>\n");
		}
		ctev_format_xml(&c->io->out, r, c->output);
	} else {
		ctev_format(&c->io->out, r, c->output);
	}
	uxt_buf_putc(&c->io->out, '\n');
}

/* The end of an -o xml document that has begun */
static void xml_end(struct cmd *c)
{
	if (c->xml_started)
		uxt_buf_puts(&c->io->out, "</conntrack>\n");
	c->xml_started = false;
}

static int open_table(struct ct_state *st, bool events, struct uxt_err *e)
{
	unsigned int n;

	if (ct_state_open(st, e))
		return -1;
	if (events && ct_state_events(st, (uint32_t)getpid(), e))
		return -1;
	/* what has expired goes first, as a dump reaps what it meets */
	if (st->events)
		ctev_writer_set_portid(st->events, 0);
	n = uxt_ct_table_count(st->table);
	uxt_ct_table_expire(st->table, st->now_ns);
	if (uxt_ct_table_count(st->table) != n)
		st->dirty = true;
	if (st->events)
		ctev_writer_set_portid(st->events, (uint32_t)getpid());
	return 0;
}

static int do_list(struct cmd *c, int *counter, struct uxt_err *e)
{
	struct ct_state st;
	struct walk_list l;
	const struct uxt_ct_settings *set;
	int ret = -1;

	if ((c->options & CT_COMPARISON) && (c->options & OPT(O_ZERO)))
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "Can't use -z with filtering parameters");
	if (filter_init(c, e))
		return -1;
	if (c->t.status_kernel && c->t.status_mask == 0)
		return fail(e, UXT_OTHER_PROBLEM,
			    "Operation failed: invalid parameters");
	if (open_table(&st, true, e))
		goto out;
	if (c->type == CT_TABLE_DYING || c->type == CT_TABLE_UNCONFIRMED) {
		ret = 0;
		goto commit;
	}
	set = uxt_ct_table_settings(st.table);
	if (entries(&st, &l, e))
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct uxt_ct *ct = l.v[i];
		struct ctev_rec r;

		if (kernel_filter(c, ct, true))
			continue;
		ctev_from_dump(&r, ct, set, st.now_ns, 1);
		if (nfct_filter(c, &r))
			continue;
		print_line(c, &r);
		(*counter)++;
		if (c->options & OPT(O_ZERO)) {
			st.dirty = true;
			ct->packets[0] = ct->packets[1] = 0;
			ct->bytes[0] = ct->bytes[1] = 0;
		}
	}
	free(l.v);
	xml_end(c);
	ret = 0;
commit:
	if (ct_state_commit(&st, e))
		ret = -1;
out:
	ct_state_close(&st);
	return ret;
}

static int do_get(struct cmd *c, int *counter, struct uxt_err *e)
{
	struct uxt_ct_tuple tuple;
	struct ct_state st;
	enum uxt_ct_dir dir;
	struct uxt_ct *ct;
	int d = 0;
	int ret = -1;

	/* the kernel looks up the original tuple; a reply tuple alone is
	 * not enough for ctnetlink */
	if (!(c->options & CT_OPT_ORIG))
		return fail(e, UXT_OTHER_PROBLEM,
			    "Operation failed: invalid parameters");
	/* a port protocol's original tuple without its ports */
	if ((c->protonum == 6 || c->protonum == 17 || c->protonum == 136) &&
	    (c->t.set & (A_ORIG_SPORT | A_ORIG_DPORT)) !=
	    (A_ORIG_SPORT | A_ORIG_DPORT))
		return fail(e, UXT_OTHER_PROBLEM, "Operation failed: %s",
			    strerror(ENODATA));
	if (open_table(&st, true, e))
		goto out;
	memset(&tuple, 0, sizeof(tuple));
	tuple.src = c->t.src[d];
	tuple.dst = c->t.dst[d];
	tuple.proto = (uint8_t)c->protonum;
	if (tuple.proto == 1) {
		uint8_t *tc = (uint8_t *)&tuple.dport;

		tuple.sport = c->t.icmp_id;
		tc[0] = c->t.icmp_type;
		tc[1] = c->t.icmp_code;
	} else {
		tuple.sport = c->t.sport[d];
		tuple.dport = c->t.dport[d];
	}
	ct = c->family == AF_INET6 ? NULL :
	     uxt_ct_find(st.table, &tuple, c->t.zone, &dir);
	if (!ct) {
		fail(e, UXT_OTHER_PROBLEM,
		     "Operation failed: such conntrack doesn't exist");
		goto commit_out;
	}
	{
		struct ctev_rec r;

		/* the reply holds a reference of its own: use=2 */
		ctev_from_dump(&r, ct, uxt_ct_table_settings(st.table),
			       st.now_ns, 2);
		if (!nfct_filter(c, &r)) {
			print_line(c, &r);
			(*counter)++;
		}
	}
	ret = 0;
commit_out:
	{
		struct uxt_err ce;

		if (ct_state_commit(&st, &ce) && ret == 0) {
			*e = ce;
			ret = -1;
		}
	}
out:
	ct_state_close(&st);
	return ret;
}

static int do_delete(struct cmd *c, int *counter, struct uxt_err *e)
{
	struct ct_state st;
	struct walk_list l;
	const struct uxt_ct_settings *set;
	int ret = -1;

	if (filter_init(c, e))
		return -1;
	if (open_table(&st, true, e))
		goto out;
	set = uxt_ct_table_settings(st.table);
	if (entries(&st, &l, e))
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct uxt_ct *ct = l.v[i];
		struct ctev_rec r;

		if (kernel_filter(c, ct, false))
			continue;
		ctev_from_dump(&r, ct, set, st.now_ns, 1);
		if (nfct_filter(c, &r))
			continue;
		uxt_ct_destroy(st.table, ct);
		st.dirty = true;
		print_line(c, &r);
		(*counter)++;
	}
	free(l.v);
	ret = ct_state_commit(&st, e);
out:
	ct_state_close(&st);
	return ret;
}

static int do_update(struct cmd *c, int *counter, struct uxt_err *e)
{
	struct ct_state st;
	struct walk_list l;
	const struct uxt_ct_settings *set;
	const struct tmpl *t = &c->t;
	int ret = -1;

	if (filter_init(c, e))
		return -1;
	if (open_table(&st, true, e))
		goto out;
	set = uxt_ct_table_settings(st.table);
	if (entries(&st, &l, e))
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct uxt_ct *ct = l.v[i];
		struct ctev_rec r;
		uint32_t mark = ct->mark, status = ct->status;
		bool changed = false;

		ctev_from_dump(&r, ct, set, st.now_ns, 1);
		if (filter_nat(c, &r) || filter_network(c, &r))
			continue;
		if ((t->set & A_ID) && t->id != ct->id)
			continue;
		if ((c->options & CT_OPT_TUPLE_ORIG) &&
		    !nfct_cmp(t, &r, false, true, false, false))
			continue;
		if ((c->options & CT_OPT_TUPLE_REPL) &&
		    !nfct_cmp(t, &r, false, false, true, false))
			continue;
		if (c->options & OPT(O_MARK))
			mark = (mark & ~t->mark_mask) ^ t->mark_value;
		if (c->options & OPT(O_STATUS))
			status |= t->status;
		if (mark != ct->mark || status != ct->status)
			changed = true;
		if ((t->set & A_TIMEOUT) && t->timeout != r.timeout)
			changed = true;
		if ((t->set & A_TCP_STATE) && ct->tuple[0].proto == 6 &&
		    t->tcp_state != ct->proto.tcp.state)
			changed = true;
		if (!changed)
			continue;
		/* 1.4.7's update request of an entry chosen without an address
		 * (-s, -d, -r, -q) is one the kernel refuses */
		if (!(c->options & (CT_OPT_ORIG | CT_OPT_REPL))) {
			free(l.v);
			uxt_buf_printf(&c->io->err, "Operation failed: %s\n",
				       strerror(EOPNOTSUPP));
			fail(e, UXT_OTHER_PROBLEM, "Operation failed: %s",
			     strerror(EOPNOTSUPP));
			goto out;
		}
		st.dirty = true;
		ct->mark = mark;
		ct->status = status;
		if (t->set & A_TIMEOUT)
			ct->timeout_ns = st.now_ns +
					 (uint64_t)t->timeout * 1000000000u;
		if ((t->set & A_TCP_STATE) && ct->tuple[0].proto == 6)
			ct->proto.tcp.state = t->tcp_state;
		/* ctnetlink's update event */
		ctev_writer_event(st.events, UXT_CT_EVENT_UPDATE,
				  (1u << UXT_IPCT_REPLY) | (1u << UXT_IPCT_ASSURED) |
				  (1u << UXT_IPCT_HELPER) | (1u << UXT_IPCT_LABEL) |
				  (1u << UXT_IPCT_PROTOINFO) |
				  (1u << UXT_IPCT_SEQADJ) | (1u << UXT_IPCT_MARK) |
				  (1u << UXT_IPCT_SYNPROXY), ct, st.now_ns);
		ctev_from_dump(&r, ct, set, st.now_ns, 2);
		print_line(c, &r);
		(*counter)++;
	}
	free(l.v);
	ret = ct_state_commit(&st, e);
out:
	ct_state_close(&st);
	return ret;
}

static int do_flush(struct cmd *c, struct uxt_err *e)
{
	struct ct_state st;
	struct walk_list l;
	int ret = -1;

	if (open_table(&st, true, e))
		goto out;
	if (entries(&st, &l, e))
		goto out;
	for (size_t i = 0; i < l.n; i++)
		if (c->family != AF_INET6) {
			uxt_ct_destroy(st.table, l.v[i]);
			st.dirty = true;
		}
	free(l.v);
	ret = ct_state_commit(&st, e);
	uxt_buf_printf(&c->io->err, "%s v%s (conntrack-tools): "
		       "connection tracking table has been emptied.\n",
		       PROGNAME, VERSION);
out:
	ct_state_close(&st);
	return ret;
}

static int do_count(struct cmd *c, struct uxt_err *e)
{
	struct ct_state st;
	int ret = -1;

	if (open_table(&st, true, e))
		goto out;
	uxt_buf_printf(&c->io->out, "%u\n", uxt_ct_table_count(st.table));
	ret = ct_state_commit(&st, e);
out:
	ct_state_close(&st);
	return ret;
}

/* The kernel prints one line per possible CPU; the table's statistics are
 * the namespace's, shown on the first. */
static unsigned int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned int a, b, n = 0;
	int ch;

	if (!f)
		return 1;
	while (fscanf(f, "%u", &a) == 1) {
		b = a;
		ch = fgetc(f);
		if (ch == '-') {
			if (fscanf(f, "%u", &b) != 1)
				break;
			ch = fgetc(f);
		}
		if (b >= a && b - a < 65536)
			n += b - a + 1;
		if (ch != ',')
			break;
	}
	fclose(f);
	return n ? n : 1;
}

static int do_stats(struct cmd *c, struct uxt_err *e)
{
	struct ct_state st;
	const struct uxt_ct_stats *s;
	unsigned int ncpu = possible_cpus();
	int ret = -1;

	if (open_table(&st, true, e))
		goto out;
	s = uxt_ct_table_stats(st.table);
	for (unsigned int cpu = 0; cpu < ncpu; cpu++) {
		struct uxt_ct_stats z;

		memset(&z, 0, sizeof(z));
		if (cpu == 0)
			z = *s;
		uxt_buf_printf(&c->io->out,
			       "cpu=%-4u\tfound=%u invalid=%u insert=%u "
			       "insert_failed=%u drop=%u early_drop=%u error=%u "
			       "search_restart=%u clash_resolve=%u "
			       "chaintoolong=%u \n", cpu,
			       (unsigned)z.found, (unsigned)z.invalid,
			       (unsigned)z.insert, (unsigned)z.insert_failed,
			       (unsigned)z.drop, (unsigned)z.early_drop,
			       (unsigned)z.error, (unsigned)z.search_restart,
			       (unsigned)z.clash_resolve, (unsigned)z.chaintoolong);
	}
	ret = ct_state_commit(&st, e);
out:
	ct_state_close(&st);
	return ret;
}

/* -E: following the event log */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static bool event_wanted(const struct cmd *c, const struct ctev_rec *r)
{
	unsigned int mask = (c->options & OPT(O_EVENT_MASK)) ? c->event_mask :
			    CT_EVENT_F_ALL;

	switch (r->kind) {
	case CTEV_NEW:
		return mask & CT_EVENT_F_NEW;
	case CTEV_UPDATE:
		return mask & CT_EVENT_F_UPD;
	case CTEV_DESTROY:
		return mask & CT_EVENT_F_DEL;
	}
	return false;
}

/*
 * A live daemon appends its events to the log only while someone listens
 * (ctl.h: ct-listen holds CTL_LISTEN_MS); ask again every second.  The
 * first request is answered once the daemon writes, after the reader has
 * its position: no event of the daemon's from then on is missed.
 */
static void ask_daemon_for_events(const char *dir, int64_t *last_ms)
{
	struct timespec ts;
	struct uxt_err e;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (*last_ms && now - *last_ms < 1000)
		return;
	*last_ms = now;
	/* no daemon, or one that cannot answer: the log has what others
	 * write */
	ctl_ct_listen(dir, &e);
}

static int do_events(struct cmd *c, int *counter, bool expect,
		     struct uxt_err *e)
{
	struct ctev_reader *rd = NULL;
	struct sigaction sa;
	int64_t listen_ms = 0;
	char dir[4096];

	if (uxt_store_default_dir(dir, sizeof(dir), e))
		return -1;
	if (!expect && (c->options & OPT(O_BUFFERSIZE))) {
		unsigned long v = c->buffersize > INT_MAX / 2 ?
				  (unsigned long)INT_MAX : c->buffersize * 2;

		if (v < 2304)
			v = 2304;
		uxt_buf_printf(&c->io->err, "NOTICE: Netlink socket buffer size "
			       "has been set to %lu bytes.\n", v);
	}
	if (!expect && filter_init(c, e))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!expect) {
		/* the directory may not exist yet: the log starts there */
		struct uxt_store s;

		if (uxt_store_open(&s, dir, e))
			return -1;
		uxt_store_close(&s);
		rd = ctev_reader_open(dir);
		if (!rd)
			return fail(e, UXT_OTHER_PROBLEM, "Can't open handler");
	}
	cli_io_flush(c->io);
	while (!stop_signal) {
		struct ctev_rec r;
		bool lost = false;
		int got;

		if (rd)
			ask_daemon_for_events(dir, &listen_ms);
		got = rd ? ctev_reader_next(rd, &r, &lost) : 0;

		if (lost)
			uxt_buf_puts(&c->io->err,
				     "WARNING: We have hit ENOBUFS! We are losing "
				     "events.\nThis message means that the current "
				     "netlink socket buffer size is too small.\n"
				     "Please, check --buffer-size in conntrack(8) "
				     "manpage.\n");
		if (got != 1) {
			struct timespec ts = {0, 20 * 1000 * 1000};

			cli_io_flush(c->io);
			nanosleep(&ts, NULL);
			continue;
		}
		if (!event_wanted(c, &r))
			continue;
		if (c->family == AF_INET6 || nfct_filter(c, &r))
			continue;
		if ((c->output & CTEV_O_XML) && !(c->output & CTEV_O_SAVE)) {
			/* 1.4.7 marks userspace's events in XML too */
			print_line(c, &r);
			if (r.has & CTEV_HAS_PORTID) {
				c->io->out.len--;
				uxt_buf_printf(&c->io->out,
					       " [USERSPACE] portid=%u\n", r.portid);
			}
			cli_io_flush(c->io);
			(*counter)++;
			continue;
		}
		if ((c->output & CTEV_O_TMS) && !(c->output & CTEV_O_SAVE)) {
			uint64_t us = r.time_ns / 1000;

			uxt_buf_printf(&c->io->out, "[%-.8lld.%-.6lld]\t",
				       (long long)(us / 1000000),
				       (long long)(us % 1000000));
		}
		ctev_format(&c->io->out, &r, c->output);
		if (r.has & CTEV_HAS_PORTID)
			uxt_buf_printf(&c->io->out, " [USERSPACE] portid=%u",
				       r.portid);
		uxt_buf_putc(&c->io->out, '\n');
		cli_io_flush(c->io);
		(*counter)++;
	}
	ctev_reader_close(rd);
	xml_end(c);
	uxt_buf_printf(&c->io->err, "%s v%s (conntrack-tools): ", PROGNAME,
		       VERSION);
	uxt_buf_printf(&c->io->err, expect ?
		       "%d expectation events have been shown.\n" :
		       "%d flow events have been shown.\n", *counter);
	return 0;
}

static void usage(struct cmd *c, const char *prog)
{
	uxt_buf_printf(&c->io->out, "Command line interface for the connection "
		       "tracking system. Version %s\n", VERSION);
	uxt_buf_printf(&c->io->out, "Usage: %s [commands] [options]\n", prog);
	uxt_buf_puts(&c->io->out, usage_text);
}

static int do_command(struct cmd *c, const char *prog, int *counter,
		      struct uxt_err *e)
{
	unsigned int ncpu;

	switch (c->command) {
	case CT_LIST:
		return do_list(c, counter, e);
	case EXP_LIST:
	case EXP_COUNT:
		if (c->command == EXP_COUNT)
			uxt_buf_printf(&c->io->out, "%d\n", *counter);
		return 0;
	case CT_CREATE:
	case CT_ADD:
	case EXP_CREATE:
		/* entries are made by the packet path only */
		return fail(e, UXT_OTHER_PROBLEM, "Operation failed: %s",
			    c->command == EXP_CREATE ? "master conntrack not found" :
			    strerror(EOPNOTSUPP));
	case CT_UPDATE:
		return do_update(c, counter, e);
	case CT_DELETE:
		return do_delete(c, counter, e);
	case EXP_DELETE:
	case EXP_GET:
		return fail(e, UXT_OTHER_PROBLEM, "Operation failed: %s",
			    strerror(ENOENT));
	case CT_GET:
		return do_get(c, counter, e);
	case CT_FLUSH:
		return do_flush(c, e);
	case EXP_FLUSH:
		uxt_buf_printf(&c->io->err, "%s v%s (conntrack-tools): "
			       "expectation table has been emptied.\n",
			       PROGNAME, VERSION);
		return 0;
	case CT_EVENT:
		return do_events(c, counter, false, e);
	case EXP_EVENT:
		return do_events(c, counter, true, e);
	case CT_COUNT:
		return do_count(c, e);
	case CT_STATS:
		return do_stats(c, e);
	case EXP_STATS:
		ncpu = possible_cpus();
		for (unsigned int cpu = 0; cpu < ncpu; cpu++)
			uxt_buf_printf(&c->io->out, "cpu=%-4u\texpect_new=0 "
				       "expect_create=0 expect_delete=0 \n", cpu);
		return 0;
	case CT_VERSION:
		uxt_buf_printf(&c->io->out, "%s v%s (conntrack-tools)\n",
			       PROGNAME, VERSION);
		return 0;
	case CT_HELP:
		usage(c, prog);
		if (c->options & OPT(O_PROTO)) {
			const char *name = c->h->name;

			if (c->h == PROTO_UNKNOWN) {
				struct protoent *pent =
					getprotobynumber(c->protonum);

				if (pent)
					name = pent->p_name;
			}
			uxt_buf_printf(&c->io->out, "Proto `%s' help:\n", name);
			uxt_buf_puts(&c->io->out, c->h->help);
		}
		return 0;
	default:
		usage(c, prog);
		return 0;
	}
}

/* -R / --load-file: commands read from a file, one per line, split as
 * 1.4.7 splits them (blanks, double quotes with backslash escapes) */
#define LOAD_MAX_ARGC 255

struct argv_store {
	int argc;
	char *argv[LOAD_MAX_ARGC + 1];
};

static int add_argv(struct argv_store *st, const char *what, struct uxt_err *e)
{
	if (st->argc + 1 >= LOAD_MAX_ARGC)
		return fail(e, UXT_PARAMETER_PROBLEM, "too many arguments");
	st->argv[st->argc] = strdup(what);
	if (!st->argv[st->argc])
		return fail(e, UXT_OTHER_PROBLEM, "out of memory");
	st->argv[++st->argc] = NULL;
	return 0;
}

static void free_argv(struct argv_store *st)
{
	while (st->argc > 0)
		free(st->argv[--st->argc]);
}

static int split_line(struct argv_store *st, const char *p, struct uxt_err *e)
{
	char param[1024];
	int len = 0;
	bool quote = false, escaped = false;

	for (; *p; p++) {
		if (quote) {
			if (escaped) {
				escaped = false;
			} else if (*p == '\\') {
				escaped = true;
				continue;
			} else if (*p == '"') {
				quote = false;
				if (len == 0)
					continue;
				goto end_param;
			}
			goto add;
		}
		if (*p == '"') {
			quote = true;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			if (len == 0)
				continue;
			goto end_param;
		}
add:
		param[len++] = *p;
		if (len >= (int)sizeof(param))
			return fail(e, UXT_PARAMETER_PROBLEM, "Parameter too long!");
		continue;
end_param:
		param[len] = '\0';
		if (add_argv(st, param, e))
			return -1;
		len = 0;
	}
	if (len) {
		param[len] = '\0';
		if (add_argv(st, param, e))
			return -1;
	}
	return 0;
}

static const char *unsupported_in_file(unsigned int command)
{
	static const struct {
		unsigned int command;
		const char *text;
	} t[] = {
		{CT_LIST, "-L"}, {CT_GET, "-G"}, {CT_EVENT, "-E"},
		{CT_VERSION, "-V"}, {CT_HELP, "-h"}, {EXP_LIST, "-L expect"},
		{EXP_CREATE, "-C expect"}, {EXP_DELETE, "-D expect"},
		{EXP_GET, "-G expect"}, {EXP_FLUSH, "-F expect"},
		{EXP_EVENT, "-E expect"}, {CT_COUNT, "-C"},
		{EXP_COUNT, "-C expect"}, {CT_STATS, "-S"},
		{EXP_STATS, "-S expect"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].command == command)
			return t[i].text;
	return "unknown";
}

static int load_file(struct cli_io *io, const char *prog, const char *name,
		     int *counter, struct uxt_err *e)
{
	struct cmd *cmds = NULL;
	size_t n = 0;
	char line[10240];
	FILE *f;
	int ret = -1;

	if (strcmp(name, "-") == 0)
		name = "/dev/stdin";
	f = fopen(name, "r");
	if (!f)
		return fail(e, UXT_PARAMETER_PROBLEM,
			    "Failed to open file %s for reading", name);
	while (fgets(line, sizeof(line), f)) {
		struct argv_store st = {0};
		const char *p = line;
		struct cmd *m;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '#')
			continue;
		m = realloc(cmds, (n + 1) * sizeof(*cmds));
		if (!m) {
			fail(e, UXT_OTHER_PROBLEM, "OOM");
			goto out;
		}
		cmds = m;
		memset(&cmds[n], 0, sizeof(cmds[n]));
		cmds[n].io = io;
		n++;
		if (add_argv(&st, prog, e) || split_line(&st, p, e) ||
		    do_parse(&cmds[n - 1], st.argc, st.argv, e)) {
			free_argv(&st);
			goto out;
		}
		free_argv(&st);
	}
	for (size_t i = 0; i < n; i++)
		if (!(cmds[i].command & (CT_CREATE | CT_ADD | CT_UPDATE |
					 CT_DELETE | CT_FLUSH))) {
			fail(e, UXT_PARAMETER_PROBLEM,
			     "Cannot use command `%s' with --load-file",
			     unsupported_in_file(cmds[i].command));
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		if (do_command(&cmds[i], prog, counter, e))
			goto out;
	ret = 0;
out:
	fclose(f);
	for (size_t i = 0; i < n; i++)
		free(cmds[i].opts);
	free(cmds);
	return ret;
}

int conntrack_main(int argc, char **argv)
{
	struct cli_io io;
	struct cmd c;
	struct uxt_err e;
	int counter = 0, status = 0;

	cli_io_init(&io, PROGNAME);
	memset(&c, 0, sizeof(c));
	c.io = &io;
	for (size_t i = 0; i < NPROTOS; i++)
		protos[i].option_offset = 0;
	memset(&e, 0, sizeof(e));
	if (argc > 2 && (strcmp(argv[1], "-R") == 0 ||
			 strcmp(argv[1], "--load-file") == 0)) {
		if (load_file(&io, argv[0], argv[2], &counter, &e))
			status = report(&io, &e);
		goto out;
	}
	if (do_parse(&c, argc, argv, &e) || do_command(&c, argv[0], &counter, &e)) {
		status = report(&io, &e);
		goto out;
	}
	if (c.command && c.cmd < NUMBER_OF_CMD && exit_msg[c.cmd] &&
	    c.command != CT_EVENT) {
		uxt_buf_printf(&io.err, "%s v%s (conntrack-tools): ", PROGNAME,
			       VERSION);
		uxt_buf_printf(&io.err, exit_msg[c.cmd], counter);
		if (counter == 0 && !(c.command & (CT_LIST | EXP_LIST)))
			status = 1;
	}
out:
	free(c.opts);
	cli_io_close(&io);
	return status;
}
