# stepd build. Plain make; every dependency through pkg-config.
#   make            build build/stepd
#   make test       build and run every test (unit + integration), summary at the end
#   make asan       same tests on an ASan+UBSan build (build-asan/)
#   make check      what CI runs: asan tests, valgrind smoke, short fuzz runs
#   make fuzz       build libFuzzer targets (clang)      make bench   run bench/*.sh
#
# Modules add their own packages in mk/<module>.mk (PKGS += ..., EXTRA_LDLIBS += ...)
# and their Debian packages in packages/<module>.apt, so they never edit this file.
#
# Two products: build/stepd (the runtime: core, store, C step loader; links only CORE_PKGS)
# and build/libstepd-ai.so (every src/ai module with its libraries), loaded on demand by
# `stepd ai ...` and by C steps that include <stepd/ai.h>. A project without AI never maps
# tesseract, ffmpeg & co. Tests and fuzz targets link everything statically (libstepd.a).

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -g
SAN     ?=
.DEFAULT_GOAL := all
CORE_PKGS := libuv libh2o jansson sqlite3 libcurl
PKGS    :=
EXTRA_CFLAGS :=
EXTRA_LDLIBS :=
include $(sort $(wildcard mk/*.mk))

ifneq (,$(findstring clang,$(CC)))
EXTRA_CFLAGS += -Wno-unknown-warning-option
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(CORE_PKGS) $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(CORE_PKGS) $(PKGS))
CORE_LIBS  := $(shell pkg-config --libs $(CORE_PKGS)) -lpthread -ldl -lm
AI_LIBS    := $(shell pkg-config --libs jansson $(PKGS)) $(EXTRA_LDLIBS) -lpthread -ldl -lm
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation \
           -fPIC $(OPT) $(SAN) -Iinclude -Isrc -Itests $(PKG_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP
LDFLAGS := $(SAN) -rdynamic
LDLIBS  := $(PKG_LIBS) $(EXTRA_LDLIBS) -lpthread -ldl -lm

CORE_SRC := $(sort $(wildcard src/core/*.c src/store/*.c src/lang/*.c src/workbench/*.c))
AI_SRC   := $(sort $(wildcard src/ai/*.c src/nn/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
AI_OBJ   := $(AI_SRC:%.c=$(BUILD)/%.o)
OBJ  := $(CORE_OBJ) $(AI_OBJ)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))

.SECONDARY:
.PHONY: all test asan check fuzz bench format lint clean install
all: $(BUILD)/stepd $(BUILD)/libstepd-ai.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libstepd.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libstepd-core.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libstepd-ai.so: $(AI_OBJ)
	$(CC) $(SAN) -shared -o $@ $^ $(AI_LIBS)

# --whole-archive: C steps are dlopen'ed and call into the step API, so every
# public symbol must be in the binary even if nothing in it calls that symbol.
$(BUILD)/stepd: $(BUILD)/src/main.o $(BUILD)/libstepd-core.a | $(BUILD)/libstepd-ai.so
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/src/main.o -Wl,--whole-archive $(BUILD)/libstepd-core.a -Wl,--no-whole-archive $(CORE_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SUPPORT_OBJ) $(BUILD)/libstepd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJ) -Wl,--whole-archive $(BUILD)/libstepd.a -Wl,--no-whole-archive $(LDLIBS) -lcmocka

test: $(BUILD)/stepd $(BUILD)/libstepd-ai.so $(TEST_BIN)
	BUILD=$(BUILD) tests/run.sh '$(T)'

ASAN_BUILD ?= build-asan
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

check:
	tests/check.sh

FUZZ_BUILD ?= build-fuzz
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	$(MAKE) CC=clang BUILD=$(FUZZ_BUILD) OPT="-O1 -g" SAN="-fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_BUILD)/libstepd.a
	@mkdir -p $(FUZZ_BUILD)/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "  FUZZ $$n"; \
	  clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc $(PKG_CFLAGS) $(EXTRA_CFLAGS) \
	    $$f -o $(FUZZ_BUILD)/fuzz/$$n -Wl,--whole-archive $(FUZZ_BUILD)/libstepd.a -Wl,--no-whole-archive $(LDLIBS) || exit 1; done

bench: $(BUILD)/stepd
	@for b in bench/*.sh; do echo "== $$b"; bash $$b || exit 1; done

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/stepd $(DESTDIR)$(PREFIX)/include/stepd/ai \
	  $(DESTDIR)$(PREFIX)/share/stepd
	install -m 755 $(BUILD)/stepd $(DESTDIR)$(PREFIX)/bin/stepd
	install -m 644 $(BUILD)/libstepd-ai.so $(DESTDIR)$(PREFIX)/lib/stepd/libstepd-ai.so
	install -m 644 include/stepd/*.h $(DESTDIR)$(PREFIX)/include/stepd/
	install -m 644 include/stepd/ai/*.h $(DESTDIR)$(PREFIX)/include/stepd/ai/
	cp -r runners $(DESTDIR)$(PREFIX)/share/stepd/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --enable=warning,performance,portability --std=c11 -Iinclude -Isrc src include

clean:
	rm -rf build build-asan build-fuzz build-*

-include $(OBJ:.o=.d) $(BUILD)/src/main.d $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
