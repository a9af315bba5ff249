/*
 * codec — the wire formats of inference requests and responses: the Open
 * Inference Protocol v2 JSON (plus its binary tensor extension and the
 * classification extension) and the TensorFlow Serving style v1 predict API.
 *
 * Hot path: numbers are decoded straight into float buffers and floats are
 * written with the shortest text that reads back as the same float32.
 * Nothing here touches HTTP or threads; every function is pure and reentrant.
 */
#ifndef RS_CODEC_H
#define RS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mlp.h"

/* ------------------------------------------------------- growable buffer */

/* A byte buffer that grows by doubling. Appends that fail to allocate set
 * `failed` and are ignored afterwards, so callers check once at the end. */
typedef struct {
    char *data; /* owned; NUL-terminated whenever len < cap */
    size_t len, cap;
    /* Doubling stops here while what is needed fits (0 = no limit): a writer
     * that knows the most it will write keeps the memory held to it
     * (rs_encode_response sets rs_response_capacity). */
    size_t limit;
    bool failed;
} rs_buf;

void rs_buf_init(rs_buf *b);
void rs_buf_free(rs_buf *b);
void rs_buf_reset(rs_buf *b); /* len = 0, keeps the memory */
/* Makes room for extra more bytes (plus the NUL) so that many bytes can be
 * written at data + len directly; false (and failed set) if it cannot. May
 * reallocate b->data. */
bool rs_buf_reserve(rs_buf *b, size_t extra);
/* Room for n more bytes and the NUL after them at the end of b: where to
 * write them, or NULL when b failed or cannot grow. May reallocate b->data.
 * One check for a run of writes whose total is at most n, which the writer
 * ends with rs_buf_commit. Inline: most answers' appends fit without growing
 * (len < cap whenever data is allocated, so cap - len never wraps). */
static inline char *rs_buf_room(rs_buf *b, size_t n)
{
    if ((b->failed || n >= b->cap - b->len) && !rs_buf_reserve(b, n)) return NULL;
    return b->data + b->len;
}
/* Ends the writes into rs_buf_room's room: end is just past the last byte
 * written, at most n bytes past where the room began. */
static inline void rs_buf_commit(rs_buf *b, char *end)
{
    b->len = (size_t)(end - b->data);
    *end = '\0';
}
/* Each of these may reallocate b->data. rs_buf_append and rs_buf_puts are
 * inline: a response is dozens of small appends, most of them literals whose
 * length the compiler then knows. */
static inline void rs_buf_append(rs_buf *b, const void *data, size_t len)
{
    char *o = rs_buf_room(b, len);
    if (o == NULL) return;
    if (len > 0) memcpy(o, data, len);
    rs_buf_commit(b, o + len);
}
static inline void rs_buf_puts(rs_buf *b, const char *s)
{
    rs_buf_append(b, s, strlen(s));
}
void rs_buf_printf(rs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rs_buf_int(rs_buf *b, long long v);
/* Shortest decimal text that strtof() reads back as exactly f; NaN and
 * infinities (not JSON) are written as null. */
void rs_buf_float(rs_buf *b, float f);
/* A JSON string literal, quotes and escapes included. */
void rs_buf_json_string(rs_buf *b, const char *s);
/* Replaces, in place, each byte of s that is not part of a valid UTF-8
 * sequence with '?': a message quoting bytes from a file (jansson's "near
 * '...'" does) can then go into a jansson string, which must be valid
 * UTF-8 or is not created at all. */
void rs_utf8_scrub(char *s);
/* Hands the memory to the caller (who frees it) and re-initialises b. */
char *rs_buf_steal(rs_buf *b, size_t *len);

/* Parses one JSON number at s (not past end) into a double exactly as strtod
 * would; returns the number of characters used, or 0 if s is not a number. */
size_t rs_parse_number(const char *s, const char *end, double *out);

/* ------------------------------------------------------------- requests */

typedef enum { RS_PROTO_V2 = 0, RS_PROTO_V1 } rs_protocol;
typedef enum { RS_DIAG_NONE = 0, RS_DIAG_SUMMARY, RS_DIAG_FULL } rs_diag_level;

/* Outputs a v2 request may name in "outputs" (bit flags). */
enum {
    RS_OUT_PRIMARY = 1u << 0,                /* the model's output tensor */
    RS_OUT_INPUT_GRADIENT = 1u << 1,         /* "input_gradient" [rows, n_inputs] */
    RS_OUT_LAYER_DEAD_FRACTION = 1u << 2,    /* "layer_dead_fraction" [n_layers] */
    RS_OUT_LAYER_SPARSITY = 1u << 3,         /* "layer_sparsity" [n_layers] */
    RS_OUT_LAYER_WEIGHT_GRAD_NORM = 1u << 4, /* "layer_weight_grad_norm" [n_layers] */
    RS_OUT_LAYER_BIAS_GRAD_NORM = 1u << 5,   /* "layer_bias_grad_norm" [n_layers] */
    RS_OUT_LAYER_ACT_GRAD_NORM = 1u << 6,    /* "layer_activation_grad_norm" [n_layers] */
    RS_OUT_DEAD_FRACTION = 1u << 7,          /* "dead_fraction" [1] */
    RS_OUT_LOSS = 1u << 8,                   /* "loss" [1] */
};

/* A decoded inference request. All pointers are owned and freed by
 * rs_request_free. The decoders set rows, x, labels and targets (and the
 * counts beside them) only from tensors whose values were checked against
 * their shapes (rs_tensor in internal.h): x holds exactly
 * rows x n_inputs values, rows is the input tensor's first dimension, labels
 * rows class indices in [0, mlp_model_classes), targets rows x n_outputs
 * values. */
typedef struct rs_request {
    rs_protocol proto;
    char *id;             /* v2 "id", or NULL */
    int rows;             /* batch rows of the input tensor */
    float *x;             /* rows x n_inputs, row-major */
    int *labels;          /* rows class indices ("labels" input), or NULL */
    float *targets;       /* rows x n_outputs ("targets" input), or NULL */
    size_t x_count;       /* values in x: the input tensor's count */
    size_t labels_count;  /* values in labels (0 without) */
    size_t targets_count; /* values in targets (0 without) */
    rs_diag_level diag;
    int64_t timeout_us;      /* parameters.timeout_us; 0 = none */
    unsigned outputs;        /* RS_OUT_* requested; RS_OUT_PRIMARY when none named */
    unsigned binary_outputs; /* RS_OUT_* to return as binary data */
    int classification;      /* top-k classes for the primary output; 0 = raw tensor */
    bool preactivations;     /* v2 parameters.preactivations: Z of every layer in "full" */
    bool v1_instances;       /* v1: "instances" form (rows as a list) */
    /* rs_response_bound of this request for the model and names its decoder
     * was given (rs_decode_limits.mid), recorded once there; 0 when decoded
     * without limits (see rs_request_bound). */
    size_t bound;
} rs_request;

/* The model version an answer names (its "model_name" and "model_version"). */
typedef struct {
    const char *name;    /* model name */
    const char *version; /* model version string */
} rs_model_id;

typedef struct {
    int max_rows; /* rows per request; larger is a 413 */
    /* Bytes the answer may take (rs_response_bound of the decoded request);
     * larger is a 413 before anything is computed. 0 = no limit. */
    size_t max_response_bytes;
    rs_model_id mid; /* the names the answer will carry, for the bound */
} rs_decode_limits;

/*
 * Decode a request body for model m. json_len is the value of the
 * Inference-Header-Content-Length header (binary extension), or 0 when the
 * whole body is JSON. Returns 0, or an HTTP status (400, 413 past a limit
 * of lim; 500 only if memory runs out) with one sentence naming the field
 * and what was expected in err, e.g. "input 'input': shape [2,4] needs 8
 * values, got 7". On
 * failure req holds nothing that needs freeing (but rs_request_free is still
 * safe). body may be NULL when len is 0. v2 diagnostics default to
 * "summary", v1 to "none"; the v1 bodies accepted are listed in
 * decode_v1.c. Diagnostic tensors in a v2 response follow the model
 * output in RS_OUT_* order, whatever order "outputs" named them in.
 */
int rs_decode_v2(const mlp_model *m, const char *body, size_t len, size_t json_len,
                 const rs_decode_limits *lim, rs_request *req, char *err, size_t errlen);
int rs_decode_v1(const mlp_model *m, const char *body, size_t len, const rs_decode_limits *lim,
                 rs_request *req, char *err, size_t errlen);
void rs_request_free(rs_request *req);

/* ------------------------------------------------------------ responses */

/*
 * Encodes the response to req: outputs y (req->rows x n_outputs) and, unless
 * req->diag is NONE, the diagnostics d of exactly req's rows. With
 * req->preactivations, z[l] points at req's rows of Z_l (req->rows x units of
 * layer l) for every layer; z may be NULL otherwise. For v2 with
 * binary outputs, *json_len receives the length of the JSON part (the value
 * of Inference-Header-Content-Length); otherwise *json_len = out->len. The
 * buffer grows no further than rs_response_capacity (out->limit), the newline
 * a JSON answer ends with included. Returns 0, or 500 if the buffer could not
 * grow.
 */
int rs_encode_response(rs_buf *out, const rs_model_id *mid, const mlp_model *m,
                       const rs_request *req, const float *y, const mlp_diagnostics *d,
                       const float *const *z, size_t *json_len);

/*
 * An upper bound of the bytes of the answer to req for model m named mid:
 * what rs_encode_response writes, plus the newline a JSON answer ends with.
 * It depends only on what req asks (rows, the model's layer widths and
 * class labels, the outputs and diagnostics named, JSON or binary, the
 * names and id the answer repeats), never on the values computed: every
 * float counts its longest text (MLP_FLOAT_TEXT_MAX - 1 characters and a
 * separator; 4 bytes in the binary extension), every string 6 bytes a byte
 * (\u00XX escapes). SIZE_MAX when it does not fit size_t. O(layers), plus
 * the class labels with the classification extension.
 */
size_t rs_response_bound(const rs_model_id *mid, const mlp_model *m, const rs_request *req);

/* The longest error message rs_encode_error writes (bytes; a longer one is
 * cut), and so the longest error body: every byte escaped as \u00XX, its
 * key, quotes, braces and newline. An inference fails into the same buffer
 * its answer would have used, so a capacity holds either. */
#define RS_ERROR_TEXT_MAX 1024
#define RS_ERROR_BODY_MAX (6 * RS_ERROR_TEXT_MAX + 16)

/*
 * The most memory the answer to req holds: its bound, or an error body
 * (RS_ERROR_BODY_MAX) if larger, and the NUL after it (SIZE_MAX when that
 * does not fit). Neither rs_encode_response nor rs_encode_error grows a
 * buffer past it, so the HTTP front charges exactly this to --max-body-total
 * before the request is computed, and gives it back once the answer is sent.
 */
size_t rs_response_capacity(const rs_model_id *mid, const mlp_model *m, const rs_request *req);
/* rs_response_capacity from the answer's bound. */
size_t rs_capacity_of_bound(size_t bound);

/* rs_response_bound of req for mid and m: the value its decoder recorded
 * (the server decodes with the same model and names it answers with), else
 * computed now. Otherwise it would be worked out three times a request (the
 * limit check, the charge, the encoder's buffer limit). */
static inline size_t rs_request_bound(const rs_request *req, const rs_model_id *mid,
                                      const mlp_model *m)
{
    return req->bound ? req->bound : rs_response_bound(mid, m, req);
}

/* rs_response_capacity of req for mid and m, from rs_request_bound. */
static inline size_t rs_request_capacity(const rs_request *req, const rs_model_id *mid,
                                         const mlp_model *m)
{
    return rs_capacity_of_bound(rs_request_bound(req, mid, m));
}

/* An empty buffer for req's answer: it never grows past req's capacity (the
 * memory charged for it), whether the answer or an error is written into it
 * (a buffer without that limit would double past it). No limit for a
 * request decoded without limits, whose bound was not recorded. */
static inline void rs_buf_init_answer(rs_buf *b, const rs_request *req)
{
    rs_buf_init(b);
    b->limit = req->bound ? rs_capacity_of_bound(req->bound) : 0;
}

/* The "diagnostics" object of DESIGN.md for one request. */
void rs_encode_diagnostics(rs_buf *out, const mlp_model *m, const mlp_diagnostics *d,
                           rs_diag_level level);

/* {"error": msg} with at most RS_ERROR_TEXT_MAX bytes of msg (a longer one
 * ends in "..."): at most RS_ERROR_BODY_MAX bytes with the newline after. */
void rs_encode_error(rs_buf *out, const char *msg);

#endif /* RS_CODEC_H */
