/* SPDX-License-Identifier: BSD-2-Clause */
#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define H(x) (1u << UXT_HOOK_##x)

const struct uxt_table_def uxt_table_defs[UXT_NTABLES] = {
	{"filter", H(LOCAL_IN) | H(FORWARD) | H(LOCAL_OUT), 0},
	{"nat", H(PRE_ROUTING) | H(LOCAL_IN) | H(LOCAL_OUT) | H(POST_ROUTING), -100},
	{"mangle", H(PRE_ROUTING) | H(LOCAL_IN) | H(FORWARD) | H(LOCAL_OUT) |
			   H(POST_ROUTING), -150},
	{"raw", H(PRE_ROUTING) | H(LOCAL_OUT), -300},
	{"security", H(LOCAL_IN) | H(FORWARD) | H(LOCAL_OUT), 50},
};

const char *const uxt_hook_names[UXT_NHOOKS] = {
	"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
};

const struct uxt_table_def *uxt_table_def_find(const char *name)
{
	for (int i = 0; i < UXT_NTABLES; i++)
		if (strcmp(uxt_table_defs[i].name, name) == 0)
			return &uxt_table_defs[i];
	return NULL;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

struct uxt_arena_block {
	struct uxt_arena_block *next;
	size_t used, cap;
	_Alignas(8) unsigned char mem[];
};

#define ARENA_FIRST_BLOCK (64u * 1024)
#define ARENA_MAX_BLOCK (8u * 1024 * 1024)
#define HUGE_PAGE (2u * 1024 * 1024)

/*
 * A new block of at least size bytes.  Blocks grow with the arena (each as
 * large as all before it, up to 8 MB) so that a ruleset of 100k rules (18
 * MB) takes a few blocks, not hundreds; blocks of 2 MB and more are
 * aligned and advised as transparent huge pages, since touching fresh
 * memory one 4 kB page fault at a time costs more than building the rules
 * in it (iptables-restore of 100k rules).
 */
static struct uxt_arena_block *arena_block(const struct uxt_arena *a,
					   size_t size)
{
	struct uxt_arena_block *b;
	size_t total = 0, bytes;

	for (b = a->head; b && total < ARENA_MAX_BLOCK; b = b->next)
		total += b->cap + sizeof(*b);
	bytes = total < ARENA_FIRST_BLOCK ? ARENA_FIRST_BLOCK :
		total > ARENA_MAX_BLOCK ? ARENA_MAX_BLOCK : total;
	if (bytes < size + sizeof(*b))
		bytes = size + sizeof(*b);
	if (bytes >= HUGE_PAGE) {
		bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
		b = aligned_alloc(HUGE_PAGE, bytes);
		if (!b) {
			fputs("uxtables: out of memory\n", stderr);
			exit(4);
		}
		/* only a hint: without THP the block is ordinary memory */
		madvise(b, bytes, MADV_HUGEPAGE);
	} else {
		b = xmalloc(bytes);
	}
	b->used = 0;
	b->cap = bytes - sizeof(*b);
	b->next = a->head;
	return b;
}

void *uxt_arena_alloc(struct uxt_arena *a, size_t size)
{
	struct uxt_arena_block *b = a->head;

	size = UXT_ALIGN(size);
	if (!b || b->cap - b->used < size) {
		b = arena_block(a, size);
		a->head = b;
	}
	b->used += size;
	return b->mem + b->used - size;
}

static void arena_free(struct uxt_arena *a)
{
	while (a->head) {
		struct uxt_arena_block *n = a->head->next;

		free(a->head);
		a->head = n;
	}
}

void uxt_ruleset_init(struct uxt_ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
}

static void chain_free(struct uxt_chain *c)
{
	free(c->rules);
	free(c);
}

void uxt_table_free(struct uxt_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nchains; i++)
		chain_free(t->chains[i]);
	free(t->chains);
	free(t);
}

void uxt_ruleset_free(struct uxt_ruleset *rs)
{
	for (int i = 0; i < UXT_NTABLES; i++)
		uxt_table_free(rs->tables[i]);
	arena_free(&rs->arena);
	memset(rs, 0, sizeof(*rs));
}

static int def_index(const struct uxt_table_def *def)
{
	return (int)(def - uxt_table_defs);
}

struct uxt_table *uxt_ruleset_table(struct uxt_ruleset *rs, const char *name)
{
	const struct uxt_table_def *def = uxt_table_def_find(name);

	return def ? rs->tables[def_index(def)] : NULL;
}

static struct uxt_chain *chain_new(const char *name, int hook)
{
	struct uxt_chain *c = xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->hook = hook;
	c->policy = UXT_V_ACCEPT;
	return c;
}

static void table_add_chain_at(struct uxt_table *t, struct uxt_chain *c,
			       uint32_t pos)
{
	if (t->nchains == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->chains = xrealloc(t->chains, t->cap * sizeof(*t->chains));
	}
	memmove(&t->chains[pos + 1], &t->chains[pos],
		(t->nchains - pos) * sizeof(*t->chains));
	t->chains[pos] = c;
	t->nchains++;
}

struct uxt_table *uxt_ruleset_instantiate(struct uxt_ruleset *rs,
					  const char *name, int *error)
{
	const struct uxt_table_def *def = uxt_table_def_find(name);
	struct uxt_table *t;
	int idx;

	if (!def) {
		*error = -ENOENT;
		return NULL;
	}
	idx = def_index(def);
	if (rs->tables[idx])
		return rs->tables[idx];
	t = xmalloc(sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->def = def;
	for (int h = 0; h < UXT_NHOOKS; h++)
		if (def->valid_hooks & (1u << h))
			table_add_chain_at(t, chain_new(uxt_hook_names[h], h),
					   t->nchains);
	t->nbuiltin = t->nchains;
	rs->tables[idx] = t;
	memmove(&rs->order[1], &rs->order[0], (size_t)rs->ntables * sizeof(int));
	rs->order[0] = idx;
	rs->ntables++;
	return t;
}

struct uxt_table *uxt_table_clone(struct uxt_ruleset *rs,
				  const struct uxt_table *src)
{
	struct uxt_table *t = xmalloc(sizeof(*t));

	(void)rs;
	*t = *src;
	t->cap = src->nchains ? src->nchains : 1;
	t->chains = xmalloc(t->cap * sizeof(*t->chains));
	for (uint32_t i = 0; i < src->nchains; i++) {
		const struct uxt_chain *sc = src->chains[i];
		struct uxt_chain *c = xmalloc(sizeof(*c));

		*c = *sc;
		c->cap = sc->nrules;
		c->rules = xmalloc((c->cap ? c->cap : 1) * sizeof(*c->rules));
		if (sc->nrules)
			memcpy(c->rules, sc->rules, sc->nrules * sizeof(*c->rules));
		t->chains[i] = c;
	}
	return t;
}

struct uxt_table *uxt_table_clone_flushed(const struct uxt_table *src)
{
	struct uxt_table *t = xmalloc(sizeof(*t));

	*t = *src;
	t->rules_unread = false;
	t->nchains = src->nbuiltin;
	t->cap = src->nbuiltin ? src->nbuiltin : 1;
	t->chains = xmalloc(t->cap * sizeof(*t->chains));
	for (uint32_t i = 0; i < src->nbuiltin; i++) {
		struct uxt_chain *c = xmalloc(sizeof(*c));

		*c = *src->chains[i];
		c->rules = NULL;
		c->nrules = c->cap = 0;
		t->chains[i] = c;
	}
	return t;
}

void uxt_ruleset_replace(struct uxt_ruleset *rs, struct uxt_table *t)
{
	int idx = def_index(t->def);

	if (rs->tables[idx] != t)
		uxt_table_free(rs->tables[idx]);
	rs->tables[idx] = t;
}

bool uxt_chain_builtin(const struct uxt_chain *c)
{
	return c->hook >= 0;
}

/* Index of the user chain name, or of where it would be inserted. */
static uint32_t user_chain_pos(const struct uxt_table *t, const char *name,
			       bool *found)
{
	uint32_t lo = t->nbuiltin, hi = t->nchains;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(t->chains[mid]->name, name);

		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct uxt_chain *uxt_table_chain(const struct uxt_table *t, const char *name)
{
	bool found;
	uint32_t pos;

	for (uint32_t i = 0; i < t->nbuiltin; i++)
		if (strcmp(t->chains[i]->name, name) == 0)
			return t->chains[i];
	pos = user_chain_pos(t, name, &found);
	return found ? t->chains[pos] : NULL;
}

static bool jumps_to(const struct uxt_rule *r, const char *name)
{
	const struct uxt_std_target *std = uxt_rule_std(r);

	return std && std->verdict == UXT_V_JUMP && strcmp(std->chain, name) == 0;
}

unsigned int uxt_table_references(const struct uxt_table *t, const char *name)
{
	unsigned int refs = 0;

	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct uxt_chain *c = t->chains[i];

		for (uint32_t j = 0; j < c->nrules; j++)
			refs += jumps_to(c->rules[j], name);
	}
	return refs;
}

unsigned int *uxt_table_reference_counts(const struct uxt_table *t)
{
	unsigned int *refs = calloc(t->nchains ? t->nchains : 1, sizeof(*refs));

	if (!refs)
		return NULL;
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct uxt_chain *c = t->chains[i];

		for (uint32_t j = 0; j < c->nrules; j++) {
			const struct uxt_std_target *std = uxt_rule_std(c->rules[j]);
			bool found;
			uint32_t pos;

			if (!std || std->verdict != UXT_V_JUMP)
				continue;
			pos = user_chain_pos(t, std->chain, &found);
			if (found)
				refs[pos]++;
		}
	}
	return refs;
}

struct uxt_rule *uxt_rule_dup(struct uxt_ruleset *rs, const struct uxt_rule *r)
{
	struct uxt_rule *n = uxt_arena_alloc(&rs->arena, r->size);

	memcpy(n, r, r->size);
	return n;
}

static void chain_insert(struct uxt_chain *c, struct uxt_rule *r, uint32_t pos)
{
	if (c->nrules == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->rules = xrealloc(c->rules, c->cap * sizeof(*c->rules));
	}
	memmove(&c->rules[pos + 1], &c->rules[pos],
		(c->nrules - pos) * sizeof(*c->rules));
	c->rules[pos] = r;
	c->nrules++;
}

static void chain_remove(struct uxt_chain *c, uint32_t pos)
{
	memmove(&c->rules[pos], &c->rules[pos + 1],
		(c->nrules - pos - 1) * sizeof(*c->rules));
	c->nrules--;
}

/* libiptc's iptcc_map_target: a rule cannot jump to a built-in chain. */
static bool jumps_to_builtin(const struct uxt_table *t, const struct uxt_rule *r)
{
	const struct uxt_std_target *std = uxt_rule_std(r);
	const struct uxt_chain *c;

	if (!std || std->verdict != UXT_V_JUMP)
		return false;
	c = uxt_table_chain(t, std->chain);
	return c && uxt_chain_builtin(c);
}

int uxt_table_append(struct uxt_table *t, const char *chain, struct uxt_rule *r)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (jumps_to_builtin(t, r))
		return -EINVAL;
	chain_insert(c, r, c->nrules);
	return 0;
}

int uxt_table_insert(struct uxt_table *t, const char *chain, struct uxt_rule *r,
		     unsigned int index)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (index > c->nrules)
		return -E2BIG;
	if (jumps_to_builtin(t, r))
		return -EINVAL;
	chain_insert(c, r, index);
	return 0;
}

int uxt_table_replace_rule(struct uxt_table *t, const char *chain,
			   struct uxt_rule *r, unsigned int index)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (index >= c->nrules)
		return -E2BIG;
	if (jumps_to_builtin(t, r))
		return -EINVAL;
	c->rules[index] = r;
	return 0;
}

int uxt_table_delete_num(struct uxt_table *t, const char *chain,
			 unsigned int index)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (index >= c->nrules)
		return -E2BIG;
	chain_remove(c, index);
	return 0;
}

int uxt_table_delete_rule(struct uxt_table *t, const char *chain,
			  const struct uxt_rule *r)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (jumps_to_builtin(t, r))
		return -EINVAL;
	for (uint32_t i = 0; i < c->nrules; i++)
		if (uxt_rule_same(c->rules[i], r)) {
			chain_remove(c, i);
			return 0;
		}
	return -ENOENT;
}

int uxt_table_check_rule(const struct uxt_table *t, const char *chain,
			 const struct uxt_rule *r)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (jumps_to_builtin(t, r))
		return -EINVAL;
	for (uint32_t i = 0; i < c->nrules; i++)
		if (uxt_rule_same(c->rules[i], r))
			return 0;
	return -ENOENT;
}

int uxt_table_flush(struct uxt_table *t, const char *chain)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	c->nrules = 0;
	return 0;
}

static void zero_rule(struct uxt_ruleset *rs, struct uxt_chain *c, uint32_t i)
{
	if (c->rules[i]->counters.pcnt == 0 && c->rules[i]->counters.bcnt == 0)
		return;
	c->rules[i] = uxt_rule_dup(rs, c->rules[i]);
	c->rules[i]->counters.pcnt = 0;
	c->rules[i]->counters.bcnt = 0;
}

int uxt_table_zero(struct uxt_ruleset *rs, struct uxt_table *t,
		   const char *chain)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	for (uint32_t i = 0; i < c->nrules; i++)
		zero_rule(rs, c, i);
	memset(&c->policy_counters, 0, sizeof(c->policy_counters));
	return 0;
}

int uxt_table_zero_num(struct uxt_ruleset *rs, struct uxt_table *t,
		       const char *chain, unsigned int index)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c)
		return -ENOENT;
	if (index == 0 || index > c->nrules)
		return -E2BIG;
	zero_rule(rs, c, index - 1);
	return 0;
}

static bool is_verdict_label(const char *name)
{
	return strcmp(name, "ACCEPT") == 0 || strcmp(name, "DROP") == 0 ||
	       strcmp(name, "QUEUE") == 0 || strcmp(name, "RETURN") == 0;
}

int uxt_table_create_chain(struct uxt_table *t, const char *chain)
{
	bool found;
	uint32_t pos;

	if (uxt_table_chain(t, chain) || is_verdict_label(chain))
		return -EEXIST;
	if (strlen(chain) >= UXT_NAME_MAX)
		return -EINVAL;
	pos = user_chain_pos(t, chain, &found);
	table_add_chain_at(t, chain_new(chain, -1), pos);
	return 0;
}

int uxt_table_delete_chain(struct uxt_table *t, const char *chain)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);
	uint32_t pos;
	bool found;

	if (!c)
		return -ENOENT;
	if (uxt_chain_builtin(c))
		return -EINVAL;
	if (uxt_table_references(t, chain) > 0)
		return -EMLINK;
	if (c->nrules > 0)
		return -ENOTEMPTY;
	pos = user_chain_pos(t, chain, &found);
	chain_free(c);
	memmove(&t->chains[pos], &t->chains[pos + 1],
		(t->nchains - pos - 1) * sizeof(*t->chains));
	t->nchains--;
	return 0;
}

int uxt_table_rename_chain(struct uxt_ruleset *rs, struct uxt_table *t,
			   const char *oldname, const char *newname)
{
	struct uxt_chain *c;
	uint32_t pos;
	bool found;

	if (uxt_table_chain(t, newname) || is_verdict_label(newname))
		return -EEXIST;
	c = uxt_table_chain(t, oldname);
	if (!c || uxt_chain_builtin(c))
		return -ENOENT;
	if (strlen(newname) >= UXT_NAME_MAX)
		return -EINVAL;
	/* rules refer to chains by name: retarget every jump */
	for (uint32_t i = 0; i < t->nchains; i++) {
		struct uxt_chain *cc = t->chains[i];

		for (uint32_t j = 0; j < cc->nrules; j++) {
			struct uxt_rule *r;
			struct uxt_std_target *std;

			if (!jumps_to(cc->rules[j], oldname))
				continue;
			r = uxt_rule_dup(rs, cc->rules[j]);
			std = (struct uxt_std_target *)uxt_rule_target(r)->data;
			memset(std->chain, 0, sizeof(std->chain));
			snprintf(std->chain, sizeof(std->chain), "%s", newname);
			cc->rules[j] = r;
		}
	}
	pos = user_chain_pos(t, oldname, &found);
	memmove(&t->chains[pos], &t->chains[pos + 1],
		(t->nchains - pos - 1) * sizeof(*t->chains));
	t->nchains--;
	memset(c->name, 0, sizeof(c->name));
	snprintf(c->name, sizeof(c->name), "%s", newname);
	pos = user_chain_pos(t, newname, &found);
	table_add_chain_at(t, c, pos);
	return 0;
}

int uxt_table_set_policy(struct uxt_table *t, const char *chain,
			 const char *policy, const struct uxt_counters *counters)
{
	struct uxt_chain *c = uxt_table_chain(t, chain);

	if (!c || !uxt_chain_builtin(c))
		return -ENOENT;
	if (strcmp(policy, "ACCEPT") == 0)
		c->policy = UXT_V_ACCEPT;
	else if (strcmp(policy, "DROP") == 0)
		c->policy = UXT_V_DROP;
	else
		return -EINVAL;
	if (counters)
		c->policy_counters = *counters;
	else
		memset(&c->policy_counters, 0, sizeof(c->policy_counters));
	return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The kernel-private part of a record: what follows usersize. */
static bool record_has_state(const struct uxt_xrec *x)
{
	const struct uxt_ext *ext = uxt_ext_by_id(x->ext);

	return ext && ext->size > ext->usersize &&
	       !all_zero(x->data + ext->usersize, ext->size - ext->usersize);
}

static void clear_record_state(struct uxt_xrec *x)
{
	const struct uxt_ext *ext = uxt_ext_by_id(x->ext);

	if (ext && ext->size > ext->usersize)
		memset(x->data + ext->usersize, 0, ext->size - ext->usersize);
}

/* A copy of rule j of ch with its records' kernel-private parts cleared. */
static void reset_rule_state(struct uxt_ruleset *rs, struct uxt_chain *ch,
			     uint32_t j)
{
	struct uxt_xrec *x;

	ch->rules[j] = uxt_rule_dup(rs, ch->rules[j]);
	uxt_rule_foreach_match(ch->rules[j], x)
		clear_record_state(x);
	clear_record_state(uxt_rule_target(ch->rules[j]));
}

/* Whether a record of r whose extension is stateful[] holds state. */
static bool record_has_state_any(const struct uxt_rule *r,
				 const unsigned char *stateful)
{
	const struct uxt_xrec *x;
	bool has = false;

	uxt_rule_foreach_match(r, x)
		has |= x->ext < uxt_extensions_count && stateful[x->ext] &&
		       record_has_state(x);
	x = uxt_rule_target(r);
	has |= x->ext < uxt_extensions_count && stateful[x->ext] &&
	       record_has_state(x);
	return has;
}

void uxt_table_reset_state(struct uxt_ruleset *rs, struct uxt_table *t)
{
	for (uint32_t c = 0; c < t->nchains; c++) {
		struct uxt_chain *ch = t->chains[c];

		for (uint32_t j = 0; j < ch->nrules; j++) {
			struct uxt_xrec *x;
			bool has = false;

			uxt_rule_foreach_match(ch->rules[j], x)
				has |= record_has_state(x);
			has |= record_has_state(uxt_rule_target(ch->rules[j]));
			if (has)
				reset_rule_state(rs, ch, j);
		}
	}
}

/*
 * Verification.
 *
 * The kernel learns from which hooks each rule can be reached by a
 * depth-first walk of the table blob (mark_source_chains), which also finds
 * loops.  The walk only moves along rules by falling through, jumping, or
 * backing up to the rule after the last jump; it stops at an unconditional
 * ACCEPT/DROP/QUEUE/RETURN, so rules after one are never marked and are
 * checked with an empty hook mask, exactly as in the kernel.  We replay that
 * walk over a linear image of the table laid out as libiptc lays out the
 * blob: chains in listing order, each user chain with a head entry, each
 * chain ending with its policy or its implicit RETURN.
 */
enum { E_HEAD, E_RULE, E_TAIL };

/* One entry of the image; 16 bytes, so that 100k rules take 1.6 MB. */
struct vent {
	uint32_t comefrom;
	int32_t back;
	int32_t jump;		/* index of the jump destination, or -1 */
	uint8_t kind;
	bool stop;		/* unconditional standard verdict */
};

#define ONPATH (1u << UXT_NHOOKS)

static int mark_source_chains(struct vent *v, int32_t n,
			      const int32_t *hook_entry, uint32_t valid_hooks)
{
	for (int hook = 0; hook < UXT_NHOOKS; hook++) {
		int32_t pos, oldpos;
		struct vent *e;

		if (!(valid_hooks & (1u << hook)))
			continue;
		pos = hook_entry[hook];
		e = &v[pos];
		e->back = pos;
		for (;;) {
			bool visited = e->comefrom & (1u << hook);

			if (e->comefrom & ONPATH)
				return -ELOOP;
			e->comefrom |= (1u << hook) | ONPATH;
			if (e->stop || visited) {
				do {
					e->comefrom ^= ONPATH;
					oldpos = pos;
					pos = e->back;
					e->back = 0;
					if (pos == oldpos)
						goto next;
					e = &v[pos];
				} while (oldpos == pos + 1);
				if (pos + 1 >= n)
					return -ELOOP;
				e = &v[pos + 1];
				e->back = pos;
				pos += 1;
			} else {
				int32_t newpos = e->jump >= 0 ? e->jump : pos + 1;

				if (newpos >= n)
					return -ELOOP;
				e = &v[newpos];
				e->back = pos;
				pos = newpos;
			}
		}
next:;
	}
	return 0;
}

/* What one verification knows about each extension id: whether the
 * table may use it, computed once instead of once per record. */
enum { EXT_UNKNOWN = 0, EXT_TABLE_OK, EXT_TABLE_BAD };

static int check_record(const struct uxt_table *t, const struct uxt_rule *r,
			const struct uxt_xrec *x, uint32_t hook_mask,
			unsigned char *cache)
{
	const struct uxt_ext *ext = uxt_ext_by_id(x->ext);
	struct uxt_check_call call;

	if (!ext)
		return -ENOENT;
	if (cache[x->ext] == EXT_UNKNOWN)
		cache[x->ext] = !ext->table || strcmp(ext->table, t->def->name) == 0
					? EXT_TABLE_OK : EXT_TABLE_BAD;
	if (cache[x->ext] != EXT_TABLE_OK)
		return -EINVAL;
	if (ext->hooks && (hook_mask & ~ext->hooks) != 0)
		return -EINVAL;
	if (ext->proto && (ext->proto != r->ip.proto ||
			   (r->ip.invflags & UXT_INV_PROTO)))
		return -EINVAL;
	if (!ext->check)
		return 0;
	call.table = t->def->name;
	call.hook_mask = hook_mask;
	call.rule = r;
	call.ip = &r->ip;
	/* checkentry sees the data read-only here; records are immutable */
	call.data = (void *)x->data;
	return ext->check(&call);
}

/* One rule; std is its standard target or NULL, jump_ok whether a jump
 * names a user chain. */
static int check_rule(const struct uxt_table *t, const struct uxt_rule *r,
		      const struct uxt_std_target *std, bool jump_ok,
		      uint32_t hook_mask, unsigned char *cache)
{
	const struct uxt_xrec *m;
	int ret;

	if ((r->ip.flags & ~UXT_F_MASK) || (r->ip.invflags & ~UXT_INV_MASK))
		return -EINVAL;
	uxt_rule_foreach_match(r, m) {
		ret = check_record(t, r, m, hook_mask, cache);
		if (ret)
			return ret;
	}
	if (std) {
		if (std->verdict == UXT_V_JUMP)
			return jump_ok ? 0 : -EINVAL;
		if (std->verdict < UXT_V_CONTINUE || std->verdict > UXT_V_RETURN)
			return -EINVAL;
		return 0;
	}
	return check_record(t, r, uxt_rule_target(r), hook_mask, cache);
}

/* uxt_rule_unconditional() for the common case, without the memcmp */
static bool unconditional(const struct uxt_rule *r)
{
	const struct uxt_ip *ip = &r->ip;

	if (r->nmatches || ip->src || ip->dst || ip->smsk || ip->dmsk ||
	    ip->proto || ip->flags || ip->invflags || ip->iniface_mask[0] ||
	    ip->outiface_mask[0])
		return false;
	return uxt_rule_unconditional(r);
}

int uxt_table_check_rule_values(const struct uxt_table *t,
				const struct uxt_rule *r,
				const struct uxt_std_target *std,
				unsigned char *cache)
{
	/* a jump passes here; its destination is the caller's to check */
	return check_rule(t, r, std, true, 0, cache);
}

int uxt_table_check_records(const struct uxt_table *t,
			    const struct uxt_rule **bad_rule)
{
	unsigned char *cache = calloc(uxt_extensions_count, 1);
	int ret = 0;

	*bad_rule = NULL;
	if (!cache)
		return -ENOMEM;
	for (uint32_t c = 0; c < t->nchains && !ret; c++) {
		const struct uxt_chain *ch = t->chains[c];

		for (uint32_t j = 0; j < ch->nrules && !ret; j++) {
			const struct uxt_rule *r = ch->rules[j];
			const struct uxt_std_target *std = uxt_rule_std(r);

			ret = uxt_table_check_rule_values(t, r, std, cache);
			if (!ret && std && std->verdict == UXT_V_JUMP) {
				const struct uxt_chain *jc = uxt_table_chain(t, std->chain);

				if (!jc || uxt_chain_builtin(jc))
					ret = -EINVAL;
			}
			if (ret)
				*bad_rule = r;
		}
	}
	free(cache);
	return ret;
}

/*
 * uxt_table_verify, and with rs, uxt_table_reset_state once the table
 * passes: the rules whose records hold kernel-private state are found in
 * the same walk, so that a commit reads the rules once less.
 */
static int verify(struct uxt_ruleset *rs, struct uxt_table *t,
		  const struct uxt_rule **bad_rule)
{
	int32_t hook_entry[UXT_NHOOKS] = {0};
	int32_t *chain_first;
	unsigned char *cache, *stateful;
	struct vent *v;
	int32_t n = 0, i;
	int ret = 0;
	/* rules to copy with their state cleared: chain and rule index */
	uint32_t (*reset)[2] = NULL;
	size_t nreset = 0, capreset = 0;
	bool any_stateful = false;

	*bad_rule = NULL;
	for (uint32_t c = 0; c < t->nchains; c++)
		n += (int32_t)t->chains[c]->nrules + 1 +
		     !uxt_chain_builtin(t->chains[c]);
	v = malloc((size_t)n * sizeof(*v));
	chain_first = malloc((t->nchains ? t->nchains : 1) * sizeof(*chain_first));
	cache = calloc(uxt_extensions_count, 1);
	stateful = calloc(uxt_extensions_count, 1);
	if (!v || !chain_first || !cache || !stateful) {
		free(v);
		free(chain_first);
		free(cache);
		free(stateful);
		return -ENOMEM;
	}
	/* extensions with a kernel-private part (past usersize) */
	for (unsigned int x = 0; rs && x < uxt_extensions_count; x++) {
		stateful[x] = uxt_extensions[x]->size > uxt_extensions[x]->usersize;
		any_stateful |= stateful[x];
	}
	/* where each chain's entries start: after its head, if any */
	i = 0;
	for (uint32_t c = 0; c < t->nchains; c++) {
		i += !uxt_chain_builtin(t->chains[c]);
		chain_first[c] = i;
		i += (int32_t)t->chains[c]->nrules + 1;
	}
	i = 0;
	for (uint32_t c = 0; c < t->nchains; c++) {
		const struct uxt_chain *ch = t->chains[c];

		if (!uxt_chain_builtin(ch))
			v[i++] = (struct vent){.kind = E_HEAD, .jump = -1};
		else
			hook_entry[ch->hook] = i;
		for (uint32_t j = 0; j < ch->nrules; j++, i++) {
			const struct uxt_rule *r = ch->rules[j];
			const struct uxt_std_target *std = uxt_rule_std(r);

			v[i] = (struct vent){.kind = E_RULE, .jump = -1};
			v[i].stop = std && std->verdict > UXT_V_CONTINUE &&
				    std->verdict < UXT_V_JUMP && unconditional(r);
			/* a jump goes to the first entry after the
			 * destination's head */
			if (std && std->verdict == UXT_V_JUMP) {
				bool found;
				uint32_t pos = user_chain_pos(t, std->chain, &found);

				if (found)
					v[i].jump = chain_first[pos];
			}
			if (any_stateful && record_has_state_any(r, stateful)) {
				if (nreset == capreset) {
					capreset = capreset ? capreset * 2 : 16;
					reset = xrealloc(reset, capreset * sizeof(*reset));
				}
				reset[nreset][0] = c;
				reset[nreset++][1] = j;
			}
		}
		v[i++] = (struct vent){.kind = E_TAIL, .jump = -1, .stop = true};
	}
	ret = mark_source_chains(v, n, hook_entry, t->def->valid_hooks);
	i = 0;
	for (uint32_t c = 0; ret == 0 && c < t->nchains; c++) {
		const struct uxt_chain *ch = t->chains[c];

		i += !uxt_chain_builtin(ch);
		for (uint32_t j = 0; ret == 0 && j < ch->nrules; j++, i++) {
			const struct uxt_rule *r = ch->rules[j];

			ret = check_rule(t, r, uxt_rule_std(r), v[i].jump >= 0,
					 v[i].comefrom & ((1u << UXT_NHOOKS) - 1),
					 cache);
			if (ret)
				*bad_rule = r;
		}
		i++;
	}
	for (size_t k = 0; ret == 0 && k < nreset; k++)
		reset_rule_state(rs, t->chains[reset[k][0]], reset[k][1]);
	free(reset);
	free(v);
	free(chain_first);
	free(cache);
	free(stateful);
	return ret;
}

int uxt_table_verify(const struct uxt_table *t,
		     const struct uxt_rule **bad_rule)
{
	/* without rs nothing is changed */
	return verify(NULL, (struct uxt_table *)t, bad_rule);
}

int uxt_table_verify_reset(struct uxt_ruleset *rs, struct uxt_table *t,
			   const struct uxt_rule **bad_rule)
{
	return verify(rs, t, bad_rule);
}
