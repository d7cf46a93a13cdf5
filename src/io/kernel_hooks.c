/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxtables' hooks in the kernel (see kernel_hooks.h): an nftables table
 * written over nfnetlink with libmnl, and a survey of the rulesets the
 * kernel already has (nftables tables; iptables-legacy tables through
 * IPT_SO_GET_INFO / IPT_SO_GET_ENTRIES).
 */
#include "kernel_hooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nfnl.h"

#define NFT_BUF_SIZE 16384

static const char *const chain_names[NF_INET_NUMHOOKS] = {
	"prerouting", "input", "forward", "output", "postrouting",
};

static const char *const hook_names[NF_INET_NUMHOOKS] = {
	"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
};

static int kh_error(struct uxt_err *err, const char *what, int e)
{
	return uxt_error_bare(err, UXT_OTHER_PROBLEM, "nftables: %s: %s", what,
			      strerror(e));
}

static struct nlmsghdr *put_nft(void *buf, uint16_t type, uint16_t flags,
				uint8_t family, uint32_t seq)
{
	return uxt_nfnl_put(buf, (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type),
			    flags, family, 0, seq);
}

static struct nlmsghdr *put_batch(void *buf, uint16_t type, uint32_t seq)
{
	return uxt_nfnl_put(buf, type, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq);
}

static struct mnl_socket *nft_socket(struct uxt_err *err)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);

	if (!nl) {
		kh_error(err, "netlink socket", errno);
		return NULL;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		kh_error(err, "netlink bind", errno);
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

/* The nftables tables */

struct table_list {
	struct uxt_buf *out;
	int count;
	bool ours;
};

static const char *family_name(uint8_t f)
{
	switch (f) {
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_NETDEV:
		return "netdev";
	default:
		return "?";
	}
}

static int table_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NFTA_TABLE_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_list *l = data;
	const struct nlattr *tb[NFTA_TABLE_MAX + 1] = {0};
	const struct nfgenmsg *nfg;
	const char *name;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return MNL_CB_ERROR;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*nfg), table_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[NFTA_TABLE_NAME])
		return MNL_CB_OK;
	name = mnl_attr_get_str(tb[NFTA_TABLE_NAME]);
	if (nfg->nfgen_family == NFPROTO_IPV4 &&
	    strcmp(name, UXT_KHOOKS_TABLE) == 0) {
		l->ours = true;
		return MNL_CB_OK;
	}
	/* families whose hooks IPv4 packets do not pass */
	if (nfg->nfgen_family == NFPROTO_IPV6 || nfg->nfgen_family == NFPROTO_ARP)
		return MNL_CB_OK;
	if (l->out)
		uxt_buf_printf(l->out, "nftables: table %s %s\n",
			       family_name(nfg->nfgen_family), name);
	l->count++;
	return MNL_CB_OK;
}

static int list_tables(struct table_list *l, struct uxt_err *err)
{
	char *buf = malloc(NFT_BUF_SIZE);
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int ret = 0;

	if (!buf)
		return kh_error(err, "list tables", ENOMEM);
	nl = nft_socket(err);
	if (!nl) {
		free(buf);
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = put_nft(buf, NFT_MSG_GETTABLE, NLM_F_DUMP,
		      NFPROTO_UNSPEC, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = kh_error(err, "list tables", errno);
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, NFT_BUF_SIZE);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = kh_error(err, "list tables", errno);
			break;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, portid, table_cb, l);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0) {
			ret = kh_error(err, "list tables", errno ? errno : EBADMSG);
			break;
		}
	}
out:
	mnl_socket_close(nl);
	free(buf);
	return ret;
}

/* iptables-legacy tables */

static int legacy_table(int fd, const char *name, struct uxt_buf *out)
{
	struct ipt_getinfo info;
	struct ipt_get_entries *ent;
	socklen_t len = sizeof(info);
	unsigned int nhooks = 0, uchains = 0, total = 0;
	char policies[256] = "";
	int findings = 0;

	if (strlen(name) >= sizeof(info.name))
		return 0;
	memset(&info, 0, sizeof(info));
	memcpy(info.name, name, strlen(name));
	if (getsockopt(fd, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len) != 0)
		return 0;
	ent = calloc(1, sizeof(*ent) + info.size);
	if (!ent)
		return 0;
	memcpy(ent->name, info.name, sizeof(ent->name));
	ent->size = info.size;
	len = (socklen_t)(sizeof(*ent) + info.size);
	if (getsockopt(fd, IPPROTO_IP, IPT_SO_GET_ENTRIES, ent, &len) != 0) {
		free(ent);
		return 0;
	}
	for (unsigned int off = 0; off + sizeof(struct ipt_entry) <= info.size;) {
		const struct ipt_entry *e =
			(const struct ipt_entry *)((const char *)ent->entrytable + off);
		const struct xt_entry_target *t;

		if (e->next_offset < sizeof(*e) || e->target_offset < sizeof(*e) ||
		    e->target_offset + sizeof(*t) > e->next_offset ||
		    off + e->next_offset > info.size)
			break;
		t = (const struct xt_entry_target *)((const char *)e + e->target_offset);
		if (strcmp(t->u.user.name, XT_ERROR_TARGET) == 0)
			uchains++;
		total++;
		off += e->next_offset;
	}
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		const struct ipt_entry *e;
		const struct xt_standard_target *st;

		if (!(info.valid_hooks & (1u << h)))
			continue;
		nhooks++;
		if (info.underflow[h] + sizeof(*e) > info.size)
			continue;
		e = (const struct ipt_entry *)((const char *)ent->entrytable +
					       info.underflow[h]);
		if (e->target_offset + sizeof(*st) > e->next_offset ||
		    info.underflow[h] + e->next_offset > info.size)
			continue;
		st = (const struct xt_standard_target *)((const char *)e +
							 e->target_offset);
		if (st->target.u.user.name[0] == '\0' &&
		    st->verdict != -NF_ACCEPT - 1) {
			size_t n = strlen(policies);

			snprintf(policies + n, sizeof(policies) - n, ", policy %s DROP",
				 hook_names[h]);
		}
	}
	free(ent);
	/* the final ERROR entry is not a user chain; each user chain is a
	 * head and a RETURN tail */
	if (uchains)
		uchains--;
	if (total > nhooks + 1 + 2 * uchains || uchains || policies[0]) {
		unsigned int rules = total - nhooks - 1 - 2 * uchains;

		if (out)
			uxt_buf_printf(out, "iptables-legacy: table %s: %u rule%s, "
				       "%u user chain%s%s\n", name, rules,
				       rules == 1 ? "" : "s", uchains,
				       uchains == 1 ? "" : "s", policies);
		findings = 1;
	}
	return findings;
}

static int legacy_tables(struct uxt_buf *out)
{
	FILE *f = fopen("/proc/net/ip_tables_names", "re");
	char line[64];
	int fd, count = 0;

	if (!f)
		return 0;
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			count += legacy_table(fd, line, out);
	}
	close(fd);
	fclose(f);
	return count;
}

int uxt_khooks_survey(struct uxt_buf *out, bool *ours, struct uxt_err *err)
{
	struct table_list l = {.out = out};

	if (list_tables(&l, err))
		return -1;
	if (ours)
		*ours = l.ours;
	return l.count + legacy_tables(out);
}

/* Transactions */

struct txn {
	char *buf;
	size_t len;
	uint32_t seq, first_seq;
	unsigned int acks;		/* messages that asked for one */
	const char *what[16];		/* by seq - first_seq */
};

static struct nlmsghdr *txn_msg(struct txn *t, uint16_t type, uint16_t flags,
				const char *what)
{
	struct nlmsghdr *nlh = put_nft(t->buf + t->len, type, flags | NLM_F_ACK,
				       NFPROTO_IPV4, t->seq);

	if (t->seq - t->first_seq < 16)
		t->what[t->seq - t->first_seq] = what;
	t->seq++;
	t->acks++;
	return nlh;
}

static void txn_end(struct txn *t, struct nlmsghdr *nlh)
{
	t->len += nlh->nlmsg_len;
}

static int txn_run(struct txn *t, struct uxt_err *err)
{
	struct mnl_socket *nl = nft_socket(err);
	struct nlmsghdr *nlh;
	char rbuf[8192];
	unsigned int acks = 0;
	int first_error = 0;
	const char *failed = NULL;

	if (!nl)
		return -1;
	nlh = put_batch(t->buf + t->len, NFNL_MSG_BATCH_END, t->seq++);
	t->len += nlh->nlmsg_len;
	if (mnl_socket_sendto(nl, t->buf, t->len) < 0) {
		int e = errno;

		mnl_socket_close(nl);
		return kh_error(err, "send", e);
	}
	while (acks < t->acks) {
		ssize_t n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
		const struct nlmsghdr *h;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			first_error = first_error ? first_error : errno;
			break;
		}
		len = (int)n;
		for (h = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			const struct nlmsgerr *e;

			if (h->nlmsg_type != NLMSG_ERROR ||
			    h->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(h);
			acks++;
			if (e->error && !first_error) {
				first_error = -e->error;
				if (h->nlmsg_seq >= t->first_seq &&
				    h->nlmsg_seq - t->first_seq < 16)
					failed = t->what[h->nlmsg_seq - t->first_seq];
			}
		}
		if (first_error)
			break;
	}
	mnl_socket_close(nl);
	if (first_error)
		return kh_error(err, failed ? failed : "transaction", first_error);
	return 0;
}

static void txn_begin(struct txn *t, char *buf)
{
	struct nlmsghdr *nlh;

	memset(t, 0, sizeof(*t));
	t->buf = buf;
	t->seq = (uint32_t)time(NULL);
	nlh = put_batch(buf, NFNL_MSG_BATCH_BEGIN, t->seq++);
	t->len = nlh->nlmsg_len;
	t->first_seq = t->seq;
}

static void put_del_table(struct txn *t)
{
	struct nlmsghdr *nlh = txn_msg(t, NFT_MSG_DELTABLE, 0,
				       "delete table ip " UXT_KHOOKS_TABLE);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, UXT_KHOOKS_TABLE);
	txn_end(t, nlh);
}

/* nftables' user data: type, length, value (libnftnl's udata layout) */
static void put_comment(struct nlmsghdr *nlh, uint16_t attr, const char *text)
{
	unsigned char ud[130];
	size_t n = strlen(text);

	if (n > 126)
		n = 126;
	ud[0] = 0;		/* NFTNL_UDATA_*_COMMENT */
	ud[1] = (unsigned char)(n + 1);
	memcpy(ud + 2, text, n);
	ud[2 + n] = '\0';
	mnl_attr_put(nlh, attr, n + 3, ud);
}

static void put_expr(struct nlmsghdr *nlh, const char *name)
{
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	mnl_attr_nest_end(nlh, elem);
}

/* The rule of hook h's chain: counter notrack, and the NFQUEUE target
 * when the hook queues. */
static void put_hook_rule(struct txn *t, const struct uxt_khooks_config *c,
			  unsigned int h)
{
	bool queue = c->queue_hooks & (1u << h);
	struct nlattr *exprs, *elem, *data;
	struct xt_NFQ_info_v3 info;
	unsigned char infobuf[XT_ALIGN(sizeof(info))];
	struct nlmsghdr *nlh;

	nlh = txn_msg(t, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
		      queue ? "add rule (counter notrack NFQUEUE)"
			    : "add rule (counter notrack)");
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, UXT_KHOOKS_TABLE);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain_names[h]);
	exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	put_expr(nlh, "counter");
	put_expr(nlh, "notrack");
	if (queue) {
		elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "target");
		data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		mnl_attr_put_strz(nlh, NFTA_TARGET_NAME, "NFQUEUE");
		mnl_attr_put_u32(nlh, NFTA_TARGET_REV, htonl(3));
		memset(&info, 0, sizeof(info));
		info.queuenum = c->queue_base;
		info.queues_total = c->queues;
		info.flags = (uint16_t)((c->bypass ? NFQ_FLAG_BYPASS : 0) |
					(c->cpu_fanout ? NFQ_FLAG_CPU_FANOUT : 0));
		memset(infobuf, 0, sizeof(infobuf));
		memcpy(infobuf, &info, sizeof(info));
		mnl_attr_put(nlh, NFTA_TARGET_INFO, sizeof(infobuf), infobuf);
		mnl_attr_nest_end(nlh, data);
		mnl_attr_nest_end(nlh, elem);
	}
	mnl_attr_nest_end(nlh, exprs);
	txn_end(t, nlh);
}

static int check_queues(const struct uxt_khooks_config *c, struct uxt_err *err)
{
	if (c->queues == 0 || (unsigned int)c->queue_base + c->queues > 65536)
		return uxt_error_bare(err, UXT_PARAMETER_PROBLEM,
				      "nftables: bad queue range");
	return 0;
}

int uxt_khooks_install(const struct uxt_khooks_config *c, struct uxt_err *err)
{
	struct table_list l = {0};
	struct txn t;
	struct nlmsghdr *nlh;
	char *buf;
	int ret;

	if (check_queues(c, err))
		return -1;
	if (list_tables(&l, err))
		return -1;
	buf = malloc(NFT_BUF_SIZE);
	if (!buf)
		return kh_error(err, "install", ENOMEM);
	txn_begin(&t, buf);
	if (l.ours)
		put_del_table(&t);
	nlh = txn_msg(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL,
		      "add table ip " UXT_KHOOKS_TABLE);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, UXT_KHOOKS_TABLE);
	mnl_attr_put_u32(nlh, NFTA_TABLE_FLAGS, 0);
	if (c->comment)
		put_comment(nlh, NFTA_TABLE_USERDATA, c->comment);
	txn_end(&t, nlh);
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		struct nlattr *nest;

		nlh = txn_msg(&t, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL,
			      "add chain");
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, UXT_KHOOKS_TABLE);
		mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain_names[h]);
		nest = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
		mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(h));
		mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY,
				 htonl((uint32_t)UXT_KHOOKS_PRIORITY));
		mnl_attr_nest_end(nlh, nest);
		mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
		txn_end(&t, nlh);
		put_hook_rule(&t, c, h);
	}
	ret = txn_run(&t, err);
	free(buf);
	return ret;
}

int uxt_khooks_set_queue_hooks(const struct uxt_khooks_config *c, uint32_t from,
			       struct uxt_err *err)
{
	struct txn t;
	char *buf;
	int ret;

	if (check_queues(c, err))
		return -1;
	if (((from ^ c->queue_hooks) & UXT_KHOOKS_ALL) == 0)
		return 0;
	buf = malloc(NFT_BUF_SIZE);
	if (!buf)
		return kh_error(err, "change hooks", ENOMEM);
	txn_begin(&t, buf);
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		struct nlmsghdr *nlh;

		if (!((from ^ c->queue_hooks) & (1u << h)))
			continue;
		/* a rule delete without a handle empties the chain */
		nlh = txn_msg(&t, NFT_MSG_DELRULE, 0, "flush chain");
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, UXT_KHOOKS_TABLE);
		mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain_names[h]);
		txn_end(&t, nlh);
		put_hook_rule(&t, c, h);
	}
	ret = txn_run(&t, err);
	free(buf);
	return ret;
}

int uxt_khooks_remove(struct uxt_err *err)
{
	struct table_list l = {0};
	struct txn t;
	char *buf;
	int ret;

	if (list_tables(&l, err))
		return -1;
	if (!l.ours)
		return 0;
	buf = malloc(NFT_BUF_SIZE);
	if (!buf)
		return kh_error(err, "remove", ENOMEM);
	txn_begin(&t, buf);
	put_del_table(&t);
	ret = txn_run(&t, err);
	free(buf);
	return ret;
}
