/*
 * internal — what the codec's own files share: a small JSON scanner
 * that walks the bytes in place (no tree, no NUL terminator needed), and the
 * tensor-data reader that turns JSON arrays or binary bytes into float32.
 */
#ifndef RS_CODEC_INTERNAL_H
#define RS_CODEC_INTERNAL_H

#include <string.h> /* memcmp in RS_KEY_IS, memchr in rs_json_has_nul */

#include "codec.h"

#define RS_JSON_MAX_DEPTH 64  /* nesting the scanner accepts anywhere */
#define RS_MAX_RANK       8   /* tensor dimensions */
#define RS_KEY_CAP        128 /* object keys and tensor names decoded in full */

/* ------------------------------------------------------------- scanner */

/* A cursor over JSON text [start, end). On a syntax error the first message
 * is kept in err and every later call fails. */
typedef struct {
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    bool failed;
    /* A string so far held an escaped NUL (\u0000): only then can a decoded
     * string differ from the C string before its first NUL, so only then do
     * callers that read strings as C strings need to look (rs_json_has_nul). */
    bool nul_seen;
} rs_json;

/* Whether s (len bytes, decoded by rs_json_string from j) holds a NUL. */
static inline bool rs_json_has_nul(const rs_json *j, const char *s, size_t len)
{
    return j->nul_seen && memchr(s, '\0', len) != NULL;
}

void rs_json_init(rs_json *j, const char *s, size_t len, char *err, size_t errlen);

/* Records "invalid JSON at byte N: expected <what>" (first error wins);
 * returns -1 so callers can `return rs_json_syntax(...)`. */
int rs_json_syntax(rs_json *j, const char *what);
/* Records a free-form message (first error wins); returns -1. */
int rs_json_fail(rs_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void rs_json_ws(rs_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* Next significant character, or -1 at the end of the text. */
static inline int rs_json_peek(rs_json *j)
{
    rs_json_ws(j);
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

/* "an object", "an array", "a string", "a number", "a boolean", "null" for
 * the value starting with character c (from rs_json_peek). */
const char *rs_json_kind(int c);

/*
 * Object and array iteration. Call *_begin at the opening bracket, then
 * *_next until it returns 0 (closing bracket consumed); 1 means a member or
 * element follows (for objects, its key was decoded into key, truncated to
 * keycap - 1 bytes with *key_truncated set); -1 is a syntax error.
 */
int rs_json_object_begin(rs_json *j);
int rs_json_object_next(rs_json *j, bool *first, char *key, size_t keycap, bool *key_truncated);
int rs_json_array_begin(rs_json *j);
int rs_json_array_next(rs_json *j, bool *first);

/* Skips one value of any kind, nested at most RS_JSON_MAX_DEPTH - depth. */
int rs_json_skip(rs_json *j, int depth);

/* The next value must start with ch ('{', '[' or '"'); otherwise records
 * "<path>: expected <what>, got <kind>" (path printf-formatted) and returns
 * -1. A macro around the out-of-line function, so that the check itself is
 * inline: a valid request passes a dozen of them and formats no path. */
#define rs_json_expect(j, ch, what, ...)                                                           \
    (rs_json_peek(j) == (ch) ? 0 : rs_json_expect_failed((j), (ch), (what), __VA_ARGS__))
/* What rs_json_expect calls when the value does not start with ch. */
int rs_json_expect_failed(rs_json *j, int ch, const char *what, const char *path_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether key, n bytes long (strlen(key)), is the string literal lit: by
 * length, then a compare of known size (no strcmp chain per key). */
#define RS_KEY_IS(key, n, lit)                                                                     \
    ((n) == sizeof(lit) - 1 && memcmp((key), (lit), sizeof(lit) - 1) == 0)

/* One member of an object: key (truncated to RS_KEY_CAP - 1 bytes when
 * `truncated`) with the cursor on its value. Returns 0 after consuming the
 * value, 1 to have it skipped, -1 on error. */
typedef int (*rs_member_fn)(rs_json *j, const char *key, bool truncated, void *ctx);

/* Walks the object at the cursor, calling member for each member; skipped
 * values may nest RS_JSON_MAX_DEPTH - depth deep. Returns 0 or -1. */
int rs_json_members(rs_json *j, int depth, rs_member_fn member, void *ctx);

/* A request body: one object walked with member ("request body: expected a
 * JSON object" otherwise), then nothing but whitespace. */
int rs_json_document(rs_json *j, rs_member_fn member, void *ctx);

/* Decodes a string value into out (NUL-terminated, at most cap - 1 bytes).
 * Returns 0, 1 if it was longer than that (the value is still consumed and
 * out holds its prefix), or -1 on a syntax error. */
int rs_json_string(rs_json *j, char *out, size_t cap, size_t *len);
/* Decodes a string value into a new allocation (caller frees); *out NULL and
 * -1 on error. Strings longer than maxlen are an error naming `what`. */
int rs_json_string_dup(rs_json *j, size_t maxlen, const char *what, char **out);

/* A number; *integral is true when it has no fraction or exponent part. */
int rs_json_number(rs_json *j, double *out, bool *integral);
/* rs_parse_number that also tells whether the number was written without a
 * fraction or exponent part (*integral, set when it returns > 0). */
size_t rs_number_scan(const char *s, const char *end, double *out, bool *integral);
/* true/false */
int rs_json_bool(rs_json *j, bool *out);
/* Checks that only whitespace is left. */
int rs_json_end(rs_json *j);

/* Length (2-4) of the valid UTF-8 sequence starting with byte p[0] >= 0x80
 * and ending before end, or 0 if it is not one (overlong forms, surrogates
 * and code points above U+10FFFF are invalid, as RFC 3629 says). */
int rs_utf8_sequence(const unsigned char *p, const unsigned char *end);

/* ------------------------------------------------------------ text.c */

/* Appends s (rs_text_put) or the decimal v (rs_text_int) to out at out[len],
 * as snprintf(out + len, cap - len, ...) would: cut at cap - 1 bytes,
 * NUL-terminated. Returns the new length (len when out was full already).
 * For the message paths v1 builds per row, and shapes: snprintf costs more. */
size_t rs_text_put(char *out, size_t cap, size_t len, const char *s);
size_t rs_text_int(char *out, size_t cap, size_t len, long long v);

/* The decimal digits of v (with '-' when negative) written backwards so that
 * they end just before end; returns where they start. Takes at most
 * RS_TEXT_DECIMAL_MAX bytes ("-9223372036854775808"); no NUL. */
#define RS_TEXT_DECIMAL_MAX 20
char *rs_text_decimal(char *end, long long v);
/* The same digits forwards from o: returns the end of them (the answers'
 * integers, written into room made for RS_TEXT_DECIMAL_MAX bytes). Inline
 * for the integers below 100 most of an answer's are (indexes, widths,
 * counts, rows): their digits directly, without counting them first. */
char *rs_text_decimal_counted(char *o, long long v);
static inline char *rs_text_decimal_at(char *o, long long v)
{
    if (v < 0 || v >= 100) return rs_text_decimal_counted(o, v);
    unsigned u = (unsigned)v;
    if (u >= 10) *o++ = (char)('0' + u / 10);
    *o++ = (char)('0' + u % 10);
    return o;
}

/* ---------------------------------------------------------- tensor data */

typedef enum {
    RS_DT_INVALID = 0,
    RS_DT_BOOL,
    RS_DT_UINT8,
    RS_DT_UINT16,
    RS_DT_UINT32,
    RS_DT_UINT64,
    RS_DT_INT8,
    RS_DT_INT16,
    RS_DT_INT32,
    RS_DT_INT64,
    RS_DT_FP32,
    RS_DT_FP64,
} rs_datatype;

/* "FP32" -> RS_DT_FP32; RS_DT_INVALID for anything else. */
rs_datatype rs_datatype_parse(const char *s);
const char *rs_datatype_name(rs_datatype t);
/* Bytes per element in the binary extension. */
size_t rs_datatype_size(rs_datatype t);

/* Values read from a JSON "data" array, with what the later checks against
 * shape and datatype need. v is owned (free with rs_tensor_data_free).
 * After a successful read the nesting is rectangular: every array at one
 * level has the same length, numbers sit only in the deepest arrays, and the
 * values fill the nested shape exactly (n == dims[0] * ... * dims[depth-1]). */
typedef struct {
    float *v;
    size_t n, cap;
    int depth;               /* nesting of the arrays: 1 = flat */
    int dims[RS_MAX_RANK];   /* length of the arrays at each nesting level */
    int leaf_depth;          /* level of the numbers so far (0 = none yet) */
    int max_depth;           /* deepest array so far */
    size_t pos[RS_MAX_RANK]; /* index being read at each level, for messages */
    bool saw_bool, saw_number, saw_fraction;
    size_t bool_at, number_at, fraction_at; /* flat index of the first of each */
    double fraction_value;                  /* the first fraction, as a float */
    double min, max;                        /* over numbers */
} rs_tensor_data;

void rs_tensor_data_free(rs_tensor_data *t);
/* Reads a (possibly nested) array of numbers or booleans at j into t.
 * size_hint: expected element count (0 if unknown): the buffer grows from
 * the values read, never past the hint while they are within it, so a
 * true hint gives an exact allocation and a false one costs nothing (memory
 * follows the values that exist). path names the field
 * in messages ("inputs[0].data"). Numbers that overflow float32, ragged
 * arrays and arrays nested deeper than the numbers beside them are errors. */
int rs_tensor_data_read(rs_json *j, rs_tensor_data *t, size_t size_hint, const char *path);

/* Checks that the values t read fit datatype dt (integers for integer
 * types, in range, booleans exactly for BOOL), from the facts recorded while
 * reading (t->v may have moved into a tensor). name is "input 'x'". Returns
 * 0 or -1 with a message in err. */
int rs_tensor_data_check_type(const rs_tensor_data *t, rs_datatype dt, const char *name, char *err,
                              size_t errlen);

/* Converts n little-endian elements of dt at src into floats at dst (all n
 * written, or an error). Returns 0, or -1 with a message (non-finite or
 * out-of-float32-range value) naming `name` and the index. */
int rs_binary_convert(const unsigned char *src, size_t n, rs_datatype dt, float *dst,
                      const char *name, char *err, size_t errlen);

/* ------------------------------------------------------ validated tensor */

#define RS_MAX_VALUES ((int64_t)1 << 40) /* more values than any body can carry */

/*
 * The one tensor type a decoder hands on: its values match its shape. count
 * is the product of shape (at most RS_MAX_VALUES), and v holds exactly count
 * values, every one written from the request (v is a valid allocation even
 * when count is 0). The rs_tensor_from_* constructors below are the only
 * way to make one, and rs_request_bind the only way into an rs_request.
 */
typedef struct {
    int rank;
    int64_t shape[RS_MAX_RANK];
    size_t count;
    float *v; /* owned; free with rs_tensor_free */
} rs_tensor;

void rs_tensor_free(rs_tensor *t);

/* The element count of shape, or -1 if a dimension is negative or the
 * product passes RS_MAX_VALUES (no overflow on the way). */
int64_t rs_shape_count(const int64_t *shape, int rank);
/* Writes "[2,4]" for a shape. */
void rs_shape_format(const int64_t *shape, int rank, char *out, size_t cap);

/*
 * Constructors. name names the tensor in messages ("input 'input'",
 * "instances"). Each returns 0, or a status (400; 413 for a shape beyond
 * RS_MAX_VALUES; 500 when memory runs out) with one sentence in err and t
 * zeroed (rs_tensor_free is safe either way).
 */

/* From `written` values at v (malloc'd; always taken: owned by t on success,
 * freed on failure) for shape: written must equal the shape's count. */
int rs_tensor_from_values(rs_tensor *t, const int64_t *shape, int rank, float *v, size_t written,
                          const char *name, char *err, size_t errlen);
/* From JSON values d for the declared shape: nested exactly rank deep with
 * the lengths of shape, or flat with the shape's count of values. Takes d's
 * values (d keeps only what the datatype check read). */
int rs_tensor_from_json(rs_tensor *t, rs_tensor_data *d, const int64_t *shape, int rank,
                        const char *name, char *err, size_t errlen);
/* From nbytes bytes of dt at src, of which avail are readable: nbytes must
 * be the shape's count times the size of dt, and at most avail. */
int rs_tensor_from_bytes(rs_tensor *t, const unsigned char *src, size_t avail, uint64_t nbytes,
                         rs_datatype dt, const int64_t *shape, int rank, const char *name,
                         char *err, size_t errlen);

/* ------------------------------------- what v1 and v2 share (decode.c) */

/*
 * Moves validated tensors into req, the only way its x, labels and targets
 * are set: x must be [rows, n_inputs] with rows at least 1; labels (NULL if
 * none) rows class indices of a classifier (integral, in [0, mlp_model_classes));
 * targets (NULL if none) [rows, n_outputs]. req->rows is x's first
 * dimension. labels_name names the labels in messages. Returns 0 (the
 * tensors' values now belong to req) or a status with err set (the tensors
 * keep their values).
 */
int rs_request_bind(rs_request *req, const mlp_model *m, rs_tensor *x, rs_tensor *labels,
                    const char *labels_name, rs_tensor *targets, char *err, size_t errlen);
/* At least one row, at most lim->max_rows (413). */
int rs_decode_rows(const rs_decode_limits *lim, int64_t rows, const char *name, char *err,
                   size_t errlen);
/* The answer to the decoded req within lim->max_response_bytes
 * (rs_response_bound): 0, or 413 with err naming the flag, the bound and
 * what to ask for instead. Each decoder's last check; with lim given it also
 * records req->bound (limit or none). */
int rs_decode_response_fits(const mlp_model *m, const rs_decode_limits *lim, rs_request *req,
                            char *err, size_t errlen);
/* "diagnostics" and "timeout_us" parameter values into req: 1 when key was
 * one of them (value consumed), 0 when not, -1 on error. */
int rs_decode_param(rs_json *j, const char *key, const char *path, rs_request *req);
/* A "parameters" object (path names it): "diagnostics" and "timeout_us" into
 * req (rs_decode_param), every other member to other (NULL: skipped). */
int rs_decode_parameters(rs_json *j, const char *path, rs_request *req, rs_member_fn other,
                         void *ctx);
/* An integer in [lo, hi] into *out; otherwise "<path>: expected <what>"
 * (", got <kind>" when it is not a number at all). */
int rs_decode_integer(rs_json *j, const char *path, double lo, double hi, const char *what,
                      double *out);
/* rs_decode_integer with the path printf-formatted from path_fmt, which
 * happens only when there is an error to report ("inputs[%d].shape[%d]":
 * nothing is composed for a valid value). */
int rs_decode_integer_at(rs_json *j, double lo, double hi, const char *what, double *out,
                         const char *path_fmt, ...) __attribute__((format(printf, 6, 7)));
/* true or false; otherwise "<path>: expected true or false, got <kind>". */
int rs_decode_bool(rs_json *j, const char *path, bool *out);
/* rs_decode_bool with the path printf-formatted, only for an error. */
int rs_decode_bool_at(rs_json *j, bool *out, const char *path_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* RS_CODEC_INTERNAL_H */
