# reluserve — build, test, benchmark, install.
#
#   make            build/libmlp.a, build/libmlp.so, build/reluserve
#   make run        install what is missing, build, serve models/ on :8080
#   make test       every suite, then the whole suite again under ASan+UBSan
#   make test-docker  the image, one container and the compose scale-out, end to end (CI)
#   make bench      kernel, HTTP, memory and scaling benchmarks, the Node.js peer, the targets table
#   make fuzz       libFuzzer targets (clang) in build/fuzz; scripts/run-fuzz runs them
#   make soak       SOAK_SECONDS (180) of steady load: no error, flat RSS (not in make test)
#   make SAN=1 ...  sanitizer build in build/asan
#   make NATIVE=1   add -march=native (off by default: the binary ships in a container)
#   make V=1 ...    print every compiler command in full (default: one line per file)
#   make BLAS=0     build/noblas/reluserve without OpenBLAS (what the container ships)

PREFIX  ?= /usr/local
PORT    ?= 8080
MODELS  ?= models
CC      ?= cc
PKGS     = libmicrohttpd jansson libuv openblas

# BLAS=0: libmlp and reluserve without OpenBLAS (-DMLP_NO_BLAS: every product
# in libmlp's own kernels, which the server and training use anyway; same
# answers, 36 MB less to ship). The container image ships this build; the
# tests and benchmarks use the default one.
ifeq ($(BLAS),0)
PKGS     = libmicrohttpd jansson libuv
BLASFLAGS = -DMLP_NO_BLAS
BUILD   ?= build/noblas$(if $(filter 1,$(SAN)),-asan)
endif

ifeq ($(SAN),1)
BUILD   ?= build/asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     ?= -O1
else
BUILD   ?= build
SANFLAGS =
OPT     ?= -O2
endif
ifeq ($(NATIVE),1)
OPT += -march=native
endif

# A fresh machine: install the Debian packages pkg-config cannot find before
# anything below asks pkg-config for flags (no-op when all are there).
ifeq ($(filter clean format check-format test-docker,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(info reluserve: installing missing build dependencies (scripts/install-deps))
DEPS_LOG := $(shell scripts/install-deps >&2; echo $$?)
ifneq ($(DEPS_LOG),0)
$(error scripts/install-deps failed; install the packages it lists and retry)
endif
endif
endif

# One short line per file (`CC server/http/http.c`); V=1 prints the full commands.
ifeq ($(V),1)
Q   :=
say := @:
else
Q   := @
say := @printf '%-5s %s\n'
endif

# -ffp-contract=off: no silent FMA contraction, so results are bit-identical
# across compilers and machines (our PRNG and the tests rely on that).
WARN     = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wvla
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -ffp-contract=off $(WARN) $(SANFLAGS) $(BLASFLAGS) $(CFLAGS) \
             -Ilib -Iserver -Icli -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDFLAGS += $(SANFLAGS)

LIB_SRC    = $(wildcard lib/*.c)
# The layers: cli/ (the binary's front door) -> server/ -> lib/ (libmlp).
SERVER_SRC = $(wildcard server/*.c server/http/*.c server/codec/*.c)
CLI_SRC    = $(filter-out cli/main.c,$(wildcard cli/*.c))
HEADERS    = $(wildcard lib/*.h server/*.h server/*/*.h cli/*.h)
LIB_TEST_SRC    = $(wildcard tests/unit/lib/test_*.c)
SERVER_TEST_SRC = $(wildcard tests/unit/server/test_*.c tests/unit/server/*/test_*.c)
CLI_TEST_SRC    = $(wildcard tests/unit/cli/test_*.c)
TOOL_SRC   = $(wildcard tests/tools/*.c)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC  = $(wildcard bench/*.c)
WEB_FILES  = $(wildcard web/*)

LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/web_assets.o
CLI_OBJ    = $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS      = $(LIB_TEST_SRC:tests/unit/lib/%.c=$(BUILD)/tests/lib/%) \
             $(SERVER_TEST_SRC:tests/unit/server/%.c=$(BUILD)/tests/server/%) \
             $(CLI_TEST_SRC:tests/unit/cli/%.c=$(BUILD)/tests/cli/%)
TOOLS      = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
BENCHES    = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test-deps run test test-docker unit lib-tests integration bench soak fuzz fuzz-clang install format \
        clean models check-format float-text-exhaustive
.DELETE_ON_ERROR:

all: $(BUILD)/libmlp.a $(BUILD)/libmlp.so $(BUILD)/reluserve

test-deps:
	@scripts/install-deps --test

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/web_assets.c: $(WEB_FILES) scripts/embed-web
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)scripts/embed-web $@ $(WEB_FILES)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-overlength-strings -c $< -o $@

$(BUILD)/libmlp.a: $(LIB_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/libmlp.so: $(LIB_OBJ)
	$(say) LD $@
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/reluserve: $(BUILD)/cli/main.o $(CLI_OBJ) $(SERVER_OBJ) $(BUILD)/libmlp.a
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Library tests link libmlp alone; server module tests also link the server objects.
$(BUILD)/tests/lib/%: tests/unit/lib/%.c $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The quick tour that opens lib/mlp.h, as the C it shows: test_tutorial
# compiles and runs it, so the header's first example cannot rot.
$(BUILD)/gen/mlp_tutorial.inc: lib/mlp.h
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)sed -n '1,/^ \*\//s/^ \*     //p' $< > $@

$(BUILD)/tests/lib/test_tutorial: tests/unit/lib/test_tutorial.c $(BUILD)/gen/mlp_tutorial.inc \
                                  $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.inc,$^) $(LDLIBS) -lcmocka

# This one links libmlp with the test's own counting cblas_sgemm instead of
# OpenBLAS (no -lopenblas): it proves training never reaches BLAS, and stops
# linking if libmlp starts calling a cblas_* function the stub lacks.
NO_BLAS_LDLIBS = $(shell pkg-config --libs jansson 2>/dev/null) -lm -lpthread
$(BUILD)/tests/lib/test_train_without_blas: tests/unit/lib/test_train_without_blas.c $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(NO_BLAS_LDLIBS) -lcmocka

# libmlp's allocations made to fail on demand: the test's __wrap_mlp_aligned_alloc
# stands between libmlp's other files and workspace.c's allocator.
$(BUILD)/tests/lib/test_native_pack_nomem: tests/unit/lib/test_native_pack_nomem.c $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--wrap=mlp_aligned_alloc -o $@ $^ $(LDLIBS) -lcmocka

# http.c's MHD_start_daemon made to fail on demand (the test's __wrap_ passes
# the other calls on to libmicrohttpd's): no descriptor may stay open.
$(BUILD)/tests/server/http/test_http_start: tests/unit/server/http/test_http_start.c $(SERVER_OBJ) \
                                            $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--wrap=MHD_start_daemon -o $@ $^ $(LDLIBS) -lcmocka

# The implementation mlp_format_float replaced, kept to check the new one
# against: test_float_text_ref (a sample, in make test) and the one-off
# float_text_exhaustive tool (all 2^32 floats, make float-text-exhaustive).
FLOAT_REF = tests/ref/float_text_ref.c $(wildcard tests/ref/*.h)
$(BUILD)/tests/lib/test_float_text_ref: tests/unit/lib/test_float_text_ref.c $(FLOAT_REF) \
                                        $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS) -lcmocka

# The same test on float_text.c built with its byte-by-byte stores, the path
# big-endian targets take (little-endian ones store 8 bytes at once).
TESTS += $(BUILD)/tests/lib/test_float_text_ref_bytes
$(BUILD)/tests/lib/test_float_text_ref_bytes: tests/unit/lib/test_float_text_ref.c lib/float_text.c \
                                              $(FLOAT_REF) $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) -DFLOAT_TEXT_BYTE_STORES $(LDFLAGS) -o $@ $(filter-out %.h,$^) \
	    $(LDLIBS) -lcmocka

$(BUILD)/tools/float_text_exhaustive: tests/tools/float_text_exhaustive.c $(FLOAT_REF) \
                                      $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

$(BUILD)/tests/server/%: tests/unit/server/%.c $(SERVER_OBJ) $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Offline-command tests link the cli objects on top.
$(BUILD)/tests/cli/%: tests/unit/cli/%.c $(CLI_OBJ) $(SERVER_OBJ) $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(SERVER_OBJ) $(BUILD)/libmlp.a
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libmlp.a $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

# The codec benchmark also links the server's codec and batch-runner objects.
CODEC_OBJ = $(filter $(BUILD)/server/codec/%.o $(BUILD)/server/infer.o,$(SERVER_OBJ))
$(BUILD)/bench/bench_codec: bench/bench_codec.c $(CODEC_OBJ) $(BUILD)/libmlp.a $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

# ---------------------------------------------------------------- running

# Compiles on every core unless make was given its own -j; the server then
# replaces the recipe's shell, so Ctrl-C reaches it once and it exits 0.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
run:
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS)) all
	@exec scripts/serve-example $(BUILD)/reluserve $(MODELS) $(PORT)

# Regenerates the bundled iris classifier from data/iris.csv, the wave
# regressor from data/wave.csv (scripts/gen-regression-data.py) and the 8x8
# digits classifier from data/digits.csv (a fifth of its rows held out, the
# weights of the epoch with the lowest validation loss kept); deterministic:
# tests/integration/test_models.py checks the committed files are what this makes.
MODELS_OUT ?= models
models: all
	$(BUILD)/reluserve train --data data/iris.csv --task classification \
	    --layers 16,16 --epochs 200 --seed 7 --name iris --out $(MODELS_OUT)/iris/1/model.json
	$(BUILD)/reluserve train --data data/wave.csv --task regression \
	    --layers 32,32 --epochs 300 --seed 3 --name wave --out $(MODELS_OUT)/wave/1/model.json
	$(BUILD)/reluserve train --data data/digits.csv --task classification \
	    --layers 32 --lr 0.003 --epochs 300 --seed 5 --val-split 0.2 --early-stop 20 \
	    --name digits --out $(MODELS_OUT)/digits/1/model.json

# ---------------------------------------------------------------- testing

# Everything CI checks: unit + integration, then all of it again under ASan+UBSan.
test: test-deps
	@scripts/run-tests
	@scripts/run-tests --san

# The container test (CI runs it after make test): builds the images, runs
# one container and docker/compose.yaml, removes what it started. Needs root
# (or sudo) for Docker; installs docker.io, debootstrap and docker-compose.
test-docker:
	@tests/docker/run.sh

# The pieces run-tests drives, for one build directory.
unit: $(TESTS) $(TOOLS)
lib-tests: $(filter $(BUILD)/tests/lib/%,$(TESTS))
integration: all $(TOOLS)

# All 2^32 float32 texts against the previous implementation, byte for byte,
# and every scaled product against exact arithmetic: one core, about five
# minutes. A one-off proof run for changes to lib/float_*; not in make test.
float-text-exhaustive: $(BUILD)/tools/float_text_exhaustive
	$(BUILD)/tools/float_text_exhaustive

bench: all $(BENCHES)
	@scripts/run-bench $(BUILD)

# Minutes of mixed load at about half of the measured saturation (wrk): fails
# on any errored request or on RSS that keeps growing. Not part of make test.
soak: test-deps all
	@scripts/soak $(BUILD)

# ---------------------------------------------------------------- fuzzing

# One libFuzzer binary per tests/fuzz/fuzz_*.c, linked against libmlp and the
# server objects compiled again with clang, coverage instrumentation and
# ASan+UBSan in their own folder (any make flags or SAN= leave it alone).
# tests/README.md says how to run them; scripts/run-fuzz runs all of them.
FUZZ_DIR     = build/fuzz
FUZZ_CC     ?= clang
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -fPIC -ffp-contract=off $(WARN) -O1 -g $(FUZZ_SAN) \
               -Ilib -Iserver -Icli $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJ     = $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(SERVER_SRC:%.c=$(FUZZ_DIR)/obj/%.o) \
               $(CLI_SRC:%.c=$(FUZZ_DIR)/obj/%.o) \
               $(FUZZ_DIR)/obj/gen/web_assets.o
FUZZ_TARGETS = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)

fuzz: $(FUZZ_TARGETS)

fuzz-clang:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) not found;" \
	    "run scripts/install-deps --test (clang, libclang-rt-dev)" >&2; exit 1; }

# -fsanitize=fuzzer-no-link: the library is coverage-instrumented for the
# fuzzer, but only the target links libFuzzer's main().
$(FUZZ_DIR)/obj/%.o: %.c $(HEADERS) | fuzz-clang
	@mkdir -p $(dir $@)
	$(say) CC $< '(fuzz)'
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c | fuzz-clang
	@mkdir -p $(dir $@)
	$(say) CC $< '(fuzz)'
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-overlength-strings -c $< -o $@

# An archive, so each target links only the objects it reaches.
$(FUZZ_DIR)/libreluserve.a: $(FUZZ_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_DIR)/libreluserve.a
	$(say) CCLD $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/fuzz -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_DIR)/libreluserve.a $(LDLIBS)

# ---------------------------------------------------------------- the rest

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libmlp.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libmlp.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/mlp.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/reluserve $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i $(wildcard lib/*.[ch] server/*.[ch] server/*/*.[ch] cli/*.[ch] tests/unit/*/*.c tests/unit/*/*/*.c tests/tools/*.c tests/ref/*.[ch] tests/fuzz/*.[ch] bench/*.c)

check-format:
	@scripts/check-format

clean:
	rm -rf build
