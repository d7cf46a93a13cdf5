/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * limit match (revision 0): a token bucket; matches at most --limit packets
 * per unit of time on average, with bursts of up to --limit-burst.
 *
 * Command line as libxt_limit of iptables 1.8.9 (x6 style).  The rate
 * "N[/unit]" becomes avg = XT_LIMIT_SCALE * seconds-per-unit / N, where the
 * unit is any prefix of second, minute, hour or day in any case (no unit:
 * per second) and N is read by atoi(); the defaults are 3/hour and a burst
 * of 5.  The error for a bad rate keeps iptables' stray apostrophe.  -L and
 * -S print the rate back in the largest unit that keeps it exact enough.
 *
 * Data as xt_rateinfo on x86-64: avg and burst are what userspace sets and
 * what -D/-C compare; the rest is the kernel's state (prev, credit,
 * credit_cap, cost, and a pointer to the shared state, kept here as a
 * 64-bit word so that records stay relocatable).
 *
 * Kernel side as xt_limit's checkentry: a burst of 0, or an avg * burst
 * that overflows 32 bits when converted to credits, is refused with
 * -ERANGE.  The credit conversion depends on the kernel's HZ; the
 * reference kernel (and Debian's) uses HZ = 250.
 *
 * Packet side as limit_mt, on the namespace's clock: jiffies are
 * now_ns / (10^9 / HZ).  The bucket holds credits; every jiffy since the
 * last update adds CREDITS_PER_JIFFY (the product is truncated to 32 bits,
 * so an idle time of 2^32 / 128 jiffies, about 37 hours at HZ = 250, wraps
 * as it does in the kernel), the sum is capped at credit_cap, and a packet
 * matches when it can pay cost.  As limit_mt_check, a rule starts with a
 * full bucket (credit = credit_cap = credits of avg * burst, cost = credits
 * of avg) stamped with the time the ruleset was compiled, so the
 * namespace's clock must be set before uxt_ns_set_ruleset() (a bucket
 * stamped at 0 and used at wall-clock time has been idle long enough for
 * the 32-bit wrap above).
 *
 * The state lives in the engine's priv while packets pass and priv_save
 * writes it into the record's kernel-private fields (prev, credit,
 * credit_cap, cost), so it persists with the ruleset from one uxt command
 * to the next as the kernel keeps it between packets.  priv_init restores
 * it when cost is set and starts a full bucket when it is 0, which is how
 * a rule comes from the command line.  The kernel resets every limit rule
 * of a table each time the table is replaced (libiptc reads the rules back
 * with those fields cleared, and checkentry starts afresh); uxtables gets
 * the same reset from the command line's commit of a table clearing the
 * record bytes beyond the extension's usersize, as the kernel's copy to
 * userspace does (without it a limit rule keeps its state across iptables
 * commands; tests/match_units.py shows which).  A clock
 * that goes backwards (a capture older than the saved state) adds no
 * credit and restarts the count from the new time.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

#define UXT_LIMIT_SCALE 10000u
#define UXT_LIMIT_AVG "3/hour"
#define UXT_LIMIT_BURST 5

/* xt_rateinfo (x86-64 layout) */
struct uxt_rateinfo {
	uint32_t avg;		/* average seconds between packets * scale */
	uint32_t burst;		/* period multiplier for the upper limit */
	/* used by the kernel */
	uint64_t prev;		/* unsigned long */
	uint32_t credit;
	uint32_t credit_cap, cost;
	uint64_t master;	/* struct xt_limit_priv * */
};
_Static_assert(sizeof(struct uxt_rateinfo) == 40 &&
	       offsetof(struct uxt_rateinfo, prev) == 8 &&
	       offsetof(struct uxt_rateinfo, master) == 32,
	       "xt_rateinfo layout (x86-64)");

enum { O_LIMIT = 0, O_BURST };

static const struct uxt_opt limit_opts[] = {
	{.name = "limit", .has_arg = 1, .type = UXT_OT_STRING, .id = O_LIMIT},
	{.name = "limit-burst", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_BURST, .flags = UXT_OPT_PUT, .min = 0, .max = 10000,
	 UXT_OPT_POINTER(struct uxt_rateinfo, burst)},
	{.name = NULL},
};

static void limit_help(struct uxt_buf *out)
{
	uxt_buf_printf(out,
		       "limit match options:\n"
		       "--limit avg\t\t\tmax average match rate: default " UXT_LIMIT_AVG "\n"
		       "                                [Packets per second unless followed by \n"
		       "                                /sec /minute /hour /day postfixes]\n"
		       "--limit-burst number\t\tnumber to match in a burst, default %u\n",
		       UXT_LIMIT_BURST);
}

/*
 * libxt_limit's parse_rate: 1 and *val set, 0 for a malformed rate, -1 with
 * err set for a rate too fast to express.
 */
static int parse_rate(const char *rate, uint32_t *val, struct uxt_err *err)
{
	static const struct {
		const char *name;
		uint32_t mult;
	} units[] = {
		{"second", 1}, {"minute", 60}, {"hour", 60 * 60},
		{"day", 24 * 60 * 60},
	};
	const char *delim = strchr(rate, '/');
	uint32_t mult = 1, r;

	if (delim) {
		size_t len = strlen(delim + 1);
		size_t i;

		if (len == 0)
			return 0;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strncasecmp(delim + 1, units[i].name, len) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return 0;
		mult = units[i].mult;
	}
	/* atoi(), including its wrap-around of out-of-range numbers */
	r = (uint32_t)(int)strtol(rate, NULL, 10);
	if (!r)
		return 0;
	*val = UXT_LIMIT_SCALE * mult / r;
	if (*val == 0)
		/* the rate maps to infinity */
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Rate too fast \"%s\"", rate);
	return 1;
}

static void limit_init(void *data)
{
	struct uxt_rateinfo *r = data;
	struct uxt_err unused;

	parse_rate(UXT_LIMIT_AVG, &r->avg, &unused);
	r->burst = UXT_LIMIT_BURST;
}

static int limit_parse(struct uxt_opt_call *c)
{
	struct uxt_rateinfo *r = c->data;

	if (uxt_opt_parse(c))
		return -1;
	if (c->opt->id == O_LIMIT) {
		int ret = parse_rate(c->arg, &r->avg, c->err);

		if (ret < 0)
			return -1;
		if (ret == 0)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "bad rate \"%s\"'", c->arg);
	}
	if (c->invert)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "limit does not support invert");
	return 0;
}

static void put_rate(struct uxt_buf *b, uint32_t period)
{
	static const struct {
		const char *name;
		uint32_t mult;
	} rates[] = {
		{"day", UXT_LIMIT_SCALE * 24 * 60 * 60},
		{"hour", UXT_LIMIT_SCALE * 60 * 60},
		{"min", UXT_LIMIT_SCALE * 60},
		{"sec", UXT_LIMIT_SCALE},
	};
	size_t i;

	if (period == 0) {
		uxt_buf_printf(b, " %f", (double)INFINITY);
		return;
	}
	for (i = 1; i < sizeof(rates) / sizeof(rates[0]); ++i)
		if (period > rates[i].mult ||
		    rates[i].mult / period < rates[i].mult % period)
			break;
	uxt_buf_printf(b, " %u/%s", rates[i - 1].mult / period,
		       rates[i - 1].name);
}

static void limit_print(struct uxt_buf *b, const struct uxt_ip *ip,
			const void *data, bool numeric)
{
	const struct uxt_rateinfo *r = data;

	(void)ip;
	(void)numeric;
	uxt_buf_puts(b, " limit: avg");
	put_rate(b, r->avg);
	uxt_buf_printf(b, " burst %u", r->burst);
}

static void limit_save(struct uxt_buf *b, const struct uxt_ip *ip,
		       const void *data)
{
	const struct uxt_rateinfo *r = data;

	(void)ip;
	uxt_buf_puts(b, " --limit");
	put_rate(b, r->avg);
	if (r->burst != UXT_LIMIT_BURST)
		uxt_buf_printf(b, " --limit-burst %u", r->burst);
}

/*
 * xt_limit's credits: CREDITS_PER_JIFFY is the largest power of two with
 * CREDITS_PER_JIFFY * HZ * 86400 < 2^32, 128 for HZ = 250.
 */
#define UXT_LIMIT_HZ 250u
#define UXT_LIMIT_CREDITS_PER_JIFFY 128u

static uint32_t user2credits(uint32_t user)
{
	const uint32_t f = UXT_LIMIT_HZ * UXT_LIMIT_CREDITS_PER_JIFFY;

	/* divide first if multiplying would overflow */
	if (user > 0xFFFFFFFFu / f)
		return (user / UXT_LIMIT_SCALE) * f;
	return (user * f) / UXT_LIMIT_SCALE;
}

static int limit_check(const struct uxt_check_call *call)
{
	const struct uxt_rateinfo *r = call->data;

	if (r->burst == 0 ||
	    user2credits(r->avg * r->burst) < user2credits(r->avg))
		return -ERANGE;
	return 0;
}

#define UXT_LIMIT_NS_PER_JIFFY (1000000000u / UXT_LIMIT_HZ)

/* The live part of the state: struct xt_limit_priv, and the two values
 * checkentry stores in the rule. */
struct limit_state {
	uint64_t prev;		/* jiffies of the last update */
	uint32_t credit;
	uint32_t credit_cap;
	uint32_t cost;
};

static uint64_t ns_to_jiffies(uint64_t now_ns)
{
	return now_ns / UXT_LIMIT_NS_PER_JIFFY;
}

static void limit_priv_init(void *priv, const void *data, uint64_t now_ns)
{
	const struct uxt_rateinfo *r = data;
	struct limit_state *st = priv;

	if (r->cost != 0) {
		/* state saved with the ruleset */
		st->prev = r->prev;
		st->credit = r->credit;
		st->credit_cap = r->credit_cap;
		st->cost = r->cost;
		return;
	}
	/* limit_mt_check(): a full bucket; avg * burst wraps at 32 bits as
	 * in the kernel (the check refuses the values where it matters) */
	st->prev = ns_to_jiffies(now_ns);
	st->credit = user2credits(r->avg * r->burst);
	st->credit_cap = st->credit;
	st->cost = user2credits(r->avg);
}

static void limit_priv_save(void *data, const void *priv)
{
	struct uxt_rateinfo *r = data;
	const struct limit_state *st = priv;

	r->prev = st->prev;
	r->credit = st->credit;
	r->credit_cap = st->credit_cap;
	r->cost = st->cost;
}

static bool limit_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	struct limit_state *st = par->priv;
	uint64_t now = ns_to_jiffies(par->now_ns);
	uint32_t increase = 0, credit;

	(void)pkt;
	if (!st)
		return false;
	if (now >= st->prev)
		/* truncated to 32 bits, as credit_increase is a u32 */
		increase = (uint32_t)((now - st->prev) * UXT_LIMIT_CREDITS_PER_JIFFY);
	st->prev = now;
	credit = st->credit + increase;
	if (credit > st->credit_cap)
		credit = st->credit_cap;
	if (credit < st->cost) {
		st->credit = credit;
		return false;
	}
	st->credit = credit - st->cost;
	return true;
}

const struct uxt_ext uxt_ext_limit = {
	.name = "limit",
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_rateinfo),
	.usersize = offsetof(struct uxt_rateinfo, prev),
	.opts = limit_opts,
	.help = limit_help,
	.init = limit_init,
	.parse = limit_parse,
	.print = limit_print,
	.save = limit_save,
	.check = limit_check,
	.match = limit_match,
	.priv_size = sizeof(struct limit_state),
	.priv_init = limit_priv_init,
	.priv_save = limit_priv_save,
};
