/* SPDX-License-Identifier: BSD-2-Clause */
#include "rule.h"

#include <string.h>

#include "ext.h"

const struct uxt_std_target *uxt_rule_std(const struct uxt_rule *r)
{
	const struct uxt_xrec *t = uxt_rule_target(r);

	if (uxt_ext_by_id(t->ext) != &uxt_ext_standard)
		return NULL;
	return (const struct uxt_std_target *)t->data;
}

bool uxt_rule_unconditional(const struct uxt_rule *r)
{
	static const struct uxt_ip zero;

	return r->nmatches == 0 && memcmp(&r->ip, &zero, sizeof(zero)) == 0;
}

static bool xrec_same(const struct uxt_xrec *a, const struct uxt_xrec *b)
{
	const struct uxt_ext *ext;

	if (a->ext != b->ext || a->size != b->size)
		return false;
	ext = uxt_ext_by_id(a->ext);
	if (ext == &uxt_ext_standard) {
		const struct uxt_std_target *sa = (const void *)a->data;
		const struct uxt_std_target *sb = (const void *)b->data;

		if (sa->verdict != sb->verdict)
			return false;
		return sa->verdict != UXT_V_JUMP ||
		       strcmp(sa->chain, sb->chain) == 0;
	}
	return memcmp(a->data, b->data, ext->usersize) == 0;
}

bool uxt_rule_same(const struct uxt_rule *a, const struct uxt_rule *b)
{
	const struct uxt_xrec *ma, *mb;

	if (memcmp(&a->ip, &b->ip, sizeof(a->ip)) != 0 ||
	    a->target_offset != b->target_offset || a->size != b->size ||
	    a->nmatches != b->nmatches)
		return false;
	mb = uxt_rule_first_match(b);
	uxt_rule_foreach_match(a, ma) {
		if (!xrec_same(ma, mb))
			return false;
		mb = uxt_xrec_next(mb);
	}
	return xrec_same(uxt_rule_target(a), uxt_rule_target(b));
}

const char *uxt_verdict_name(int verdict)
{
	switch (verdict) {
	case UXT_V_ACCEPT:
		return "ACCEPT";
	case UXT_V_DROP:
		return "DROP";
	case UXT_V_QUEUE:
		return "QUEUE";
	case UXT_V_RETURN:
		return "RETURN";
	default:
		return "";
	}
}

const char *uxt_rule_target_name(const struct uxt_rule *r)
{
	const struct uxt_std_target *std = uxt_rule_std(r);

	if (std == NULL)
		return uxt_ext_by_id(uxt_rule_target(r)->ext)->name;
	if (std->verdict == UXT_V_JUMP)
		return std->chain;
	return uxt_verdict_name(std->verdict);
}
