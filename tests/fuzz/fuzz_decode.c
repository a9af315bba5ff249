/*
 * fuzz_decode — libFuzzer target for the request decoders and, when a body
 * decodes, the batch runner and encoder behind them.
 *
 *   make build/libmlp.a
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Ilib -Iserver \
 *       tests/fuzz/fuzz_decode.c server/codec_[a-z]*.c server/infer.c build/libmlp.a \
 *       -ljansson -lopenblas -lm -lpthread -o build/fuzz_decode
 *   build/fuzz_decode -max_total_time=60 -max_len=4096 CORPUS_DIR
 *
 * The first byte picks the decoder (v2 JSON, v2 with a binary tail whose
 * header length is the second byte, or v1); the rest is the body, copied to
 * an exact-size allocation so ASan catches any read past its end. Any body
 * must give 0 or a 4xx with a message; a decoded one must encode to JSON that
 * jansson parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "infer.h"

static mlp_model *fuzz_model;
static rs_infer_scratch fuzz_scratch;

static void setup(void)
{
    mlp_layer_spec spec[] = {{5, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    if (mlp_model_create(&fuzz_model, 4, spec, 2, NULL) != MLP_OK) abort();
    mlp_model_init(fuzz_model, MLP_INIT_HE_NORMAL, 1);
    const char *labels[] = {"a", "b", "c"};
    mlp_model_set_labels(fuzz_model, labels);
    if (rs_infer_scratch_init(&fuzz_scratch) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_model == NULL) setup();
    if (size < 2) return 0;
    int mode = data[0] % 3;
    size_t json_len = mode == 1 ? data[1] : 0;
    size_t len = size - 2;
    char *body = malloc(len ? len : 1);
    if (body == NULL) return 0;
    memcpy(body, data + 2, len);

    rs_request req;
    char err[256];
    err[0] = '\0';
    rs_decode_limits lim = {.max_rows = 64};
    int st = mode == 2 ? rs_decode_v1(fuzz_model, body, len, &lim, &req, err, sizeof err)
                       : rs_decode_v2(fuzz_model, body, len, json_len, &lim, &req, err, sizeof err);
    if (st != 0) {
        if ((st != 400 && st != 413) || err[0] == '\0') abort();
    } else {
        rs_infer_item it = {.req = &req};
        rs_buf_init(&it.body);
        rs_model_id mid = {"m", "1"};
        if (rs_infer_run(fuzz_model, &mid, &fuzz_scratch, &it, 1, NULL, NULL) != 0) abort();
        if (it.status == 200) {
            json_t *root = json_loadb(it.body.data, it.json_len, 0, NULL);
            if (root == NULL) {
                fprintf(stderr, "invalid JSON response: %s\n", it.body.data);
                abort();
            }
            json_decref(root);
        }
        rs_buf_free(&it.body);
        rs_request_free(&req);
    }
    free(body);
    return 0;
}
