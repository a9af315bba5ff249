/*
 * fuzz_onnx — libFuzzer target for the ONNX subset reader (io_onnx.c and the
 * protobuf wire-format reader under it).
 *
 * Input layout: 2 bytes little-endian config length k, then k bytes of
 * config.json (k = 0: no config), then the ONNX file (k is clipped to what is
 * there), so the fuzzer mutates both documents and their interplay.
 *
 * Build and run (from the repository root):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib tests/fuzz/fuzz_onnx.c $(find lib -name '*.c') \
 *       $(pkg-config --cflags --libs jansson openblas) -lm -o build/fuzz_onnx
 *   mkdir -p build/corpus_onnx && for f in $(find tests/fixtures/onnx -name '*.onnx'); do
 *       (printf '\0\0'; cat "$f") > build/corpus_onnx/$(basename "$f"); done
 *   build/fuzz_onnx -dict=tests/fuzz/onnx.dict -max_total_time=60 build/corpus_onnx
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
    /* Each document gets its own allocation so ASan sees reads past it. */
    char *config = k ? malloc(k) : NULL;
    if (k && !config) return 0;
    if (k) memcpy(config, data, k);
    uint8_t *onnx = malloc(size - k ? size - k : 1);
    if (!onnx) {
        free(config);
        return 0;
    }
    memcpy(onnx, data + k, size - k);

    mlp_model *m, *back;
    mlp_error err;
    if (mlp_model_parse_onnx(onnx, size - k, config, k, "fuzz.onnx", &m, &err) == MLP_OK) {
        if (mlp_model_validate(m, &err) != MLP_OK) __builtin_trap();
        char *text = mlp_model_to_json(m);
        if (!text) __builtin_trap(); /* names are checked UTF-8, labels come from JSON */
        if (mlp_model_parse_json(text, strlen(text), "round-trip", &back, &err) != MLP_OK ||
            memcmp(back->params, m->params, m->n_params * sizeof *m->params) != 0)
            __builtin_trap();
        mlp_model_free(back);
        free(text);
        mlp_model_free(m);
    }
    free(onnx);
    free(config);
    return 0;
}
