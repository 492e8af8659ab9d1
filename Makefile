# ordo - build, test, fuzz.
#   make            release build: build/ordo
#   make test       unit + integration tests (tests/run.sh)
#   make san        the same tests under ASan + UBSan (build-san/)
#   make fuzz       libFuzzer targets (clang), short run
#   make install    build/ordo, its man page and bash completion under
#                   $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
override CFLAGS += -std=c11 -Wall -Wextra -D_GNU_SOURCE -Isrc -pthread
LDLIBS  += -ljpeg -lspng -lwebp -lwebpdemux -lgif -lexif -lsqlite3 -lzip -lcrypto \
           -lxxhash -lmicrohttpd -ljansson -lopenblas -lm -lpthread

# MPI (Open MPI): only src/dist/*_mpi.c include mpi.h, and ordo calls MPI_Init
# only under --mpi. Without mpicc those files build a stub that refuses --mpi.
MPICC      ?= mpicc
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
MPI_CFLAGS := -DORDO_NO_MPI
endif
LDLIBS     += $(MPI_LIBS)

LIB_SRC  := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

# Kernels for one instruction set live in files named *_avx512.c / *_avx2.c /
# *_vnni.c (AVX-512 VNNI) and are only called after a run-time CPU check.
$(BUILD)/%_avx512.o: override CFLAGS += -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mavx2
$(BUILD)/%_vnni.o:   override CFLAGS += -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mfma -mavx2
$(BUILD)/%_avx2.o:   override CFLAGS += -mavx2 -mfma
$(BUILD)/%_mpi.o:    override CFLAGS += $(MPI_CFLAGS)

all: $(BUILD)/ordo $(TEST_BIN)

$(BUILD)/ordo: $(CLI_OBJ) $(BUILD)/libordo.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The labeling page's files are embedded by src/server/page.c (.incbin).
$(BUILD)/src/server/page.o: $(wildcard src/server/page/*)

$(BUILD)/libordo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# -MMD: a test rebuilds when a header it includes changes (tests/pth_sample.h).
$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libordo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libordo.a $(LDFLAGS) $(LDLIBS)

# The C programs of bench/ and tools/ (benchmarks, calibration), built on
# demand by their scripts: `make build/bench/bench_net` (one rule, so every
# script links them the same way).
define link_c_program
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libordo.a $(LDFLAGS) $(LDLIBS)
endef
$(BUILD)/bench/%: bench/%.c $(BUILD)/libordo.a
	$(link_c_program)
$(BUILD)/tools/%: tools/%.c $(BUILD)/libordo.a
	$(link_c_program)

# test_dist checks the MPI build it is linked with (the stub or the real one).
$(BUILD)/tests/test_dist: override CFLAGS += $(MPI_CFLAGS)

test: all
	BUILD=$(BUILD) tests/run.sh

san:
	$(MAKE) BUILD=build-san OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" all
	BUILD=build-san ORDO_SANITIZED=1 tests/run.sh

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
fuzz: $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
build-fuzz/%: fuzz/%.c $(filter-out src/cli/%,$(wildcard src/*/*.c src/*/*.h))
	@mkdir -p build-fuzz
	clang -std=c11 -g -O1 -D_GNU_SOURCE -Isrc $(MPI_CFLAGS) -pthread -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(filter-out %_avx512.c %_avx2.c %_vnni.c,$(LIB_SRC)) $(LDLIBS) -DORDO_NO_SIMD

# Installing, like any C tool (GNU conventions: PREFIX, DESTDIR). Runs only
# what the binary needs: the weights are installed per user by
# `ordo weights install`, WordNet comes from Debian's wordnet-base.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL    ?= install

install: $(BUILD)/ordo
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 755 $(BUILD)/ordo $(DESTDIR)$(BINDIR)/ordo
	$(INSTALL) -m 644 docs/ordo.1 $(DESTDIR)$(MANDIR)/man1/ordo.1
	$(INSTALL) -m 644 completion/ordo.bash $(DESTDIR)$(BASHCOMPDIR)/ordo

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ordo $(DESTDIR)$(MANDIR)/man1/ordo.1 $(DESTDIR)$(BASHCOMPDIR)/ordo

clean:
	rm -rf build build-san build-fuzz

.PHONY: all test san fuzz clean install uninstall
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d) $(wildcard $(BUILD)/bench/*.d $(BUILD)/tools/*.d)
