/*
 * io_safetensors_save — writes a model as model.safetensors (F32 tensors
 * named like a torch.nn.Sequential state_dict) plus its config.json; the
 * format is described in io_safetensors.c and docs/model-formats.md.
 *
 * The two files are one model, but two renames are not one atomic step. So
 * both carry the same random "save_id" (in the weights' __metadata__ and in
 * config.json), and the reader refuses a pair whose ids differ: whatever
 * moment a reader (or a crash) catches, it gets the old pair, the new pair,
 * or a refusal, never new weights with an old config or the reverse. Both
 * files are first written and fsynced under unique temporary names; then
 * config.json is renamed into place, then the weights. Config first: a
 * folder scan that looks for the weights file sees no half-saved new
 * version, and between the two renames the old weights meet a config with
 * another id, which the reader refuses.
 */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The safetensors bytes of m's parameters (F32, Sequential indices 0, 2, 4,
 * ... as if a ReLU module sat between Linear layers). */
static bool build_weights(const mlp_model *m, const char *save_id, uint8_t **out, size_t *out_len)
{
    mlp_strbuf h = {0};
    mlp_strbuf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"");
    if (save_id) mlp_strbuf_printf(&h, ",\"save_id\":\"%s\"", save_id);
    mlp_strbuf_puts(&h, "}");
    size_t off = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        size_t wbytes = (size_t)ly->out * (size_t)ly->in * 4, bbytes = (size_t)ly->out * 4;
        mlp_strbuf_printf(&h,
                          ",\"%d.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],"
                          "\"data_offsets\":[%zu,%zu]}",
                          2 * l, ly->out, ly->in, off, off + wbytes);
        off += wbytes;
        mlp_strbuf_printf(&h,
                          ",\"%d.bias\":{\"dtype\":\"F32\",\"shape\":[%d],"
                          "\"data_offsets\":[%zu,%zu]}",
                          2 * l, ly->out, off, off + bbytes);
        off += bbytes;
    }
    mlp_strbuf_puts(&h, "}");
    /* Pad with spaces so the data starts 8-byte aligned, as the reference
     * writer does (lets readers map F64 tensors in place). */
    while (!h.failed && h.len % 8)
        mlp_strbuf_puts(&h, " ");
    uint8_t *buf = h.failed ? NULL : malloc(8 + h.len + off);
    if (!buf) {
        mlp_strbuf_free(&h);
        return false;
    }
    uint64_t hl = h.len;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, h.data, h.len);
    uint8_t *p = buf + 8 + h.len;
    for (size_t i = 0; i < m->n_params; i++) {
        uint32_t bits;
        memcpy(&bits, &m->params[i], 4);
        put_le32(p + 4 * i, bits); /* params are W_0 b_0 W_1 b_1 ..., the order above */
    }
    *out = buf;
    *out_len = 8 + h.len + off;
    mlp_strbuf_free(&h);
    return true;
}

static bool build_config(const mlp_model *m, const char *save_id, mlp_strbuf *b)
{
    mlp_strbuf_puts(b, "{\n  ");
    if (!mlp_io_meta_write(b, m, "  ")) return false;
    mlp_strbuf_puts(b, ",\n  \"activations\": [");
    bool any_leaky = false;
    for (int l = 0; l < m->n_layers; l++) {
        mlp_strbuf_printf(b, "%s\"%s\"", l ? ", " : "",
                          mlp_activation_name(m->layers[l].activation));
        any_leaky |= m->layers[l].activation == MLP_ACT_LEAKY_RELU;
    }
    mlp_strbuf_puts(b, "]");
    if (any_leaky) {
        mlp_strbuf_puts(b, ",\n  \"alpha\": [");
        for (int l = 0; l < m->n_layers; l++) {
            if (l) mlp_strbuf_puts(b, ", ");
            if (m->layers[l].activation == MLP_ACT_LEAKY_RELU)
                mlp_strbuf_float(b, m->layers[l].alpha);
            else
                mlp_strbuf_puts(b, "null");
        }
        mlp_strbuf_puts(b, "]");
    }
    if (save_id) mlp_strbuf_printf(b, ",\n  \"save_id\": \"%s\"", save_id);
    mlp_strbuf_puts(b, "\n}\n");
    return true;
}

/* Both files in memory, stamped with save_id (NULL: none). */
static mlp_status build_pair(const mlp_model *m, const char *save_id, const char *path,
                             const char *config_path, uint8_t **weights, size_t *weights_len,
                             char **config, size_t *config_len, mlp_error *err)
{
    *weights = NULL;
    *config = NULL;
    if (!m) return mlp_io_fail(err, path, MLP_ERR_INVALID, "model is NULL");
    mlp_error e;
    mlp_status s = mlp_model_validate(m, &e);
    if (s != MLP_OK)
        return mlp_io_fail(err, path, MLP_ERR_INVALID, "cannot save an invalid model: %s", e.msg);
    mlp_strbuf cfg = {0};
    if (!build_config(m, save_id, &cfg)) {
        mlp_strbuf_free(&cfg);
        return mlp_io_fail(err, config_path, MLP_ERR_INVALID,
                           "a name is empty, or a name or label is not valid UTF-8");
    }
    if (cfg.failed || !build_weights(m, save_id, weights, weights_len)) {
        mlp_strbuf_free(&cfg);
        return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory building the file");
    }
    *config = cfg.data;
    *config_len = cfg.len;
    return MLP_OK;
}

mlp_status mlp_io_safetensors_build(const mlp_model *m, const char *path, const char *config_path,
                                    uint8_t **weights, size_t *weights_len, char **config,
                                    size_t *config_len, mlp_error *err)
{
    return build_pair(m, NULL, path, config_path, weights, weights_len, config, config_len, err);
}

void mlp_io_pair_discard(mlp_io_pending_pair *p)
{
    mlp_io_temp_discard(p->weights_tmp);
    mlp_io_temp_discard(p->config_tmp);
    free(p->path);
    free(p->config_path);
    memset(p, 0, sizeof *p);
}

mlp_status mlp_io_pair_prepare(const mlp_model *m, const char *path, const char *config_path,
                               mlp_io_pending_pair *p, mlp_error *err)
{
    memset(p, 0, sizeof *p);
    if (!m || !path) return mlp_io_fail(err, path, MLP_ERR_INVALID, "model or path is NULL");
    p->path = strdup(path);
    p->config_path = config_path ? strdup(config_path) : mlp_io_sibling_config(path);
    if (!p->path || !p->config_path) {
        mlp_io_pair_discard(p);
        return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory");
    }
    char save_id[33];
    mlp_io_random_hex(save_id, 16);
    uint8_t *bytes;
    char *cfg;
    size_t n = 0, cfg_len = 0;
    mlp_status s = build_pair(m, save_id, p->path, p->config_path, &bytes, &n, &cfg, &cfg_len, err);
    if (s == MLP_OK) s = mlp_io_temp_write(p->path, bytes, n, &p->weights_tmp, err);
    if (s == MLP_OK) s = mlp_io_temp_write(p->config_path, cfg, cfg_len, &p->config_tmp, err);
    free(bytes);
    free(cfg);
    if (s != MLP_OK) mlp_io_pair_discard(p);
    return s;
}

mlp_status mlp_io_pair_commit_config(mlp_io_pending_pair *p, mlp_error *err)
{
    char *tmp = p->config_tmp;
    p->config_tmp = NULL;
    return mlp_io_temp_commit(tmp, p->config_path, err);
}

mlp_status mlp_io_pair_commit_weights(mlp_io_pending_pair *p, mlp_error *err)
{
    char *tmp = p->weights_tmp;
    p->weights_tmp = NULL;
    return mlp_io_temp_commit(tmp, p->path, err);
}

mlp_status mlp_model_save_safetensors(const mlp_model *m, const char *path, const char *config_path,
                                      mlp_error *err)
{
    mlp_io_pending_pair p;
    mlp_status s = mlp_io_pair_prepare(m, path, config_path, &p, err);
    if (s != MLP_OK) return s;
    s = mlp_io_pair_commit_config(&p, err);
    if (s == MLP_OK) s = mlp_io_pair_commit_weights(&p, err);
    mlp_io_pair_discard(&p);
    return s;
}
