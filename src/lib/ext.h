/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Extensions: matches and targets.
 *
 * An extension is one static struct uxt_ext in one file of src/ext/, holding
 * both halves of what iptables splits between libxtables and the kernel:
 *
 *   command line   name, revision, option table, parse, final check,
 *                  -L print, -S/save print, help text
 *   kernel checks  allowed table, hooks and protocol, and check(), which the
 *                  commit runs for every rule as the kernel's checkentry does
 *   packet side    match() / target(), added by the packet-path work
 *
 * The list of extensions is src/ext/list.c; adding an extension is adding a
 * file there and one line to that list.  Extension ids are indices into that
 * list; they are stored in rules and the state file records which name and
 * revision each id meant, so a state written by another build still loads.
 *
 * Option parsing follows libxtables' two styles.  In "x6" style (x6 = true)
 * the generic parser checks repetition, inversion and the argument before
 * parse() runs (uxt_opt_parse() does the conversion by type, as
 * xtables_option_parse does) and the final check enforces UXT_OPT_MAND,
 * also and excl.  In the older style parse() does all of that itself, with
 * the extension's own messages.
 */
#ifndef UXT_EXT_H
#define UXT_EXT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "rule.h"

enum uxt_ext_kind { UXT_MATCH = 0, UXT_TARGET = 1 };

struct uxt_pkt;
struct uxt_xt_param;

/* Netfilter hooks, numbered as NF_INET_*. */
enum uxt_hook {
	UXT_HOOK_PRE_ROUTING = 0,
	UXT_HOOK_LOCAL_IN,
	UXT_HOOK_FORWARD,
	UXT_HOOK_LOCAL_OUT,
	UXT_HOOK_POST_ROUTING,
	UXT_NHOOKS
};

/* Argument types of the generic option parser (XTTYPE_*). */
enum uxt_opt_type {
	UXT_OT_NONE,
	UXT_OT_UINT8,
	UXT_OT_UINT16,
	UXT_OT_UINT32,
	UXT_OT_UINT64,
	UXT_OT_UINT8RC,
	UXT_OT_UINT16RC,
	UXT_OT_UINT32RC,
	UXT_OT_UINT64RC,
	UXT_OT_DOUBLE,
	UXT_OT_STRING,
	UXT_OT_TOSMASK,
	UXT_OT_MARKMASK32,
	UXT_OT_SYSLOGLEVEL,
	UXT_OT_HOST,
	UXT_OT_HOSTMASK,
	UXT_OT_PROTOCOL,
	UXT_OT_PORT,
	UXT_OT_PORTRC,
	UXT_OT_PLEN,
	UXT_OT_PLENMASK,
	UXT_OT_ETHERMAC,
};

/* Option flags (XTOPT_*). */
enum uxt_opt_flags {
	UXT_OPT_INVERT = 1 << 0,	/* may follow "!" */
	UXT_OPT_MAND = 1 << 1,		/* must be given */
	UXT_OPT_MULTI = 1 << 2,		/* may be given more than once */
	UXT_OPT_PUT = 1 << 3,		/* store the value at off */
	UXT_OPT_NBO = 1 << 4,		/* store ports in network byte order */
};

struct uxt_opt {
	const char *name;
	uint8_t has_arg;	/* getopt: 0 none, 1 required, 2 optional */
	uint8_t type;		/* enum uxt_opt_type */
	uint8_t id;		/* 0..31, the bit in xflags */
	uint8_t flags;		/* enum uxt_opt_flags */
	uint32_t excl, also;	/* bits of options excluded / required */
	uint16_t off, size;	/* where UXT_OPT_PUT stores, in the data */
	uint32_t min, max;	/* bounds of integers / string lengths */
};

/* Fills .off and .size for UXT_OPT_PUT. */
#define UXT_OPT_POINTER(stype, member)                                      \
	.off = offsetof(stype, member), .size = sizeof(((stype *)0)->member)

union uxt_opt_val {
	uint8_t u8, u8_range[2], syslog_level, protocol;
	uint16_t u16, u16_range[2], port, port_range[2];
	uint32_t u32, u32_range[2];
	uint64_t u64, u64_range[2];
	double dbl;
	struct {
		uint32_t haddr[4], hmask[4];
		uint8_t hlen;
	};
	struct {
		uint8_t tos_value, tos_mask;
	};
	struct {
		uint32_t mark, mask;
	};
	uint8_t ethermac[6];
};

struct uxt_ext;

/* One option of one extension instance, as seen by parse(). */
struct uxt_opt_call {
	const struct uxt_ext *ext;
	const struct uxt_opt *opt;
	const char *arg;	/* the option's argument, NULL if none */
	bool invert;		/* "!" came before the option */
	void *data;		/* the record data being filled */
	unsigned int *xflags;	/* option bits used so far by this instance */
	void *udata;		/* scratch space of ext->udata_size bytes */
	struct uxt_ip *ip;	/* header part of the rule being built */
	/* the whole command line, for options with more than one argument */
	int argc;
	char **argv;
	int *optind;
	struct uxt_err *err;
	struct uxt_buf *warn;	/* warnings, shown on stderr */
	uint8_t nvals;
	union uxt_opt_val val;
};

/* The end of one extension instance's options. */
struct uxt_fcheck_call {
	const struct uxt_ext *ext;
	void *data;
	void *udata;
	unsigned int xflags;
	const struct uxt_ip *ip;
	struct uxt_err *err;
	struct uxt_buf *warn;
};

/* The kernel's checkentry for one record of a rule about to be committed. */
struct uxt_check_call {
	const char *table;
	unsigned int hook_mask;		/* hooks the rule can be reached from */
	const struct uxt_rule *rule;	/* the whole rule (TCPMSS looks at its
					 * tcp match, as xt_TCPMSS does) */
	const struct uxt_ip *ip;
	void *data;
};

struct uxt_ext {
	const char *name;
	/*
	 * The extension a rule stores when this one is used on the command
	 * line (NOTRACK stores CT, as in libxt_CT); NULL for itself.
	 */
	const struct uxt_ext *stored_as;
	uint8_t revision;
	uint8_t kind;		/* enum uxt_ext_kind */
	bool x6;		/* generic option checks, see above */
	uint16_t size;		/* bytes of private data in the record */
	uint16_t usersize;	/* leading bytes compared by -D and -C */
	uint16_t udata_size;
	const struct uxt_opt *opts;	/* ends with a {NULL} entry */

	void (*help)(struct uxt_buf *out);
	void (*init)(void *data);
	/* one option; returns 0 or -1 with call->err set */
	int (*parse)(struct uxt_opt_call *call);
	/* after the last option; returns 0 or -1 with call->err set */
	int (*fcheck)(struct uxt_fcheck_call *call);
	/* -L text; numeric is -n */
	void (*print)(struct uxt_buf *out, const struct uxt_ip *ip,
		      const void *data, bool numeric);
	/* -S and iptables-save text */
	void (*save)(struct uxt_buf *out, const struct uxt_ip *ip,
		     const void *data);
	/* the name -S prints after -j / -m, when it depends on the data */
	const char *(*alias)(const void *data);

	/* kernel side: allowed table (NULL: any), hooks (0: any), and the
	 * protocol the rule must name without "!" (0: any) */
	const char *table;
	uint32_t hooks;
	uint16_t proto;
	/* returns 0 or -errno, as checkentry */
	int (*check)(const struct uxt_check_call *call);
	/*
	 * Whether a rule with this record needs connection tracking in the
	 * namespace (its checkentry calls nf_ct_netns_get(): state,
	 * conntrack, connmark, CONNMARK, the NAT targets, CT without
	 * --notrack); needs_conntrack_data, when set, decides from the
	 * record's data instead.  Conntrack is active while any rule of the
	 * ruleset needs it (engine.h, uxt_ns_ct_active).
	 */
	bool needs_conntrack;
	bool (*needs_conntrack_data)(const void *data);

	/*
	 * Packet side (engine.h).  match() says whether the packet matches
	 * (and may set par->hotdrop); target() acts on it and returns an
	 * enum uxt_nf_verdict (UXT_XT_CONTINUE to go on with the next rule).
	 */
	bool (*match)(const struct uxt_pkt *pkt, struct uxt_xt_param *par);
	unsigned int (*target)(struct uxt_pkt *pkt, struct uxt_xt_param *par);
	/*
	 * Live state of a rule's record while packets pass (limit's tokens):
	 * priv_size bytes, set from the data by priv_init when the ruleset is
	 * compiled, written back into a copy of the data by priv_save so that
	 * the state persists with the ruleset, as the kernel keeps it.
	 */
	uint16_t priv_size;
	void (*priv_init)(void *priv, const void *info, uint64_t now_ns);
	void (*priv_save)(void *info, const void *priv);
	/*
	 * For the classifier (src/lib/classify, docs/classifier.md), a match
	 * that checks ports: the port ranges a packet must fall in, when for
	 * every packet of protocol ->proto that is not a fragment and holds
	 * at least *hdrlen bytes of transport header, match() returns false
	 * and does nothing else (no hotdrop, no state) as soon as a port is
	 * outside its range.  Narrows sport and dport (given whole) to the
	 * ranges it can vouch for and returns true, or returns false.
	 */
	bool (*cls_ports)(const void *data, uint16_t sport[2],
			  uint16_t dport[2], unsigned int *hdrlen);
};

extern const struct uxt_ext *const uxt_extensions[];
extern const unsigned int uxt_extensions_count;

/* The extension registered under name for kind, or NULL. */
const struct uxt_ext *uxt_ext_find(const char *name, enum uxt_ext_kind kind);
/* The extension stored under this exact name and revision, or NULL. */
const struct uxt_ext *uxt_ext_find_rev(const char *name, unsigned int revision,
				       enum uxt_ext_kind kind);
static inline const struct uxt_ext *uxt_ext_by_id(unsigned int id)
{
	return id < uxt_extensions_count ? uxt_extensions[id] : NULL;
}
/* The id of ext; ext must be in the list. */
unsigned int uxt_ext_id(const struct uxt_ext *ext);

/* The standard target (verdicts and jumps). */
extern const struct uxt_ext uxt_ext_standard;

/*
 * Generic conversion of call->arg according to call->opt->type, with
 * libxtables' checks and messages (xtables_option_parse): "can only be used
 * once", "cannot be inverted", range errors.  Stores the value when the
 * option has UXT_OPT_PUT.  Returns 0 or -1 with call->err set.
 */
int uxt_opt_parse(struct uxt_opt_call *call);
/* The UXT_OPT_MAND / also / excl checks (xtables_options_fcheck). */
int uxt_opt_fcheck(const char *ext_name, unsigned int xflags,
		   const struct uxt_opt *opts, struct uxt_err *err);

#endif
