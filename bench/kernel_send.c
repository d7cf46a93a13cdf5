/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sends datagrams into the kernel as Ethernet frames over veth, for the
 * kernel side of make bench.
 *
 *   kernel_send FRAMES CPU IF0 MAC0 IF1 MAC1 time SECONDS [rate PPS]
 *   kernel_send FRAMES CPU IF0 MAC0 IF1 MAC1 count PACKETS [rate PPS]
 *
 * FRAMES has engine_bench's format: per record one byte naming the
 * interface (0: IF0, 1: IF1), a two-byte length (big endian) and the IPv4
 * datagram.  Each datagram goes out of its interface with an AF_PACKET
 * socket, as an Ethernet frame to MAC0 or MAC1 (the peer's address, so the
 * peer receives it as PACKET_HOST) from the interface's own address, in
 * the order of the file and over and over: for at least SECONDS (whole
 * passes over FRAMES) or exactly PACKETS frames.  Consecutive frames of
 * the same interface go out in one sendmmsg() call, at most 64 at a time.
 * With a rate, no batch leaves before its time at PPS frames per second
 * (an overloaded router that livelocks shows its throughput only below
 * its limit).
 *
 * The process is pinned to CPU.  A veth hands the frame to its peer with
 * netif_rx(), and the peer's receive softirq runs when the transmit path
 * re-enables bottom halves, still inside this process's sendmmsg(): the
 * receiving namespace's whole path (ip_rcv, PREROUTING, routing, FORWARD,
 * POSTROUTING, the outgoing device) is in the time measured.  Prints:
 *
 *   PACKETS SECONDS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 1500
#define BATCH 64
#define MAX_PACKETS 1000000000ul

struct run {
	int sel;
	size_t first, count;
};

static void die(const char *what)
{
	fprintf(stderr, "kernel_send: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	return 0;
}

static void own_mac(const char *ifname, unsigned char mac[6])
{
	char path[128], text[64];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	f = fopen(path, "r");
	if (!f)
		die(path);
	if (!fgets(text, sizeof(text), f) || parse_mac(text, mac)) {
		fprintf(stderr, "kernel_send: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
}

static int open_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	int fd = socket(AF_PACKET, SOCK_RAW, 0);	/* sends only */

	if (fd < 0)
		die("socket(AF_PACKET)");
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		die(ifname);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind");
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pacing of a run with a rate: frames sent since t0. */
struct pace {
	double t0, rate;	/* rate 0: as fast as possible */
	unsigned long sent;
};

static void wait_turn(const struct pace *p)
{
	double due;

	if (p->rate <= 0)
		return;
	due = p->t0 + (double)p->sent / p->rate;
	while (now() < due)
		;
}

/* Sends frames [first, first + count) of one run. */
static void send_run(int fd, struct mmsghdr *msgs, size_t first, size_t count,
		     struct pace *pace)
{
	while (count) {
		unsigned int k = count > BATCH ? BATCH : (unsigned int)count;
		int r;

		wait_turn(pace);
		r = sendmmsg(fd, msgs + first, k, 0);

		if (r < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
				continue;
			die("sendmmsg");
		}
		first += (size_t)r;
		count -= (size_t)r;
		pace->sent += (unsigned long)r;
	}
}

int main(int argc, char **argv)
{
	unsigned char dst[2][6], src[2][6];
	int fd[2];
	FILE *f;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, r, n = 0, nruns = 0, pos = 0;
	struct iovec *iov;
	struct mmsghdr *msgs;
	struct run *runs;
	unsigned char **frames;
	unsigned long packets = 0, limit;
	bool timed;
	double t0, t1, secs = 0;
	struct pace pace = {0};
	cpu_set_t cpus;

	if ((argc != 9 && !(argc == 11 && strcmp(argv[9], "rate") == 0)) ||
	    (strcmp(argv[7], "time") && strcmp(argv[7], "count"))) {
		fputs("usage: kernel_send FRAMES CPU IF0 MAC0 IF1 MAC1 time SECONDS "
		      "[rate PPS]\n"
		      "       kernel_send FRAMES CPU IF0 MAC0 IF1 MAC1 count PACKETS "
		      "[rate PPS]\n", stderr);
		return 2;
	}
	if (argc == 11)
		pace.rate = strtod(argv[10], NULL);
	timed = strcmp(argv[7], "time") == 0;
	if (timed) {
		secs = strtod(argv[8], NULL);
		limit = MAX_PACKETS;
	} else {
		limit = strtoul(argv[8], NULL, 10);
	}
	CPU_ZERO(&cpus);
	CPU_SET(atoi(argv[2]), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity");
	if (parse_mac(argv[4], dst[0]) || parse_mac(argv[6], dst[1])) {
		fputs("kernel_send: bad MAC address\n", stderr);
		return 2;
	}
	own_mac(argv[3], src[0]);
	own_mac(argv[5], src[1]);
	fd[0] = open_socket(argv[3]);
	fd[1] = open_socket(argv[5]);

	f = fopen(argv[1], "rb");
	if (!f)
		die(argv[1]);
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			buf = realloc(buf, cap);
			if (!buf)
				die("realloc");
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
	} while (r > 0);
	fclose(f);
	for (pos = 0; pos + 3 <= len; n++)
		pos += 3 + ((size_t)buf[pos + 1] << 8 | buf[pos + 2]);
	if (n == 0 || pos != len) {
		fputs("kernel_send: bad or empty frames file\n", stderr);
		return 1;
	}
	iov = calloc(n, sizeof(*iov));
	msgs = calloc(n, sizeof(*msgs));
	runs = calloc(n, sizeof(*runs));
	frames = calloc(n, sizeof(*frames));
	if (!iov || !msgs || !runs || !frames)
		die("calloc");
	pos = 0;
	for (size_t i = 0; i < n; i++) {
		int sel = buf[pos] ? 1 : 0;
		size_t dlen = (size_t)buf[pos + 1] << 8 | buf[pos + 2];

		if (dlen > MAX_DATAGRAM) {
			fputs("kernel_send: datagram too long\n", stderr);
			return 1;
		}
		frames[i] = malloc(14 + dlen);
		if (!frames[i])
			die("malloc");
		memcpy(frames[i], dst[sel], 6);
		memcpy(frames[i] + 6, src[sel], 6);
		frames[i][12] = 0x08;
		frames[i][13] = 0x00;
		memcpy(frames[i] + 14, buf + pos + 3, dlen);
		iov[i].iov_base = frames[i];
		iov[i].iov_len = 14 + dlen;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		if (nruns && runs[nruns - 1].sel == sel) {
			runs[nruns - 1].count++;
		} else {
			runs[nruns].sel = sel;
			runs[nruns].first = i;
			runs[nruns].count = 1;
			nruns++;
		}
		pos += 3 + dlen;
	}

	t0 = now();
	pace.t0 = t0;
	for (;;) {
		for (size_t k = 0; k < nruns && packets < limit; k++) {
			size_t c = runs[k].count;

			if (c > limit - packets)
				c = limit - packets;
			send_run(fd[runs[k].sel], msgs, runs[k].first, c, &pace);
			packets += c;
		}
		t1 = now();
		if (packets >= limit || (timed && t1 - t0 >= secs))
			break;
	}
	printf("%lu %.6f\n", packets, t1 - t0);
	return 0;
}
