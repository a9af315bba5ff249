/*
 * fuzz_labels_targets — libFuzzer target for the "labels" and "targets"
 * inputs of v2 bodies, on a 3-class classifier, a one-output (sigmoid)
 * classifier and a 2-output regressor.
 *
 * Input: a byte choosing the model (mod 3), two bytes b1 b2 choosing the
 * rows R of the model input, then the rest of the body (a template when it
 * starts with 0xff, see fuzz_body in fuzz_codec.h). R is the server's
 * --max-rows + 1 - b1 when b2 is 0xff (the limit and one past it), 896 + b1
 * when b2 is 0xfe (around the JSON reader's first 1024-value buffer), and
 * b1 >> (b2 % 8) otherwise (b1 itself when b2 is 0): every size that matters
 * is reachable, and most inputs stay small and fast, since a random b2 mostly
 * shifts a random b1 down to a few rows (each row costs its decode, two
 * re-encodings and the batch runner's answer).
 * The body is
 *   {"inputs":[{"name":"input","shape":[R,4],"datatype":"FP32","data":[R rows]},<rest>
 * so the fuzzer spends its bytes on the labels/targets tensors (and what
 * follows: outputs such as "loss", parameters). In the two bands of large R
 * (b2 0xfe or 0xff) the input tensor comes in the binary extension instead:
 *   {"inputs":[{"name":"input","shape":[R,4],"datatype":"FP32",
 *    "parameters":{"binary_data_size":16R}},<rest>  then R rows of 4 floats
 * with the JSON part's length as the header length. The labels and targets
 * the fuzzer writes are JSON either way; parsing 65536 JSON rows of the input
 * first took 0.3 s under ASan on every execution in that band, and the input
 * tensor as JSON at the limit is fuzz_v2_json's job. Skipped past --max-body.
 * Checked as in fuzz_codec.h: labels are rows class indices in range,
 * targets rows x n_outputs written values, and the request round-trips.
 */
#include "fuzz_codec.h"

/* The text of rows [i % 7, 0.5, -1, 2] for i < n, made once; row i ends at
 * ends[i] (the comma after it excluded). */
static const char *rows_text(int n, const size_t **ends)
{
    static rs_buf text;
    static size_t *end;
    if (end == NULL) {
        end = malloc(((size_t)n + 1) * sizeof *end);
        FUZZ_CHECK(end != NULL, "out of memory");
        rs_buf_init(&text);
        for (int i = 0; i < n; i++) {
            rs_buf_printf(&text, i ? ",[%d,0.5,-1,2]" : "[%d,0.5,-1,2]", i % 7);
            end[i] = text.len;
        }
        FUZZ_CHECK(!text.failed, "out of memory");
    }
    *ends = end;
    return text.data;
}

/* The same rows as little-endian FP32 bytes, 16 per row, made once. */
static const uint8_t *rows_bytes(int n)
{
    static uint8_t *bytes;
    if (bytes == NULL) {
        bytes = malloc((size_t)n * 16);
        FUZZ_CHECK(bytes != NULL, "out of memory");
        for (int i = 0; i < n; i++) {
            const float row[4] = {(float)(i % 7), 0.5f, -1.0f, 2.0f};
            for (int j = 0; j < 4; j++) {
                uint32_t u;
                memcpy(&u, &row[j], 4);
                for (int k = 0; k < 4; k++)
                    bytes[(size_t)i * 16 + (size_t)j * 4 + (size_t)k] = (uint8_t)(u >> (8 * k));
            }
        }
    }
    return bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_codec_env *env = fuzz_env();
    if (size < 3) return 0;
    const mlp_model *m = env->models[data[0] % FUZZ_N_MODELS];
    int most = env->lim.max_rows + 1;
    int rows = data[2] == 0xff   ? most - data[1]
               : data[2] == 0xfe ? 896 + data[1]
                                 : data[1] >> (data[2] % 8);
    bool binary = data[2] >= 0xfe; /* the large bands: the input tensor as bytes */
    const size_t *ends;
    const char *text = rows_text(most, &ends);
    const uint8_t *bytes = rows_bytes(most);
    size_t rest_len;
    char *rest = fuzz_body(data + 3, size - 3, env->max_body, &rest_len);
    if (rest == NULL) return 0;

    char head[192];
    int hl = binary ? snprintf(head, sizeof head,
                               "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,4],"
                               "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":%d}},",
                               rows, 16 * rows)
                    : snprintf(head, sizeof head,
                               "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,4],"
                               "\"datatype\":\"FP32\",\"data\":[",
                               rows);
    FUZZ_CHECK(hl > 0 && (size_t)hl < sizeof head, "head");
    const char *mid = binary ? "" : "]},";
    size_t xl = binary ? 0 : rows > 0 ? ends[rows - 1] : 0;
    size_t tail = binary ? 16 * (size_t)rows : 0;
    size_t json_len = (size_t)hl + xl + strlen(mid) + rest_len;
    size_t len = json_len + tail;
    if (len <= env->max_body) {
        char *body = malloc(len); /* exactly the body: ASan sees reads past it */
        FUZZ_CHECK(body != NULL, "out of memory");
        memcpy(body, head, (size_t)hl);
        memcpy(body + hl, text, xl);
        memcpy(body + (size_t)hl + xl, mid, strlen(mid));
        if (rest_len) memcpy(body + json_len - rest_len, rest, rest_len);
        if (tail) memcpy(body + json_len, bytes, tail);
        fuzz_decode_and_check(env, m, false, body, len, binary ? json_len : 0);
        free(body);
    }
    free(rest);
    return 0;
}
