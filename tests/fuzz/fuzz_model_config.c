/*
 * fuzz_model_config — the model-level models/<name>/config.json that says
 * how to serve a model (rs_model_config_parse, server/registry.c).
 *
 * Input: the file's bytes in an allocation of exactly their size (the
 * registry reads files up to 16 MiB; fuzz inputs stay below that).
 *
 * Every input must give 0 or -1 with a message, never a crash, leak or
 * sanitizer report. A refused file leaves the configuration untouched (the
 * registry keeps serving with the defaults it had) and its message names
 * config.json and is valid UTF-8 (it goes into the JSON repository index);
 * an accepted one holds only known keys, each once (a typo or a repeated key
 * is refused, never ignored), leaves every field in its documented range,
 * keeps the fields the file does not name, and reads back the same when
 * written out again.
 */
#include <jansson.h>

#include "fuzz_check.h"
#include "registry.h"

static bool known_key(const char *key)
{
    return !strcmp(key, "max_batch") || !strcmp(key, "batch_delay_us") ||
           !strcmp(key, "max_queue") || !strcmp(key, "monitor_window_s");
}

/* Whether an object holds a key that is not one of the four. */
static bool has_unknown_key(json_t *root)
{
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it))
        if (!known_key(json_object_iter_key(it))) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    /* The server's defaults; keys a file leaves out must keep them exactly. */
    const rs_model_config defaults = {
        .max_batch = 64, .batch_delay_us = 0, .max_queue = 1024, .monitor_window_s = 60};
    rs_model_config cfg = defaults;
    char err[512] = "";
    int rc = rs_model_config_parse(text, size, &cfg, err, sizeof err);
    /* The text as the parser must read it: JSON, each key once. */
    json_t *strict = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && err[0], "refused with rc %d and message \"%s\"", rc, err);
        FUZZ_CHECK(memcmp(&cfg, &defaults, sizeof cfg) == 0, "a refused file changed the config");
        FUZZ_CHECK(!strncmp(err, "config.json", 11), "the message does not name the file: %s", err);
        json_t *msg = json_string(err);
        FUZZ_CHECK(msg != NULL, "the message is not valid UTF-8: %s", err);
        json_decref(msg);
    } else {
        FUZZ_CHECK(strict != NULL, "an accepted file repeats a key or is not JSON");
        FUZZ_CHECK(!has_unknown_key(strict), "an accepted file holds an unknown key");
        FUZZ_CHECK(cfg.max_batch >= 1 && cfg.max_batch <= 1 << 20, "max_batch %d", cfg.max_batch);
        FUZZ_CHECK(cfg.batch_delay_us >= 0 && cfg.batch_delay_us <= 10000000, "batch_delay_us %lld",
                   (long long)cfg.batch_delay_us);
        FUZZ_CHECK(cfg.max_queue >= 1 && cfg.max_queue <= 1 << 24, "max_queue %d", cfg.max_queue);
        FUZZ_CHECK(cfg.monitor_window_s >= 1 && cfg.monitor_window_s <= 30 * 86400,
                   "monitor_window_s %d", cfg.monitor_window_s);
        json_t *root = json_loadb(text, size, 0, NULL);
        FUZZ_CHECK(root != NULL, "an accepted file is not JSON");
        FUZZ_CHECK(json_object_get(root, "max_batch") || cfg.max_batch == defaults.max_batch,
                   "max_batch changed without the key");
        FUZZ_CHECK(json_object_get(root, "batch_delay_us") ||
                       cfg.batch_delay_us == defaults.batch_delay_us,
                   "batch_delay_us changed without the key");
        FUZZ_CHECK(json_object_get(root, "max_queue") || cfg.max_queue == defaults.max_queue,
                   "max_queue changed without the key");
        FUZZ_CHECK(json_object_get(root, "monitor_window_s") ||
                       cfg.monitor_window_s == defaults.monitor_window_s,
                   "monitor_window_s changed without the key");
        json_decref(root);

        /* Written out and read again over different defaults: the same. */
        char out[256];
        snprintf(out, sizeof out,
                 "{\"max_batch\": %d, \"batch_delay_us\": %lld, \"max_queue\": %d, "
                 "\"monitor_window_s\": %d}",
                 cfg.max_batch, (long long)cfg.batch_delay_us, cfg.max_queue, cfg.monitor_window_s);
        rs_model_config back = {
            .max_batch = 7, .batch_delay_us = 7, .max_queue = 7, .monitor_window_s = 7};
        FUZZ_CHECK(rs_model_config_parse(out, strlen(out), &back, err, sizeof err) == 0,
                   "the accepted values do not read back: %s", err);
        FUZZ_CHECK(back.max_batch == cfg.max_batch && back.batch_delay_us == cfg.batch_delay_us &&
                       back.max_queue == cfg.max_queue &&
                       back.monitor_window_s == cfg.monitor_window_s,
                   "the accepted values read back differently");
    }
    /* The other way round: a JSON object with an unknown key is refused. */
    if (strict && json_is_object(strict) && has_unknown_key(strict))
        FUZZ_CHECK(rc == -1 && strstr(err, "unknown key"), "an unknown key was not refused: %s",
                   rc ? err : "accepted");
    json_decref(strict);
    free(text);
    return 0;
}
