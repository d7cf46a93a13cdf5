# uxtables — iptables in userspace.  Plain GNU make.
#
#   make            build/bin/uxt and its names (iptables, iptables-save, ...)
#   make test       every test, under AddressSanitizer and UBSan
#   make demo       the bundled example
#   make bench      speed figures beside the kernel's iptables
#   make fuzz       the libFuzzer targets (FUZZ_SECONDS per target)
#   make install    PREFIX=/usr/local DESTDIR=

.DEFAULT_GOAL := all

CC ?= cc
BUILD ?= build
ASAN_BUILD ?= build-asan
COMMA := ,
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 600

WARN := -Wall -Wextra -Werror
# NAT (src/lib/ct/nat.c, ct.h's uxt_nat_hook) takes the nat table's place
# in the engine once it exists; until then the engine runs the nat table
# itself with null bindings
NAT_DEF := $(if $(wildcard src/lib/ct/nat.c),-DUXT_HAVE_NAT)
CSTD := -std=gnu11 -D_GNU_SOURCE $(NAT_DEF)
INCLUDES := -Isrc/lib -Isrc/lib/ct -Isrc/io
LDLIBS := -lpcap -lmnl
DEPFLAGS := -MMD -MP

LIB_SRC := $(wildcard src/lib/*.c) $(wildcard src/lib/ct/*.c) $(wildcard src/lib/classify/*.c) $(wildcard src/ext/*.c) \
	   $(wildcard src/io/*.c)
CLI_SRC := $(wildcard src/cli/*.c)

NAMES := iptables iptables-save iptables-restore conntrack \
	 iptables-uxt iptables-uxt-save iptables-uxt-restore

# One build directory per flavour: release (build/) and sanitizers (build-asan/)
define flavour
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CSTD) $(2) $$(WARN) $$(INCLUDES) $$(DEPFLAGS) -c $$< -o $$@

# the engine is rebuilt when nat.c appears (NAT_DEF)
$(1)/obj/src/lib/engine.o: $(wildcard src/lib/ct/nat.c)

$(1)/libuxt.a: $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/bin/uxt: $$(patsubst %.c,$(1)/obj/%.o,$$(CLI_SRC)) $(1)/libuxt.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) $$^ -o $$@ $(3) $$(LDLIBS)
	@for n in $$(NAMES); do ln -sf uxt $(1)/bin/$$$$n; done
endef

RELEASE_CFLAGS := -O2 -g
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

$(eval $(call flavour,$(BUILD),$(RELEASE_CFLAGS),))
$(eval $(call flavour,$(ASAN_BUILD),$(ASAN_CFLAGS),-fsanitize=address$(COMMA)undefined))

.PHONY: all test test-build deps demo bench fuzz install clean

all: $(BUILD)/bin/uxt

test-build: $(BUILD)/bin/uxt $(ASAN_BUILD)/bin/uxt

deps:
	@sh scripts/deps.sh

test: deps test-build
	@python3 tests/run.py --bin $(ASAN_BUILD)/bin --release-bin $(BUILD)/bin

demo: deps $(BUILD)/bin/uxt
	@sh examples/demo.sh $(BUILD)/bin

# make bench: the engine alone (linked with libuxt) and the kernel's sender
$(BUILD)/bench/engine_bench: bench/engine_bench.c $(BUILD)/libuxt.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(RELEASE_CFLAGS) $(WARN) $(INCLUDES) $< $(BUILD)/libuxt.a -o $@ $(LDLIBS)

# connection tracking on the engine alone (bench/run.py section 7)
$(BUILD)/bench/ct_bench: bench/ct_bench.c $(BUILD)/libuxt.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(RELEASE_CFLAGS) $(WARN) $(INCLUDES) $< $(BUILD)/libuxt.a -o $@ $(LDLIBS)

$(BUILD)/bench/kernel_send: bench/kernel_send.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(RELEASE_CFLAGS) $(WARN) $< -o $@

bench: deps $(BUILD)/bin/uxt $(BUILD)/bench/engine_bench $(BUILD)/bench/kernel_send \
		$(BUILD)/bench/ct_bench
	@python3 bench/run.py --bin $(BUILD)/bin --engine-bench $(BUILD)/bench/engine_bench \
		--kernel-send $(BUILD)/bench/kernel_send --ct-bench $(BUILD)/bench/ct_bench

fuzz: deps
	@$(MAKE) --no-print-directory -f fuzz/Makefile FUZZ_SECONDS=$(FUZZ_SECONDS) run

install: $(BUILD)/bin/uxt
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/bin/uxt $(DESTDIR)$(PREFIX)/bin/uxt
	for n in iptables-uxt iptables-uxt-save iptables-uxt-restore; do \
		ln -sf uxt $(DESTDIR)$(PREFIX)/bin/$$n; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

-include $(shell find $(BUILD) $(ASAN_BUILD) -name '*.d' 2>/dev/null)
