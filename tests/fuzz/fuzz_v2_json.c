/*
 * fuzz_v2_json — libFuzzer target for v2 JSON request bodies
 * (rs_decode_v2 without the binary extension) on a 4-input, 3-class model.
 *
 * Input: the body, or a template that expands to one (0xff first; see
 * fuzz_body in fuzz_codec.h), up to the server's --max-body. Every decode is
 * checked against the invariants of fuzz_codec.h: a refusal is a 4xx with a
 * message, a decoded request holds exactly rows x n_inputs written values,
 * round-trips through canonical v2 JSON and binary bodies bit for bit, and
 * gets an answer from the batch runner.
 */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_json_body_target(data, size, false);
}
