/*
 * fuzz_onnx — the ONNX subset reader and the protobuf wire-format reader
 * under it (mlp_model_parse_onnx), with the optional config.json beside it.
 *
 * Input: config.json text, one NUL byte, then the model.onnx bytes
 * (fuzz_split). An empty config part means no config.json, as when the file
 * is absent. Each part gets an allocation of exactly its size. No cap below
 * the reader's own limits.
 *
 * Every input must give a status with a message, never a crash, leak or
 * sanitizer report; an accepted model must satisfy fuzz_check_loaded_model
 * (shapes chain, counts match, forward/backward run, JSON and safetensors
 * round trips give the same model back).
 *
 *   make fuzz && scripts/run-fuzz --smoke 60 fuzz_onnx
 */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_pair_target(data, size, mlp_model_parse_onnx, "fuzz.onnx", true);
}
