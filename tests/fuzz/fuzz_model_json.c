/*
 * fuzz_model_json — libFuzzer target for the native JSON model reader.
 *
 * Build and run (from the repository root):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib tests/fuzz/fuzz_model_json.c $(find lib -name '*.c') \
 *       $(pkg-config --cflags --libs jansson openblas) -lm -o build/fuzz_model_json
 *   mkdir -p build/corpus_json  # seed it with any model.json, e.g. models/iris/1/model.json
 *   build/fuzz_model_json -dict=tests/fuzz/model.dict -max_total_time=60 build/corpus_json
 *
 * Any input must give a status, never a crash, leak or sanitizer report. An
 * accepted document must also survive the writer: to_json -> parse gives
 * back the same parameters bit for bit (a failure traps).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlp_model *m, *back;
    mlp_error err;
    if (mlp_model_parse_json((const char *)data, size, "fuzz.json", &m, &err) != MLP_OK) return 0;
    if (mlp_model_validate(m, &err) != MLP_OK) __builtin_trap();
    char *text = mlp_model_to_json(m);
    if (!text) __builtin_trap();
    if (mlp_model_parse_json(text, strlen(text), "round-trip", &back, &err) != MLP_OK)
        __builtin_trap();
    if (back->n_params != m->n_params ||
        memcmp(back->params, m->params, m->n_params * sizeof *m->params) != 0)
        __builtin_trap();
    free(text);
    mlp_model_free(back);
    mlp_model_free(m);
    return 0;
}
