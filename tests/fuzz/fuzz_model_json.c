/*
 * fuzz_model_json — the native JSON model reader (mlp_model_parse_json, what
 * mlp_model_load reads model.json with).
 *
 * Input: the file's bytes, as is, in an allocation of exactly their size
 * (the reader is given the length; the file loader's extra NUL is not
 * relied on). No cap below the loader's own limits (MLP_MAX_*).
 *
 * Every input must give a status with a message, never a crash, leak or
 * sanitizer report. An accepted model must satisfy fuzz_check_loaded_model:
 * layer shapes chain, offsets and counts match, forward/backward on zero
 * rows write exactly the outputs they promise, and it survives a JSON and a
 * safetensors round trip unchanged (save(load(x)) loads to the same model and
 * saves to the same text).
 *
 *   make fuzz && scripts/run-fuzz --smoke 60 fuzz_model_json
 *   build/fuzz/fuzz_model_json -dict=tests/fuzz/fuzz_model_json.dict \
 *       build/fuzz/corpus/fuzz_model_json tests/fuzz/corpus/fuzz_model_json
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    mlp_model *m;
    mlp_error err = {{0}};
    mlp_status s = mlp_model_parse_json(text, size, "fuzz.json", &m, &err);
    fuzz_check_parsed(s, m, &err);
    free(text);
    return 0;
}
