/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NFQUEUE over netlink with libmnl (see nfqueue.h).
 *
 * Messages are read with recvmmsg(), one netlink datagram per slot: the
 * kernel sends each queued packet as its own datagram, so a slot holds one
 * packet.  A slot is large enough for a 65535-byte datagram and every
 * attribute, and the payload is the last attribute the kernel writes, so
 * the space after it in the slot is room a target may grow the datagram
 * into.  Every attribute is checked with mnl_attr_validate() before use.
 */
#include "nfqueue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nfnl.h"

#define SLOT_SIZE (65536 + 8192)
#define SEND_BUF_SIZE (512 * 1024)
#define DEFAULT_BATCH 32
#define MAX_BATCH 256

struct uxt_nfq {
	struct mnl_socket *nl;
	unsigned int portid;
	uint16_t queue;
	bool fail_open;
	unsigned int batch;
	unsigned char *slots;		/* batch x SLOT_SIZE */
	struct mmsghdr *msgs;
	struct iovec *iov;
	unsigned char *sendbuf;
	size_t sendlen;
	/* a run of consecutive ids with the same plain verdict (no new
	 * bytes), not yet in sendbuf: it goes as one batch verdict */
	uint32_t run_last, run_verdict, run_mark;
	bool run_set_mark;
	uint32_t run_len;		/* 0: no run */
	uint32_t last_id;		/* highest id received */
	struct uxt_nfq_stats stats;
};

static int nfq_error(struct uxt_err *err, const char *what, int e)
{
	return uxt_error_bare(err, UXT_OTHER_PROBLEM, "NFQUEUE: %s: %s", what,
			      strerror(e));
}

/* A netfilter netlink message for the queue at buf. */
static struct nlmsghdr *put_msg(void *buf, uint16_t type, uint16_t flags,
				uint16_t queue, uint32_t seq)
{
	return uxt_nfnl_put(buf, (uint16_t)(NFNL_SUBSYS_QUEUE << 8 | type), flags,
			    AF_UNSPEC, queue, seq);
}

/*
 * Sends one configuration message with NLM_F_ACK and waits for its answer.
 * Packets that arrive meanwhile (a queue that already has traffic) are
 * dropped on the floor here: their ids will show as a gap.
 */
static int config_request(struct uxt_nfq *q, struct nlmsghdr *nlh,
			  const char *what, struct uxt_err *err)
{
	unsigned char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t seq = nlh->nlmsg_seq;

	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return nfq_error(err, what, errno);
	for (int tries = 0; tries < 10000; tries++) {
		ssize_t n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
		const struct nlmsghdr *h;
		int len;

		if (n < 0) {
			if (errno == ENOBUFS || errno == EINTR)
				continue;
			return nfq_error(err, what, errno);
		}
		len = (int)n;
		for (h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			const struct nlmsgerr *e;

			if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return nfq_error(err, what, EBADMSG);
			e = mnl_nlmsg_get_payload(h);
			if (e->error == 0)
				return 0;
			if (-e->error == EBUSY)
				return uxt_error_bare(err, UXT_OTHER_PROBLEM,
						      "NFQUEUE: queue %u is used by "
						      "another program", q->queue);
			return nfq_error(err, what, -e->error);
		}
	}
	return nfq_error(err, what, ETIMEDOUT);
}

int uxt_nfq_open(struct uxt_nfq **qp, const struct uxt_nfq_config *c,
		 struct uxt_err *err)
{
	unsigned char buf[MNL_SOCKET_BUFFER_SIZE];
	struct uxt_nfq *q = calloc(1, sizeof(*q));
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);

	*qp = NULL;
	if (!q)
		return nfq_error(err, "open", ENOMEM);
	q->queue = c->queue;
	q->fail_open = c->fail_open;
	q->batch = c->batch ? c->batch : DEFAULT_BATCH;
	if (q->batch > MAX_BATCH)
		q->batch = MAX_BATCH;
	q->slots = malloc((size_t)q->batch * SLOT_SIZE);
	q->msgs = calloc(q->batch, sizeof(*q->msgs));
	q->iov = calloc(q->batch, sizeof(*q->iov));
	q->sendbuf = malloc(SEND_BUF_SIZE);
	if (!q->slots || !q->msgs || !q->iov || !q->sendbuf) {
		uxt_nfq_close(q);
		return nfq_error(err, "open", ENOMEM);
	}
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl) {
		int e = errno;

		uxt_nfq_close(q);
		return nfq_error(err, "netlink socket", e);
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		uxt_nfq_close(q);
		return nfq_error(err, "netlink bind", e);
	}
	q->portid = mnl_socket_get_portid(q->nl);
	if (c->rcvbuf) {
		int sz = (int)c->rcvbuf;
		int fd = mnl_socket_get_fd(q->nl);

		/* SO_RCVBUFFORCE passes rmem_max for root */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	{
		int one = 1;

		/* errors of verdicts come back short, without the request */
		setsockopt(mnl_socket_get_fd(q->nl), SOL_NETLINK, NETLINK_CAP_ACK,
			   &one, sizeof(one));
	}

	/* bind the socket to the queue */
	{
		struct nfqnl_msg_config_cmd cmd = {
			.command = NFQNL_CFG_CMD_BIND,
			.pf = htons(AF_INET),
		};

		nlh = put_msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK, q->queue, ++seq);
		mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
		if (config_request(q, nlh, "bind", err)) {
			uxt_nfq_close(q);
			return -1;
		}
	}
	/* the whole datagram; maxlen; flags */
	{
		struct nfqnl_msg_config_params params = {
			.copy_range = htonl(0xFFFF),
			.copy_mode = NFQNL_COPY_PACKET,
		};
		uint32_t flags = 0, mask;

		nlh = put_msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK, q->queue, ++seq);
		mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
		if (c->maxlen)
			mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(c->maxlen));
		if (c->fail_open)
			flags |= NFQA_CFG_F_FAIL_OPEN;
		if (c->uid_gid)
			flags |= NFQA_CFG_F_UID_GID;
		mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_UID_GID | NFQA_CFG_F_GSO |
		       NFQA_CFG_F_CONNTRACK;
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
		if (config_request(q, nlh, "configure", err)) {
			uxt_nfq_close(q);
			return -1;
		}
	}
	for (unsigned int i = 0; i < q->batch; i++) {
		q->iov[i].iov_base = q->slots + (size_t)i * SLOT_SIZE;
		q->iov[i].iov_len = SLOT_SIZE;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	*qp = q;
	return 0;
}

void uxt_nfq_close(struct uxt_nfq *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->slots);
	free(q->msgs);
	free(q->iov);
	free(q->sendbuf);
	free(q);
}

int uxt_nfq_fd(const struct uxt_nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

const struct uxt_nfq_stats *uxt_nfq_stats(const struct uxt_nfq *q)
{
	return &q->stats;
}

/* Parsing */

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFQA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case NFQA_MARK:
	case NFQA_IFINDEX_INDEV:
	case NFQA_IFINDEX_OUTDEV:
	case NFQA_SKB_INFO:
	case NFQA_UID:
	case NFQA_GID:
	case NFQA_CAP_LEN:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NFQA_PACKET_HDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfqnl_msg_packet_hdr)) < 0)
			return MNL_CB_OK;
		break;
	case NFQA_HWADDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfqnl_msg_packet_hw)) < 0)
			return MNL_CB_OK;
		break;
	case NFQA_TIMESTAMP:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfqnl_msg_packet_timestamp)) < 0)
			return MNL_CB_OK;
		break;
	default:
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

/* One message of a slot: 1 a packet, 0 something else, -1 malformed. */
static int parse_packet(struct uxt_nfq *q, const struct nlmsghdr *nlh,
			const unsigned char *slot_end,
			struct uxt_nfq_packet *p)
{
	const struct nlattr *tb[NFQA_MAX + 1] = {0};
	const struct nfqnl_msg_packet_hdr *ph;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error) {
			q->stats.errors++;
			q->stats.last_error = -e->error;
		}
		return 0;
	}
	if (nlh->nlmsg_type != (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET))
		return 0;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -1;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
		return -1;
	if (!tb[NFQA_PACKET_HDR])
		return -1;
	memset(p, 0, sizeof(*p));
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	p->id = ntohl(ph->packet_id);
	p->hw_protocol = ntohs(ph->hw_protocol);
	p->hook = ph->hook;
	if (tb[NFQA_MARK])
		p->mark = ntohl(mnl_attr_get_u32(tb[NFQA_MARK]));
	if (tb[NFQA_IFINDEX_INDEV])
		p->indev = (int)ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_INDEV]));
	if (tb[NFQA_IFINDEX_OUTDEV])
		p->outdev = (int)ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_OUTDEV]));
	if (tb[NFQA_SKB_INFO])
		p->skb_info = ntohl(mnl_attr_get_u32(tb[NFQA_SKB_INFO]));
	if (tb[NFQA_UID]) {
		p->has_uid = true;
		p->uid = ntohl(mnl_attr_get_u32(tb[NFQA_UID]));
	}
	if (tb[NFQA_GID]) {
		p->has_gid = true;
		p->gid = ntohl(mnl_attr_get_u32(tb[NFQA_GID]));
	}
	if (tb[NFQA_HWADDR]) {
		const struct nfqnl_msg_packet_hw *hw =
			mnl_attr_get_payload(tb[NFQA_HWADDR]);
		unsigned int n = ntohs(hw->hw_addrlen);

		if (n > sizeof(p->hwaddr))
			n = sizeof(p->hwaddr);
		memcpy(p->hwaddr, hw->hw_addr, n);
		p->hwaddr_len = (uint8_t)n;
	}
	if (tb[NFQA_TIMESTAMP]) {
		struct nfqnl_msg_packet_timestamp ts;
		uint64_t sec, usec;

		/* attributes are 4-byte aligned, the struct wants 8 */
		memcpy(&ts, mnl_attr_get_payload(tb[NFQA_TIMESTAMP]), sizeof(ts));
		sec = be64toh(ts.sec);
		usec = be64toh(ts.usec);

		p->tstamp_ns = sec * 1000000000ull + usec * 1000ull;
	}
	if (tb[NFQA_PAYLOAD]) {
		unsigned char *data = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);

		p->payload = data;
		p->len = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
		p->room = (uint32_t)(slot_end - data);
		if (p->room < p->len)
			return -1;
	}
	return 1;
}

int uxt_nfq_recv(struct uxt_nfq *q, struct uxt_nfq_packet *pkts, int max,
		 int timeout_ms, struct uxt_err *err)
{
	struct pollfd pfd = {.fd = mnl_socket_get_fd(q->nl), .events = POLLIN};
	unsigned int want = q->batch;
	int n, got = 0;

	if (max <= 0)
		return 0;
	if ((unsigned int)max < want)
		want = (unsigned int)max;
	for (unsigned int i = 0; i < want; i++)
		q->msgs[i].msg_len = 0;
	/* under load there is always something to read: poll only when
	 * there is not (one system call per batch, not two) */
	n = recvmmsg(pfd.fd, q->msgs, want, MSG_DONTWAIT, NULL);
	if (n < 0 && errno == EAGAIN) {
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				return 0;
			return nfq_error(err, "poll", errno);
		}
		if (n == 0)
			return 0;
		n = recvmmsg(pfd.fd, q->msgs, want, MSG_DONTWAIT, NULL);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == ENOBUFS) {
			/* messages were lost; the ids will show which */
			q->stats.enobufs++;
			return 0;
		}
		return nfq_error(err, "receive", errno);
	}
	for (int i = 0; i < n; i++) {
		unsigned char *slot = q->slots + (size_t)i * SLOT_SIZE;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)slot;
		int len = (int)q->msgs[i].msg_len;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			struct uxt_nfq_packet *p = &pkts[got];

			if (got >= max)
				break;
			if (parse_packet(q, nlh, slot + SLOT_SIZE, p) != 1)
				continue;
			q->stats.packets++;
			if (q->last_id && p->id > q->last_id + 1) {
				p->lost_before = p->id - q->last_id - 1;
				q->stats.lost += p->lost_before;
			} else if (!q->last_id && p->id > 1) {
				/* a queue that had traffic before we listened,
				 * or messages read while binding */
				p->lost_before = p->id - 1;
			}
			if (p->id > q->last_id)
				q->last_id = p->id;
			got++;
		}
	}
	return got;
}

/* Verdicts */

static int send_buffer(struct uxt_nfq *q, struct uxt_err *err);

static int make_room(struct uxt_nfq *q, size_t need, struct uxt_err *err)
{
	if (need > SEND_BUF_SIZE)
		return nfq_error(err, "verdict", EMSGSIZE);
	if (q->sendlen + need > SEND_BUF_SIZE)
		return send_buffer(q, err);
	return 0;
}

/* One verdict message into the buffer: for id alone, or with batch for
 * every queued id up to id. */
static int put_verdict(struct uxt_nfq *q, bool batch, uint32_t id,
		       uint32_t verdict, bool set_mark, uint32_t mark,
		       const void *payload, uint32_t len, struct uxt_err *err)
{
	struct nlmsghdr *nlh;
	struct nfqnl_msg_verdict_hdr vh;
	size_t need = MNL_ALIGN(sizeof(struct nlmsghdr)) +
		      MNL_ALIGN(sizeof(struct nfgenmsg)) + 64 +
		      (payload ? MNL_ALIGN(len) + MNL_ATTR_HDRLEN : 0);

	if (make_room(q, need, err))
		return -1;
	nlh = put_msg(q->sendbuf + q->sendlen,
		      batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, 0,
		      q->queue, 0);
	vh.verdict = htonl(verdict);
	vh.id = htonl(id);
	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
	if (set_mark)
		mnl_attr_put_u32(nlh, NFQA_MARK, htonl(mark));
	if (payload)
		mnl_attr_put(nlh, NFQA_PAYLOAD, len, payload);
	q->sendlen += nlh->nlmsg_len;
	return 0;
}

/*
 * The pending run into the buffer.  A run of more than one id goes as a
 * batch verdict, which settles every id up to its last still queued: those
 * are exactly the run's, since packets are answered in the order of their
 * ids and ids lost before the run's first were settled before it.
 */
static int end_run(struct uxt_nfq *q, struct uxt_err *err)
{
	uint32_t n = q->run_len;

	if (!n)
		return 0;
	q->run_len = 0;
	return put_verdict(q, n > 1, q->run_last, q->run_verdict,
			   q->run_set_mark, q->run_mark, NULL, 0, err);
}

int uxt_nfq_verdict(struct uxt_nfq *q, const struct uxt_nfq_packet *p,
		    uint32_t verdict, bool set_mark, uint32_t mark,
		    const void *payload, uint32_t len, struct uxt_err *err)
{
	if (!p->lost_before && !payload && q->run_len &&
	    p->id == q->run_last + 1 && verdict == q->run_verdict &&
	    set_mark == q->run_set_mark && (!set_mark || mark == q->run_mark)) {
		q->run_last = p->id;
		q->run_len++;
		return 0;
	}
	if (end_run(q, err))
		return -1;
	if (p->lost_before) {
		/* the lost ones, all below this id: settle them first */
		if (put_verdict(q, true, p->id - 1,
				q->fail_open ? NF_ACCEPT : NF_DROP, false, 0, NULL,
				0, err))
			return -1;
	}
	if (payload)
		return put_verdict(q, false, p->id, verdict, set_mark, mark,
				   payload, len, err);
	q->run_last = p->id;
	q->run_verdict = verdict;
	q->run_set_mark = set_mark;
	q->run_mark = mark;
	q->run_len = 1;
	return 0;
}

static int send_buffer(struct uxt_nfq *q, struct uxt_err *err)
{
	size_t len = q->sendlen;

	if (!len)
		return 0;
	q->sendlen = 0;
	for (;;) {
		if (mnl_socket_sendto(q->nl, q->sendbuf, len) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		return nfq_error(err, "send verdicts", errno);
	}
}

int uxt_nfq_flush(struct uxt_nfq *q, struct uxt_err *err)
{
	if (end_run(q, err))
		return -1;
	return send_buffer(q, err);
}
