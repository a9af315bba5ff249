/*
 * fuzz_v1_predict — libFuzzer target for v1 :predict bodies (rs_decode_v1:
 * "instances" as lists or objects, "inputs" as a list or an object, labels,
 * targets, parameters) on a 4-input, 3-class model.
 *
 * Input: the body, or a template that expands to one (0xff first; see
 * fuzz_body in fuzz_codec.h), up to the server's --max-body. A decoded
 * request must hold exactly rows x n_inputs written values and round-trip
 * bit for bit through canonical v1 and v2 bodies (fuzz_codec.h).
 */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_json_body_target(data, size, true);
}
