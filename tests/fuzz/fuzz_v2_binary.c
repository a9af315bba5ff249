/*
 * fuzz_v2_binary — libFuzzer target for the v2 binary tensor extension: a
 * JSON header of Inference-Header-Content-Length bytes, then raw
 * little-endian tensors sized by each input's parameters.binary_data_size.
 *
 * Input: two bytes k (little-endian), then the rest. The first k mod
 * (rest + 1) bytes of the rest are the JSON header (a template when they
 * start with 0xff, see fuzz_body in fuzz_codec.h) and the bytes after them
 * the binary tail, copied as they are; the header length the decoder gets is
 * the JSON part's length, as the server takes it from the header. Bodies past
 * the server's --max-body are skipped (413). Checked as in fuzz_codec.h,
 * including the round trip through canonical JSON and binary bodies.
 */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_codec_env *env = fuzz_env();
    if (size < 2) return 0;
    size_t rest = size - 2;
    size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (rest + 1);
    const uint8_t *json_in = data + 2, *tail = data + 2 + split;
    size_t tail_len = rest - split;
    size_t json_len;
    char *json = fuzz_body(json_in, split, env->max_body, &json_len);
    if (json == NULL || json_len + tail_len > env->max_body) {
        free(json);
        return 0;
    }
    size_t len = json_len + tail_len;
    char *body = malloc(len ? len : 1); /* exactly the body: ASan sees reads past it */
    FUZZ_CHECK(body != NULL, "out of memory");
    if (json_len) memcpy(body, json, json_len);
    if (tail_len) memcpy(body + json_len, tail, tail_len);
    free(json);
    fuzz_decode_and_check(env, env->models[FUZZ_CLASSIFIER], false, body, len, json_len);
    free(body);
    return 0;
}
