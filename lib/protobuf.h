/*
 * protobuf — a bounds-checked reader for the protocol buffers wire format
 * (https://protobuf.dev/programming-guides/encoding/), enough to walk the
 * messages of an ONNX file without a schema compiler.
 *
 * A message is a run of fields, each a varint key (field number << 3 | wire
 * type) followed by its value:
 *   0 VARINT  base-128 varint, at most 10 bytes, at most 64 bits
 *   1 I64     8 bytes little-endian (fixed64, double)
 *   2 LEN     varint length, then that many bytes (strings, bytes, embedded
 *             messages, packed repeated scalars)
 *   5 I32     4 bytes little-endian (fixed32, float)
 * Wire types 3 and 4 (proto2 groups) and 6, 7 are refused. Nothing is read
 * beyond the buffer, and the reader never allocates: every string or
 * sub-message it returns points into the caller's buffer.
 */
#ifndef MLP_PROTOBUF_H
#define MLP_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sub-messages deeper than this are refused: the ONNX subset needs 7
 * (Model > Graph > ValueInfo > Type > Tensor > Shape > Dimension). */
#define MLP_PB_MAX_DEPTH 16

enum { MLP_PB_VARINT = 0, MLP_PB_I64 = 1, MLP_PB_LEN = 2, MLP_PB_I32 = 5 };

/* A window [p, end) of one message. base is the first byte of the whole
 * buffer, so errors can give file offsets. */
typedef struct {
    const uint8_t *p, *end, *base;
    int depth;
} mlp_pb_reader;

typedef struct {
    uint32_t number;     /* field number, >= 1 */
    int wire;            /* MLP_PB_VARINT, _I64, _LEN or _I32 */
    uint64_t value;      /* VARINT, I64 and I32 payloads (I32 in the low 32 bits) */
    const uint8_t *data; /* LEN payload (borrowed), len bytes */
    size_t len;
} mlp_pb_field;

typedef enum {
    MLP_PB_OK = 0,
    MLP_PB_END,           /* no more fields: not an error */
    MLP_PB_ERR_VARINT,    /* a varint runs past 10 bytes, 64 bits or the buffer */
    MLP_PB_ERR_TRUNCATED, /* a value or length runs past the end of its message */
    MLP_PB_ERR_WIRE,      /* wire type 3, 4, 6 or 7 */
    MLP_PB_ERR_FIELD,     /* field number 0 */
    MLP_PB_ERR_DEPTH,     /* sub-messages nested deeper than MLP_PB_MAX_DEPTH */
} mlp_pb_status;

/* One sentence for a status ("varint longer than 10 bytes or 64 bits", ...). */
const char *mlp_pb_status_str(mlp_pb_status s);

/* A reader over the whole buffer data[0 .. len), depth 0. */
mlp_pb_reader mlp_pb_reader_init(const uint8_t *data, size_t len);

/* Reads the next field into *f. MLP_PB_END at the end of the message; on an
 * error the reader stays at the offending field (mlp_pb_offset says where). */
mlp_pb_status mlp_pb_next(mlp_pb_reader *r, mlp_pb_field *f);

/* A reader over the LEN field f as an embedded message one level below r;
 * MLP_PB_ERR_DEPTH when that would exceed MLP_PB_MAX_DEPTH. */
mlp_pb_status mlp_pb_enter(const mlp_pb_reader *r, const mlp_pb_field *f, mlp_pb_reader *sub);

/* Decodes one varint from [*p, end), advancing *p. */
mlp_pb_status mlp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* Byte offset of the reader's position in the whole buffer. */
size_t mlp_pb_offset(const mlp_pb_reader *r);

/* Little-endian loads (the wire format is little-endian on every host). */
uint32_t mlp_pb_le32(const uint8_t *p);
uint64_t mlp_pb_le64(const uint8_t *p);

#endif /* MLP_PROTOBUF_H */
