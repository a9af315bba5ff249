/*
 * fuzz_safetensors — the safetensors reader together with the config.json
 * that gives the weights their meaning (mlp_model_parse_safetensors, what
 * mlp_model_load reads model.safetensors and its config.json with).
 *
 * Input: config.json text, one NUL byte, then the model.safetensors bytes
 * (fuzz_split: JSON holds no raw NUL, so mutations stay on their side). Each
 * part gets an allocation of exactly its size. No cap below the reader's
 * own limits (MLP_MAX_*, the 100 MB header limit).
 *
 * Every input must give a status with a message, never a crash, leak or
 * sanitizer report; an accepted model must satisfy fuzz_check_loaded_model
 * (shapes chain, counts match, forward/backward run, JSON and safetensors
 * round trips give the same model back).
 *
 *   make fuzz && scripts/run-fuzz --smoke 60 fuzz_safetensors
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_pair_target(data, size, mlp_model_parse_safetensors, "fuzz.safetensors", false);
}
