/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TCP tracker (nf_conntrack_proto_tcp.c): the state table of
 * kernel-behaviour.md 4.2, the checks of tcp_error(), new entries
 * (tcp_new, with mid-stream pickup when nf_conntrack_tcp_loose), window
 * tracking with scaling and SACK (tcp_in_window), the special cases of
 * tcp_packet (SYN reopening TIME_WAIT/CLOSE, ignored packets and the
 * resync they allow, RST checks and ignore_invalid_rst, challenge ACKs,
 * simultaneous open), timeouts with the retransmission and unacknowledged
 * caps, ASSURED, and the RST that kills an entry without a reply.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ct_track.h"
#include "engine.h"

/* TCP flag bits (the 13th byte of the header) */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TIMESTAMP 8
#define TCP_MAX_WSCALE 14

/* What the flags make of a packet (enum tcp_bit_set) */
enum {
	TCP_SYN_SET,
	TCP_SYNACK_SET,
	TCP_FIN_SET,
	TCP_ACK_SET,
	TCP_RST_SET,
	TCP_NONE_SET,
};

enum { TCP_IGNORE_RES, TCP_INVALID_RES, TCP_ACCEPT_RES };

#define sNO UXT_TCP_NONE
#define sSS UXT_TCP_SYN_SENT
#define sSR UXT_TCP_SYN_RECV
#define sES UXT_TCP_ESTABLISHED
#define sFW UXT_TCP_FIN_WAIT
#define sCW UXT_TCP_CLOSE_WAIT
#define sLA UXT_TCP_LAST_ACK
#define sTW UXT_TCP_TIME_WAIT
#define sCL UXT_TCP_CLOSE
#define sS2 UXT_TCP_SYN_SENT2
#define sIV UXT_TCP_MAX
#define sIG UXT_TCP_IGNORE

/* tcp_conntracks[dir][class][old state] */
static const uint8_t tcp_states[2][6][UXT_TCP_MAX] = {
	{
		/*	    sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		/*syn*/	   {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		/*synack*/ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		/*fin*/	   {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/	   {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		/*rst*/	   {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	{
		/*	    sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		/*syn*/	   {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		/*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/*fin*/	   {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/	   {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		/*rst*/	   {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
};

static const char *const state_names[] = {
	"NONE",	     "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",	     "SYN_SENT2",
};

const char *uxt_ct_tcp_state_name(uint8_t state)
{
	return state < sizeof(state_names) / sizeof(state_names[0]) ?
		       state_names[state] : "UNKNOWN";
}

/* The fixed part of the header, read once. */
struct th {
	uint32_t seq, ack;
	uint16_t win;
	uint8_t flags;
	unsigned int doff;		/* header length in bytes */
};

static unsigned int conntrack_index(const struct th *th)
{
	if (th->flags & TH_RST)
		return TCP_RST_SET;
	if (th->flags & TH_SYN)
		return (th->flags & TH_ACK) ? TCP_SYNACK_SET : TCP_SYN_SET;
	if (th->flags & TH_FIN)
		return TCP_FIN_SET;
	if (th->flags & TH_ACK)
		return TCP_ACK_SET;
	return TCP_NONE_SET;
}

/* seq + length of the segment, SYN and FIN counting one each */
static uint32_t seq_plus_len(const struct ct_pkt *c, const struct th *th)
{
	return th->seq + (uint32_t)(c->pkt->len - c->dataoff - th->doff) +
	       ((th->flags & TH_SYN) ? 1 : 0) + ((th->flags & TH_FIN) ? 1 : 0);
}

#define MAXACKWINCONST 66000
static uint32_t maxackwindow(const struct uxt_ct_tcp_dir *sender)
{
	return sender->td_maxwin > MAXACKWINCONST ? sender->td_maxwin :
						    MAXACKWINCONST;
}

/* The options after the fixed header, or NULL with *len 0. */
static const uint8_t *options(const struct ct_pkt *c, const struct th *th,
			      int *len)
{
	*len = (int)th->doff - 20;
	if (*len <= 0)
		return NULL;
	return uxt_pkt_header(c->pkt, c->dataoff + 20, (uint32_t)*len);
}

/* tcp_options(): window scale and SACK-permitted */
static void tcp_options(const struct ct_pkt *c, const struct th *th,
			struct uxt_ct_tcp_dir *state)
{
	int length;
	const uint8_t *ptr = options(c, th, &length);

	if (!ptr)
		return;
	state->td_scale = 0;
	state->flags &= UXT_CT_TCP_FLAG_BE_LIBERAL;
	while (length > 0) {
		int opcode = *ptr++, opsize;

		switch (opcode) {
		case TCPOPT_EOL:
			return;
		case TCPOPT_NOP:
			length--;
			continue;
		default:
			if (length < 2)
				return;
			opsize = *ptr++;
			if (opsize < 2 || opsize > length)
				return;
			if (opcode == TCPOPT_SACK_PERM && opsize == 2) {
				state->flags |= UXT_CT_TCP_FLAG_SACK_PERM;
			} else if (opcode == TCPOPT_WINDOW && opsize == 3) {
				state->td_scale = *ptr;
				if (state->td_scale > TCP_MAX_WSCALE)
					state->td_scale = TCP_MAX_WSCALE;
				state->flags |= UXT_CT_TCP_FLAG_WINDOW_SCALE;
			}
			ptr += opsize - 2;
			length -= opsize;
		}
	}
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* tcp_sack(): the highest right edge of the SACK blocks */
static void tcp_sack(const struct ct_pkt *c, const struct th *th, uint32_t *sack)
{
	int length;
	const uint8_t *ptr = options(c, th, &length);

	if (!ptr)
		return;
	/* the fast path of a timestamp-only option */
	if (length == 12 && get_be32(ptr) == ((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) |
					      (TCPOPT_TIMESTAMP << 8) | 10))
		return;
	while (length > 0) {
		int opcode = *ptr++, opsize;

		switch (opcode) {
		case TCPOPT_EOL:
			return;
		case TCPOPT_NOP:
			length--;
			continue;
		default:
			if (length < 2)
				return;
			opsize = *ptr++;
			if (opsize < 2 || opsize > length)
				return;
			if (opcode == TCPOPT_SACK && opsize >= 2 + 8 &&
			    (opsize - 2) % 8 == 0) {
				for (int i = 0; i < opsize - 2; i += 8) {
					uint32_t tmp = get_be32(ptr + i + 4);

					if (ct_seq_after(tmp, *sack))
						*sack = tmp;
				}
				return;
			}
			ptr += opsize - 2;
			length -= opsize;
		}
	}
}

/* tcp_init_sender(): a SYN/ACK answering a SYN, or a SYN from the reply
 * direction in a simultaneous open */
static void init_sender(const struct ct_pkt *c, const struct th *th,
			struct uxt_ct_tcp_dir *sender,
			struct uxt_ct_tcp_dir *receiver, uint32_t end,
			uint32_t win, int dir)
{
	sender->td_end = sender->td_maxend = end;
	sender->td_maxwin = win == 0 ? 1 : win;
	tcp_options(c, th, sender);
	/* RFC 1323: both sides must send the window scale option */
	if (dir == UXT_CT_DIR_REPLY &&
	    !((sender->flags & UXT_CT_TCP_FLAG_WINDOW_SCALE) &&
	      (receiver->flags & UXT_CT_TCP_FLAG_WINDOW_SCALE))) {
		sender->td_scale = 0;
		receiver->td_scale = 0;
	}
}

struct invalid_log {
	const char *fmt;
	uint32_t value;
};

/* nf_tcp_store_invalid(): accepted anyway when liberal */
static int store_invalid(const struct ct_pkt *c,
			 const struct uxt_ct_tcp_dir *sender,
			 struct invalid_log *log, int ret, const char *fmt,
			 uint32_t value)
{
	if ((sender->flags & UXT_CT_TCP_FLAG_BE_LIBERAL) ||
	    ct_settings(c)->tcp_be_liberal)
		return TCP_ACCEPT_RES;
	log->fmt = fmt;
	log->value = value;
	return ret;
}

/* tcp_in_window() */
static int in_window(const struct ct_pkt *c, struct uxt_ct *ct, int dir,
		     unsigned int index, const struct th *th,
		     struct invalid_log *log)
{
	struct uxt_ct_tcp *state = &ct->proto.tcp;
	struct uxt_ct_tcp_dir *sender = &state->seen[dir];
	struct uxt_ct_tcp_dir *receiver = &state->seen[!dir];
	uint32_t seq, ack, sack, end, win, swin;
	uint16_t win_raw;
	bool in_recv_win, seq_ok;

	seq = th->seq;
	ack = sack = th->ack;
	win_raw = th->win;
	win = win_raw;
	end = seq_plus_len(c, th);
	if (receiver->flags & UXT_CT_TCP_FLAG_SACK_PERM)
		tcp_sack(c, th, &sack);
	/* no NAT sequence adjustment here (helpers are not modelled) */
	if (sender->td_maxwin == 0) {
		/* initialize the sender's data */
		if (th->flags & TH_SYN) {
			init_sender(c, th, sender, receiver, end, win, dir);
			if (!(th->flags & TH_ACK))
				/* simultaneous open */
				return TCP_ACCEPT_RES;
		} else {
			/* in the middle of a connection, its history lost */
			sender->td_end = end;
			swin = win << sender->td_scale;
			sender->td_maxwin = swin == 0 ? 1 : swin;
			sender->td_maxend = end + sender->td_maxwin;
			if (receiver->td_maxwin == 0) {
				/* no traffic the other way yet: make III
				 * and IV pass until there is */
				receiver->td_end = receiver->td_maxend = sack;
			} else if (sack == receiver->td_end + 1) {
				/* likely a reply to a keepalive */
				receiver->td_end++;
			}
		}
	} else if ((th->flags & TH_SYN) && ct_seq_after(end, sender->td_end) &&
		   (state->state == UXT_TCP_SYN_SENT ||
		    state->state == UXT_TCP_SYN_RECV)) {
		/* RFC 793: a reinitialized TCP uses higher sequence
		 * numbers; re-init this direction as for the first
		 * SYN(/ACK) */
		init_sender(c, th, sender, receiver, end, win, dir);
		if (dir == UXT_CT_DIR_REPLY && !(th->flags & TH_ACK))
			return TCP_ACCEPT_RES;
	}
	if (!(th->flags & TH_ACK)) {
		/* no ACK: pretend it was set and fine */
		ack = sack = receiver->td_end;
	} else if ((th->flags & (TH_ACK | TH_RST)) == (TH_ACK | TH_RST) &&
		   ack == 0) {
		/* broken stacks that set ACK in RST with a zero ack */
		ack = sack = receiver->td_end;
	}
	if ((th->flags & TH_RST) && seq == 0 && state->state == UXT_TCP_SYN_SENT)
		/* a RST answering a SYN */
		seq = end = sender->td_end;

	seq_ok = ct_seq_before(seq, sender->td_maxend + 1);
	if (!seq_ok) {
		uint32_t overshot = end - sender->td_maxend + 1;
		bool ack_ok;

		ack_ok = ct_seq_after(sack, receiver->td_end - maxackwindow(sender) - 1);
		in_recv_win = receiver->td_maxwin &&
			      ct_seq_after(end, sender->td_end - receiver->td_maxwin - 1);
		if (in_recv_win && ack_ok && overshot <= receiver->td_maxwin &&
		    ct_seq_before(sack, receiver->td_end + 1)) {
			/* a sender beyond the receive window: note its end so
			 * that an ACK of the data still updates the state */
			sender->td_end = end;
			sender->flags |= UXT_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
			return store_invalid(c, sender, log, TCP_IGNORE_RES,
					     "%u bytes more than expected",
					     overshot);
		}
		return store_invalid(c, sender, log, TCP_INVALID_RES,
				     "SEQ is over upper bound %u (over the window of the receiver)",
				     sender->td_maxend + 1);
	}
	if (!ct_seq_before(sack, receiver->td_end + 1))
		return store_invalid(c, sender, log, TCP_INVALID_RES,
				     "ACK is over upper bound %u (ACKed data not seen yet)",
				     receiver->td_end + 1);
	/* is the ending sequence in the receive window (if known)? */
	in_recv_win = !receiver->td_maxwin ||
		      ct_seq_after(end, sender->td_end - receiver->td_maxwin - 1);
	if (!in_recv_win)
		return store_invalid(c, sender, log, TCP_IGNORE_RES,
				     "SEQ is under lower bound %u (already ACKed data retransmitted)",
				     sender->td_end - receiver->td_maxwin - 1);
	if (!ct_seq_after(sack, receiver->td_end - maxackwindow(sender) - 1))
		return store_invalid(c, sender, log, TCP_IGNORE_RES,
				     "ignored ACK under lower bound %u (possible overly delayed)",
				     receiver->td_end - maxackwindow(sender) - 1);

	/* window scaling (RFC 1323) */
	if (!(th->flags & TH_SYN))
		win <<= sender->td_scale;
	/* the sender's data */
	swin = win + (sack - ack);
	if (sender->td_maxwin < swin)
		sender->td_maxwin = swin;
	if (ct_seq_after(end, sender->td_end)) {
		sender->td_end = end;
		sender->flags |= UXT_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
	}
	if (th->flags & TH_ACK) {
		if (!(sender->flags & UXT_CT_TCP_FLAG_MAXACK_SET)) {
			sender->td_maxack = ack;
			sender->flags |= UXT_CT_TCP_FLAG_MAXACK_SET;
		} else if (ct_seq_after(ack, sender->td_maxack)) {
			sender->td_maxack = ack;
		}
	}
	/* the receiver's */
	if (receiver->td_maxwin != 0 && ct_seq_after(end, sender->td_maxend))
		receiver->td_maxwin += end - sender->td_maxend;
	if (ct_seq_after(sack + win, receiver->td_maxend - 1)) {
		receiver->td_maxend = sack + win;
		if (win == 0)
			receiver->td_maxend++;
	}
	if (ack == receiver->td_end)
		receiver->flags &= (uint8_t)~UXT_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
	/* retransmissions */
	if (index == TCP_ACK_SET) {
		if (state->last_dir == dir && state->last_seq == seq &&
		    state->last_ack == ack && state->last_end == end &&
		    state->last_win == win_raw) {
			state->retrans++;
		} else {
			state->last_dir = (uint8_t)dir;
			state->last_seq = seq;
			state->last_ack = ack;
			state->last_end = end;
			state->last_win = win_raw;
			state->retrans = 0;
		}
	}
	return TCP_ACCEPT_RES;
}

/* nf_tcp_handle_invalid(): an out-of-window FIN or RST of an ASSURED
 * entry, after one the other way, shortens its timeout to UNACK */
static bool handle_invalid(const struct ct_pkt *c, struct uxt_ct *ct, int dir,
			   unsigned int index)
{
	struct uxt_ct_tcp *tcp = &ct->proto.tcp;
	uint64_t expires, timeout;

	if (!(ct->status & UXT_IPS_ASSURED) ||
	    (ct->status & UXT_IPS_FIXED_TIMEOUT))
		return false;
	if (index != TCP_RST_SET && index != TCP_FIN_SET)
		return false;
	if (tcp->last_dir != dir &&
	    (tcp->last_index == TCP_FIN_SET || tcp->last_index == TCP_RST_SET)) {
		expires = ct_expires_ns(c, ct);
		if (expires < 120 * CT_NSEC)
			return false;
		timeout = (uint64_t)ct_settings(c)->tcp_timeouts[UXT_TCP_UNACK] * CT_NSEC;
		if (expires > timeout) {
			ct_set_timeout(c->t, ct, ct_time_add(c->now, timeout));
			return true;
		}
	} else {
		tcp->last_index = (uint8_t)index;
		tcp->last_dir = (uint8_t)dir;
	}
	return false;
}

/* the flag combinations tcp_error() lets through (PSH, ECE, CWR aside) */
static bool valid_flags(uint8_t flags)
{
	switch (flags & (TH_FIN | TH_SYN | TH_RST | TH_ACK | TH_URG)) {
	case TH_SYN:
	case TH_SYN | TH_URG:
	case TH_SYN | TH_ACK:
	case TH_RST:
	case TH_RST | TH_ACK:
	case TH_FIN | TH_ACK:
	case TH_FIN | TH_ACK | TH_URG:
	case TH_ACK:
	case TH_ACK | TH_URG:
		return true;
	default:
		return false;
	}
}

/* tcp_error() */
static bool tcp_error(const struct ct_pkt *c, const struct th *th)
{
	unsigned int tcplen = c->pkt->len - c->dataoff;

	if (th->doff < 20 || tcplen < th->doff) {
		ct_log_invalid(c, CT_IPPROTO_TCP, "truncated packet");
		return true;
	}
	/* checksums are checked on the way in only */
	if (ct_settings(c)->checksum && c->hook == UXT_HOOK_PRE_ROUTING &&
	    ct_l4_csum_bad(c->pkt, c->dataoff, 0, CT_IPPROTO_TCP)) {
		ct_log_invalid(c, CT_IPPROTO_TCP, "bad checksum");
		return true;
	}
	if (!valid_flags(th->flags)) {
		ct_log_invalid(c, CT_IPPROTO_TCP, "invalid tcp flag combination");
		return true;
	}
	return false;
}

/* tcp_new(): the first packet of an entry */
static bool tcp_new(const struct ct_pkt *c, struct uxt_ct *ct,
		    const struct th *th)
{
	struct uxt_ct_tcp *tcp = &ct->proto.tcp;
	uint8_t new_state = tcp_states[0][conntrack_index(th)][UXT_TCP_NONE];

	if (new_state >= UXT_TCP_MAX)
		return false;
	if (new_state == UXT_TCP_SYN_SENT) {
		memset(tcp, 0, sizeof(*tcp));
		tcp->seen[0].td_end = seq_plus_len(c, th);
		tcp->seen[0].td_maxwin = th->win ? th->win : 1;
		tcp->seen[0].td_maxend = tcp->seen[0].td_end;
		tcp_options(c, th, &tcp->seen[0]);
	} else if (!ct_settings(c)->tcp_loose) {
		/* no mid-stream pickup */
		return false;
	} else {
		memset(tcp, 0, sizeof(*tcp));
		tcp->seen[0].td_end = seq_plus_len(c, th);
		tcp->seen[0].td_maxwin = th->win ? th->win : 1;
		tcp->seen[0].td_maxend = tcp->seen[0].td_end + tcp->seen[0].td_maxwin;
		/* SACK and liberal window checks, for the window scaling
		 * not seen */
		tcp->seen[0].flags = tcp->seen[1].flags =
			UXT_CT_TCP_FLAG_SACK_PERM | UXT_CT_TCP_FLAG_BE_LIBERAL;
	}
	tcp->last_index = TCP_NONE_SET;
	return true;
}

bool uxt_ct_tcp_can_early_drop(const struct uxt_ct *ct)
{
	switch (ct->proto.tcp.state) {
	case UXT_TCP_FIN_WAIT:
	case UXT_TCP_LAST_ACK:
	case UXT_TCP_TIME_WAIT:
	case UXT_TCP_CLOSE:
	case UXT_TCP_CLOSE_WAIT:
		return true;
	default:
		return false;
	}
}

/* nf_conntrack_tcp_set_closing() */
void uxt_ct_tcp_set_closing(struct uxt_ct_table *t, struct uxt_ct *ct)
{
	uint8_t old = ct->proto.tcp.state;

	ct->proto.tcp.state = UXT_TCP_CLOSE;
	if (old == UXT_TCP_CLOSE || (ct->status & UXT_IPS_FIXED_TIMEOUT))
		return;
	ct_set_timeout(t, ct, ct_time_add(uxt_ct_table_clock(t),
					  (uint64_t)uxt_ct_table_settings(t)->tcp_timeouts[UXT_TCP_CLOSE] *
						  CT_NSEC));
	ct_event_cache(ct, UXT_IPCT_PROTOINFO);
}

static bool tcp_established(const struct uxt_ct *ct)
{
	return ct->proto.tcp.state == UXT_TCP_ESTABLISHED &&
	       (ct->status & UXT_IPS_ASSURED);
}

static void log_ignored(const struct ct_pkt *c, const char *what,
			unsigned int index, int dir, uint8_t old)
{
	ct_log_invalid(c, CT_IPPROTO_TCP, "packet (index %u) in dir %d %s, state %s",
		       index, dir, what, uxt_ct_tcp_state_name(old));
}

int uxt_ct_tcp_packet(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo)
{
	const struct uxt_ct_settings *set = ct_settings(c);
	struct uxt_ct_tcp *tcp = &ct->proto.tcp;
	const uint8_t *h = uxt_pkt_header(c->pkt, c->dataoff, 20);
	struct invalid_log log = {NULL, 0};
	struct th th;
	uint8_t old_state, new_state;
	unsigned int index;
	int dir, res;
	uint32_t timeout;
	const uint32_t *timeouts = set->tcp_timeouts;

	if (!h)
		return CT_INVALID;
	th.seq = get_be32(h + 4);
	th.ack = get_be32(h + 8);
	th.doff = (unsigned int)(h[12] >> 4) * 4u;
	th.flags = h[13];
	th.win = (uint16_t)(h[14] << 8 | h[15]);
	if (tcp_error(c, &th))
		return CT_INVALID;
	if (!ct->confirmed && !tcp_new(c, ct, &th))
		return CT_INVALID;

	old_state = tcp->state;
	dir = uxt_ctinfo_dir(ctinfo);
	index = conntrack_index(&th);
	new_state = tcp_states[dir][index][old_state];

	switch (new_state) {
	case UXT_TCP_SYN_SENT:
		if (old_state < UXT_TCP_TIME_WAIT)
			break;
		/* RFC 1122: a SYN may reopen a connection from TIME_WAIT;
		 * an aborted one too: kill the entry and look up again */
		if (((tcp->seen[dir].flags | tcp->seen[!dir].flags) &
		     UXT_CT_TCP_FLAG_CLOSE_INIT) ||
		    (tcp->last_dir == dir && tcp->last_index == TCP_RST_SET)) {
			if (ct_kill(c->t, ct))
				return CT_REPEAT;
			return CT_DROP;
		}
		/* fall through */
	case UXT_TCP_IGNORE:
		/*
		 * Ignored: the entry may be out of sync, so packets that may
		 * be the real connection go through without changing it:
		 * a) SYN in ORIGINAL, b) SYN/ACK in REPLY, c) ACK in REPLY
		 * after the first SYN.
		 */
		if (index == TCP_SYNACK_SET && tcp->last_index == TCP_SYN_SET &&
		    tcp->last_dir != dir && th.ack == tcp->last_end) {
			/* b) acknowledges a SYN ignored earlier: both ends
			 * are in sync, we are not; resync from what was
			 * noted */
			struct uxt_ct_tcp_dir *ld = &tcp->seen[tcp->last_dir];

			old_state = UXT_TCP_SYN_SENT;
			new_state = UXT_TCP_SYN_RECV;
			ld->td_end = tcp->last_end;
			ld->td_maxend = tcp->last_end;
			ld->td_maxwin = tcp->last_win == 0 ? 1 : tcp->last_win;
			ld->td_scale = tcp->last_wscale;
			tcp->last_flags &= (uint8_t)~UXT_CT_TCP_EXP_CHALLENGE_ACK;
			ld->flags = tcp->last_flags;
			/* nf_ct_tcp_state_reset() */
			tcp->seen[dir].td_end = tcp->seen[dir].td_maxend = 0;
			tcp->seen[dir].td_maxwin = tcp->seen[dir].td_maxack = 0;
			tcp->seen[dir].td_scale = 0;
			tcp->seen[dir].flags &= UXT_CT_TCP_FLAG_BE_LIBERAL;
			break;
		}
		tcp->last_index = (uint8_t)index;
		tcp->last_dir = (uint8_t)dir;
		tcp->last_seq = th.seq;
		tcp->last_end = seq_plus_len(c, &th);
		tcp->last_win = th.win;
		/* a) note the SYN's options: a SYN/ACK answering it brings
		 * us in sync */
		if (index == TCP_SYN_SET && dir == UXT_CT_DIR_ORIGINAL) {
			struct uxt_ct_tcp_dir seen;

			memset(&seen, 0, sizeof(seen));
			tcp->last_flags = tcp->last_wscale = 0;
			tcp_options(c, &th, &seen);
			if (seen.flags & UXT_CT_TCP_FLAG_WINDOW_SCALE) {
				tcp->last_flags |= UXT_CT_TCP_FLAG_WINDOW_SCALE;
				tcp->last_wscale = seen.td_scale;
			}
			if (seen.flags & UXT_CT_TCP_FLAG_SACK_PERM)
				tcp->last_flags |= UXT_CT_TCP_FLAG_SACK_PERM;
			/* a challenge ACK may follow: in LAST_ACK it must
			 * not be taken for the last ACK */
			if (old_state == UXT_TCP_LAST_ACK)
				tcp->last_flags |= UXT_CT_TCP_EXP_CHALLENGE_ACK;
		}
		/* a possible challenge ACK answering a SYN */
		if (old_state == UXT_TCP_SYN_SENT && index == TCP_ACK_SET &&
		    dir == UXT_CT_DIR_REPLY)
			tcp->last_ack = th.ack;
		log_ignored(c, "ignored", index, dir, old_state);
		return CT_ACCEPT;
	case UXT_TCP_MAX:
		/* invalid (the SYN proxy's special case is not modelled) */
		log_ignored(c, "invalid", index, dir, old_state);
		return CT_INVALID;
	case UXT_TCP_TIME_WAIT:
		/* RFC 5961: a challenge ACK is not the last ACK */
		if (old_state == UXT_TCP_LAST_ACK && index == TCP_ACK_SET &&
		    tcp->last_dir != dir && tcp->last_index == TCP_SYN_SET &&
		    (tcp->last_flags & UXT_CT_TCP_EXP_CHALLENGE_ACK)) {
			tcp->last_flags &= (uint8_t)~UXT_CT_TCP_EXP_CHALLENGE_ACK;
			ct_log_invalid(c, CT_IPPROTO_TCP, "challenge-ack ignored");
			return CT_ACCEPT;
		}
		break;
	case UXT_TCP_SYN_SENT2:
		/* the table cannot follow a simultaneous open alone */
		tcp->last_flags |= UXT_CT_TCP_SIMULTANEOUS_OPEN;
		break;
	case UXT_TCP_SYN_RECV:
		if (dir == UXT_CT_DIR_REPLY && index == TCP_ACK_SET &&
		    (tcp->last_flags & UXT_CT_TCP_SIMULTANEOUS_OPEN))
			new_state = UXT_TCP_ESTABLISHED;
		break;
	case UXT_TCP_CLOSE:
		if (index != TCP_RST_SET)
			break;
		/* closing already: the tuple may be reused, skip the checks */
		if (uxt_ct_tcp_can_early_drop(ct))
			goto in_window;
		/* td_maxack may be out of date after a SYN let through */
		if ((tcp->seen[!dir].flags & UXT_CT_TCP_FLAG_MAXACK_SET) &&
		    tcp->last_index != TCP_SYN_SET) {
			uint32_t seq = th.seq;

			/* SEQ 0 before ESTABLISHED: most likely the answer to
			 * a SYN let through */
			if (seq == 0 && !tcp_established(ct))
				break;
			if (ct_seq_before(seq, tcp->seen[!dir].td_maxack) &&
			    !set->tcp_ignore_invalid_rst) {
				ct_log_invalid(c, CT_IPPROTO_TCP, "invalid rst");
				return CT_INVALID;
			}
			if (!tcp_established(ct) || seq == tcp->seen[!dir].td_maxack)
				break;
			/* the RST of a train after data */
			if (tcp->last_index == TCP_ACK_SET && tcp->last_dir == dir &&
			    seq == tcp->last_end)
				break;
			/* not the exact sequence: keep the state, a challenge
			 * ACK may follow */
			new_state = old_state;
		}
		if ((((ct->status & UXT_IPS_SEEN_REPLY) &&
		      tcp->last_index == TCP_SYN_SET && tcp->last_dir != dir) ||
		     (!(ct->status & UXT_IPS_ASSURED) &&
		      tcp->last_index == TCP_ACK_SET)) &&
		    th.ack == tcp->last_end) {
			/* a RST to a SYN or ACK let through above (a, c):
			 * the window may not know what it ACKs */
			goto in_window;
		}
		/* a reset answering a challenge ACK let through */
		if (old_state == UXT_TCP_SYN_SENT && tcp->last_index == TCP_ACK_SET &&
		    tcp->last_dir == UXT_CT_DIR_REPLY && th.seq == tcp->last_ack)
			goto in_window;
		break;
	default:
		break;
	}

	res = in_window(c, ct, dir, index, &th, &log);
	switch (res) {
	case TCP_IGNORE_RES:
		if (log.fmt)
			ct_log_invalid(c, CT_IPPROTO_TCP, log.fmt, log.value);
		return CT_ACCEPT;
	case TCP_INVALID_RES: {
		bool lowered = handle_invalid(c, ct, dir, index);

		if (log.fmt)
			ct_log_invalid(c, CT_IPPROTO_TCP, log.fmt, log.value);
		if (lowered)
			ct_log_invalid(c, CT_IPPROTO_TCP, "lowered timeout to UNACK");
		return CT_INVALID;
	}
	default:
		break;
	}
in_window:
	/* in-window packets from here on */
	tcp->last_index = (uint8_t)index;
	tcp->last_dir = (uint8_t)dir;
	tcp->state = new_state;
	if (old_state != new_state && new_state == UXT_TCP_FIN_WAIT)
		tcp->seen[dir].flags |= UXT_CT_TCP_FLAG_CLOSE_INIT;

	if (tcp->retrans >= set->tcp_max_retrans &&
	    timeouts[new_state] > timeouts[UXT_TCP_RETRANS])
		timeout = timeouts[UXT_TCP_RETRANS];
	else if (index == TCP_RST_SET)
		timeout = timeouts[UXT_TCP_CLOSE];
	else if (((tcp->seen[0].flags | tcp->seen[1].flags) &
		  UXT_CT_TCP_FLAG_DATA_UNACKNOWLEDGED) &&
		 timeouts[new_state] > timeouts[UXT_TCP_UNACK])
		timeout = timeouts[UXT_TCP_UNACK];
	else if (tcp->last_win == 0 &&
		 timeouts[new_state] > timeouts[UXT_TCP_RETRANS])
		timeout = timeouts[UXT_TCP_RETRANS];
	else
		timeout = timeouts[new_state];

	if (new_state != old_state)
		ct_event_cache(ct, UXT_IPCT_PROTOINFO);

	if (!(ct->status & UXT_IPS_SEEN_REPLY)) {
		/* a RST as the only reply: no connection, the entry goes
		 * at once */
		if (th.flags & TH_RST) {
			ct_kill_acct(c, ct, ctinfo);
			return CT_ACCEPT;
		}
		/* a retransmitted SYN does not renew the timeout */
		if (index == TCP_SYN_SET && old_state == UXT_TCP_SYN_SENT)
			return CT_ACCEPT;
		/* ESTABLISHED without a reply (picked up mid-stream): not
		 * the long timeout */
		if (new_state == UXT_TCP_ESTABLISHED &&
		    timeout > timeouts[UXT_TCP_UNACK])
			timeout = timeouts[UXT_TCP_UNACK];
	} else if (!(ct->status & UXT_IPS_ASSURED) &&
		   (old_state == UXT_TCP_SYN_RECV ||
		    old_state == UXT_TCP_ESTABLISHED) &&
		   new_state == UXT_TCP_ESTABLISHED) {
		/* a valid ACK in ESTABLISHED after SYN_RECV, or a valid
		 * answer for a picked-up connection */
		ct->status |= UXT_IPS_ASSURED;
		ct_event_cache(ct, UXT_IPCT_ASSURED);
	}
	ct_refresh_acct(c, ct, ctinfo, timeout);
	return CT_ACCEPT;
}
