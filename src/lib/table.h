/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rulesets, tables and chains, and the operations iptables performs on them.
 *
 * A ruleset is what one network namespace holds: up to five tables, each
 * created on first use as the kernel instantiates them, listed newest first
 * as /proc/net/ip_tables_names does.  A table holds its built-in chains in
 * hook order and its user chains sorted by strcmp(), which is libiptc's
 * order and therefore the listing order.
 *
 * The operations mirror libiptc: they change the in-memory ruleset and
 * return 0 or a negative errno whose meaning the command line reports as
 * libiptc's iptc_strerror() would.  Nothing is checked against the kernel's
 * rules (hooks, tables, loops) until uxt_table_verify(), which runs when a
 * table is committed, as the kernel does in translate_table().
 *
 * Rules are immutable blocks (rule.h); a chain holds pointers to them.  They
 * live in the ruleset's arena or in the mapped state file.
 */
#ifndef UXT_TABLE_H
#define UXT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ext.h"
#include "rule.h"

#define UXT_NTABLES 5

struct uxt_table_def {
	const char *name;
	uint32_t valid_hooks;	/* bits of enum uxt_hook */
	int priority;		/* NF_IP_PRI_* of the table's hooks */
};

extern const struct uxt_table_def uxt_table_defs[UXT_NTABLES];
/* The definition of table name, or NULL. */
const struct uxt_table_def *uxt_table_def_find(const char *name);
/* "PREROUTING", "INPUT"... */
extern const char *const uxt_hook_names[UXT_NHOOKS];

struct uxt_chain {
	char name[UXT_CHAIN_NAMESZ];
	int hook;			/* enum uxt_hook, or -1 for a user chain */
	int policy;			/* UXT_V_ACCEPT or UXT_V_DROP */
	struct uxt_counters policy_counters;
	struct uxt_rule **rules;
	uint32_t nrules, cap;
};

struct uxt_table {
	const struct uxt_table_def *def;
	struct uxt_chain **chains;	/* built-ins, then user chains sorted */
	uint32_t nchains, nbuiltin, cap;
	/* loaded without its rules, for a caller that replaces it
	 * (uxt_store_load_replacing): never to be committed as it is */
	bool rules_unread;
};

/* A simple bump allocator: rules are small and die with the process. */
struct uxt_arena {
	struct uxt_arena_block *head;
};

struct uxt_ruleset {
	struct uxt_table *tables[UXT_NTABLES];	/* by uxt_table_defs index */
	int order[UXT_NTABLES];			/* newest first */
	int ntables;
	struct uxt_arena arena;
};

void uxt_ruleset_init(struct uxt_ruleset *rs);
void uxt_ruleset_free(struct uxt_ruleset *rs);
void *uxt_arena_alloc(struct uxt_arena *a, size_t size);

/* The table called name, or NULL if it does not exist yet. */
struct uxt_table *uxt_ruleset_table(struct uxt_ruleset *rs, const char *name);
/* Creates the table as the kernel does on first use (policies ACCEPT).
 * Returns NULL (errno-style -ENOENT in *error) for an unknown name. */
struct uxt_table *uxt_ruleset_instantiate(struct uxt_ruleset *rs,
					  const char *name, int *error);
/* A deep copy of t whose chains can be changed without touching t. */
struct uxt_table *uxt_table_clone(struct uxt_ruleset *rs,
				  const struct uxt_table *t);
/* A copy of t with every chain flushed and every user chain deleted, as
 * iptables-restore starts a table (without copying the rules first). */
struct uxt_table *uxt_table_clone_flushed(const struct uxt_table *t);
/* Replaces the table of the same name by t (which must come from
 * uxt_table_clone or uxt_ruleset_instantiate on this ruleset). */
void uxt_ruleset_replace(struct uxt_ruleset *rs, struct uxt_table *t);
void uxt_table_free(struct uxt_table *t);

struct uxt_chain *uxt_table_chain(const struct uxt_table *t, const char *name);
bool uxt_chain_builtin(const struct uxt_chain *c);
/* Rules that jump or go to the chain. */
unsigned int uxt_table_references(const struct uxt_table *t, const char *name);
/* The same for every user chain at once, indexed as t->chains (0 for the
 * built-ins); malloc()ed, NULL without memory. */
unsigned int *uxt_table_reference_counts(const struct uxt_table *t);

/* Copies a rule into the ruleset's arena. */
struct uxt_rule *uxt_rule_dup(struct uxt_ruleset *rs, const struct uxt_rule *r);

/* libiptc operations; 0 or -errno */
int uxt_table_append(struct uxt_table *t, const char *chain,
		     struct uxt_rule *r);
int uxt_table_insert(struct uxt_table *t, const char *chain,
		     struct uxt_rule *r, unsigned int index);
int uxt_table_replace_rule(struct uxt_table *t, const char *chain,
			   struct uxt_rule *r, unsigned int index);
int uxt_table_delete_num(struct uxt_table *t, const char *chain,
			 unsigned int index);
int uxt_table_delete_rule(struct uxt_table *t, const char *chain,
			  const struct uxt_rule *r);
int uxt_table_check_rule(const struct uxt_table *t, const char *chain,
			 const struct uxt_rule *r);
int uxt_table_flush(struct uxt_table *t, const char *chain);
/* Zeroes all counters of the chain (rules and policy). */
int uxt_table_zero(struct uxt_ruleset *rs, struct uxt_table *t,
		   const char *chain);
/* Zeroes rule number index (1-based) of chain. */
int uxt_table_zero_num(struct uxt_ruleset *rs, struct uxt_table *t,
		       const char *chain, unsigned int index);
int uxt_table_create_chain(struct uxt_table *t, const char *chain);
int uxt_table_delete_chain(struct uxt_table *t, const char *chain);
int uxt_table_rename_chain(struct uxt_ruleset *rs, struct uxt_table *t,
			   const char *oldname, const char *newname);
/* counters may be NULL: the policy counters are then reset, as libiptc. */
int uxt_table_set_policy(struct uxt_table *t, const char *chain,
			 const char *policy, const struct uxt_counters *counters);

/*
 * The kernel's checks of translate_table(): loops (-ELOOP), then every
 * record's table, hook, protocol and checkentry restrictions (-EINVAL...).
 * On failure *bad_rule names the first rule that failed (may be NULL).
 */
int uxt_table_verify(const struct uxt_table *t,
		     const struct uxt_rule **bad_rule);
/*
 * Clears the kernel-private part (past ext->usersize) of every record of t,
 * copying the rules that have one: the kernel starts every rule's state
 * afresh (a limit's tokens) when a table is replaced, since checkentry runs
 * again for all of its rules.  Every committed change to a table does this.
 */
void uxt_table_reset_state(struct uxt_ruleset *rs, struct uxt_table *t);
/*
 * uxt_table_verify(), then, when t passes, uxt_table_reset_state(rs, t):
 * what a commit does, with the rules read once less.
 */
int uxt_table_verify_reset(struct uxt_ruleset *rs, struct uxt_table *t,
			   const struct uxt_rule **bad_rule);
/*
 * The part of uxt_table_verify that looks at each rule alone: every
 * record's values (checkentry with an empty hook mask) and that jumps name
 * user chains of the table.  Loading a state runs this, enough to make every
 * value safe to print and use; commits run the whole verification.
 */
int uxt_table_check_records(const struct uxt_table *t,
			    const struct uxt_rule **bad_rule);
/*
 * The same checks of one rule of t, for a loader that checks each rule as
 * it reads it (touching the rules once): 0 or -errno.  std is
 * uxt_rule_std(r); cache holds uxt_extensions_count bytes, zeroed before
 * the first rule of a table.  A jump passes; the caller checks that it
 * names a user chain of t once all chains are there.
 */
int uxt_table_check_rule_values(const struct uxt_table *t,
				const struct uxt_rule *r,
				const struct uxt_std_target *std,
				unsigned char *cache);

#endif
