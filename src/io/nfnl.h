/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Netfilter netlink messages: the header every nfnetlink message starts
 * with, for the NFQUEUE transport and the nftables hooks of the daemon.
 */
#ifndef UXT_NFNL_H
#define UXT_NFNL_H

#include <linux/netlink.h>
#include <stdint.h>

/*
 * Puts at buf a netlink header of type (already combined with its
 * subsystem: SUBSYS << 8 | MSG, or a bare NFNL_MSG_BATCH_*), flags
 * besides NLM_F_REQUEST, and the nfgenmsg that follows it.  res_id is in
 * host order.
 */
struct nlmsghdr *uxt_nfnl_put(void *buf, uint16_t type, uint16_t flags,
			      uint8_t family, uint16_t res_id, uint32_t seq);

#endif
