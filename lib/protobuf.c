/*
 * protobuf — the wire-format reader declared in protobuf.h.
 */
#include "protobuf.h"

const char *mlp_pb_status_str(mlp_pb_status s)
{
    switch (s) {
    case MLP_PB_OK:
        return "ok";
    case MLP_PB_END:
        return "end of message";
    case MLP_PB_ERR_VARINT:
        return "malformed varint (longer than 10 bytes, beyond 64 bits, or cut off)";
    case MLP_PB_ERR_TRUNCATED:
        return "a field runs past the end of its message (truncated file?)";
    case MLP_PB_ERR_WIRE:
        return "unknown or unsupported wire type";
    case MLP_PB_ERR_FIELD:
        return "field number 0";
    case MLP_PB_ERR_DEPTH:
        return "messages nested too deeply";
    }
    return "unknown protobuf error";
}

mlp_pb_reader mlp_pb_reader_init(const uint8_t *data, size_t len)
{
    mlp_pb_reader r = {data, data + len, data, 0};
    if (!data) r.p = r.end = r.base = (const uint8_t *)"";
    return r;
}

size_t mlp_pb_offset(const mlp_pb_reader *r)
{
    return (size_t)(r->p - r->base);
}

uint32_t mlp_pb_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t mlp_pb_le64(const uint8_t *p)
{
    return (uint64_t)mlp_pb_le32(p) | (uint64_t)mlp_pb_le32(p + 4) << 32;
}

/*
 * Seven payload bits per byte, least significant group first, high bit set
 * on every byte but the last. Ten bytes carry 70 bits, so the tenth byte may
 * only hold the single bit 63; anything more is not a 64-bit value.
 */
mlp_pb_status mlp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (int i = 0; i < 10; i++) {
        if (q == end) return MLP_PB_ERR_VARINT;
        uint8_t b = *q++;
        if (i == 9 && b > 1) return MLP_PB_ERR_VARINT;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            *p = q;
            return MLP_PB_OK;
        }
    }
    return MLP_PB_ERR_VARINT;
}

mlp_pb_status mlp_pb_next(mlp_pb_reader *r, mlp_pb_field *f)
{
    if (r->p == r->end) return MLP_PB_END;
    const uint8_t *q = r->p;
    uint64_t key, n;
    mlp_pb_status s = mlp_pb_varint(&q, r->end, &key);
    if (s != MLP_PB_OK) return s;
    if (key >> 3 == 0) return MLP_PB_ERR_FIELD;
    if (key >> 3 > 0x1fffffff) return MLP_PB_ERR_FIELD; /* numbers are 29 bits */
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->value = 0;
    f->data = NULL;
    f->len = 0;
    size_t left;
    switch (f->wire) {
    case MLP_PB_VARINT:
        if ((s = mlp_pb_varint(&q, r->end, &f->value)) != MLP_PB_OK) return s;
        break;
    case MLP_PB_I64:
        if ((size_t)(r->end - q) < 8) return MLP_PB_ERR_TRUNCATED;
        f->value = mlp_pb_le64(q);
        q += 8;
        break;
    case MLP_PB_I32:
        if ((size_t)(r->end - q) < 4) return MLP_PB_ERR_TRUNCATED;
        f->value = mlp_pb_le32(q);
        q += 4;
        break;
    case MLP_PB_LEN:
        if ((s = mlp_pb_varint(&q, r->end, &n)) != MLP_PB_OK) return s;
        left = (size_t)(r->end - q);
        if (n > left) return MLP_PB_ERR_TRUNCATED;
        f->data = q;
        f->len = (size_t)n;
        q += n;
        break;
    default:
        return MLP_PB_ERR_WIRE;
    }
    r->p = q;
    return MLP_PB_OK;
}

mlp_pb_status mlp_pb_enter(const mlp_pb_reader *r, const mlp_pb_field *f, mlp_pb_reader *sub)
{
    if (r->depth + 1 > MLP_PB_MAX_DEPTH) return MLP_PB_ERR_DEPTH;
    sub->p = f->data ? f->data : r->p;
    sub->end = sub->p + f->len;
    sub->base = r->base;
    sub->depth = r->depth + 1;
    return MLP_PB_OK;
}
