/*
 * fuzz_safetensors — libFuzzer target for the safetensors + config.json reader.
 *
 * Input layout: 2 bytes little-endian config length k, then k bytes of
 * config.json, then the safetensors file (k is clipped to what is there), so
 * the fuzzer mutates both documents and their interplay.
 *
 * Build and run (from the repository root):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib tests/fuzz/fuzz_safetensors.c $(find lib -name '*.c') \
 *       $(pkg-config --cflags --libs jansson openblas) -lm -o build/fuzz_safetensors
 *   build/fuzz_safetensors -dict=tests/fuzz/model.dict -max_total_time=60 build/corpus_st
 * A seed is printf '\x<len lo>\x<len hi>' followed by config.json and
 * model.safetensors, e.g. from mlp_model_save_safetensors.
 *
 * Any input must give a status, never a crash, leak or sanitizer report; an
 * accepted model must pass mlp_model_validate and its JSON form must read back
 * with the same parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t k = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (k > size) k = size;
    /* The config text gets its own allocation so ASan sees reads past it. */
    char *config = malloc(k ? k : 1);
    if (!config) return 0;
    memcpy(config, data, k);
    uint8_t *weights = malloc(size - k ? size - k : 1);
    if (!weights) {
        free(config);
        return 0;
    }
    memcpy(weights, data + k, size - k);

    mlp_model *m, *back;
    mlp_error err;
    if (mlp_model_parse_safetensors(weights, size - k, config, k, "fuzz.safetensors", &m, &err) ==
        MLP_OK) {
        if (mlp_model_validate(m, &err) != MLP_OK) __builtin_trap();
        char *text = mlp_model_to_json(m);
        if (text) { /* NULL only for names/labels that are not UTF-8: impossible here */
            if (mlp_model_parse_json(text, strlen(text), "round-trip", &back, &err) != MLP_OK ||
                memcmp(back->params, m->params, m->n_params * sizeof *m->params) != 0)
                __builtin_trap();
            mlp_model_free(back);
            free(text);
        } else {
            __builtin_trap();
        }
        mlp_model_free(m);
    }
    free(weights);
    free(config);
    return 0;
}
