/*
 * bound — how many bytes the answer to a decoded request can take at most,
 * from what the request asks alone (rows, the model's layer widths, the
 * outputs, diagnostics and encoding it named), so that --max-response-bytes
 * can refuse it before anything is computed.
 *
 * Each term below follows one piece of encode.c and counts the longest text
 * that piece can write: a float MLP_FLOAT_TEXT_MAX - 1 characters plus its
 * separator, an integer RS_TEXT_DECIMAL_MAX characters, a string 6 bytes per
 * byte (rs_buf_json_string's \u00XX) plus its quotes, and the literal keys
 * and brackets around them rounded up to the constants below.
 * tests/unit/server/codec/test_response_bound.c encodes answers whose every
 * value has the longest text and checks them against this bound, so a change
 * to encode.c that writes more fails there.
 */
#include <string.h>

#include "internal.h"

/* One float of a JSON array: its text and the comma after it. */
#define FLOAT_TEXT MLP_FLOAT_TEXT_MAX

/* The literal text around the numbers and strings, each counted once and
 * rounded up (the comments sum the longest case):
 * a tensor: ,{"name": "datatype":"BYTES","shape":[ , ] and either ,"data":[ ]}
 * or ,"parameters":{"binary_data_size": }} = 1+8+13+6+10+1+1+34+2 = 76, plus
 * 3 integers (two dimensions and the byte count) = 136; its name apart. */
#define TENSOR_FIXED 160
/* The diagnostic tensors' names ("layer_activation_grad_norm" is the longest,
 * 26 bytes), quoted; never escaped. */
#define DIAG_TENSOR_NAME 32
/* v2: {"model_name": ,"model_version": ,"id": ,"outputs":[ ]
 * ,"parameters":{"dead_fraction": ,"loss": },"diagnostics": } = 14+17+6+12+1
 * +32+8+16+1 = 107, plus 2 floats and the newline = 150; strings apart. v1:
 * {"predictions":[ ] ,"diagnostics": } and the newline = 35. */
#define RESPONSE_FIXED 256
/* The diagnostics object without its layers: {"rows": ,"dead_fraction":
 * ,"collapsed":false ,"nonfinite":false
 * ,"gradient_target":"binary_cross_entropy" ,"loss": ,"gradient_ratio":
 * ,"vanishing":false ,"exploding":false ,"layers":[ ] } = 8+17+18+18+41+8+18
 * +18+18+11+2 = 177, plus 1 integer and 3 floats = 240. */
#define DIAG_FIXED 512
/* One layer of it: ,{"index": ,"activation":" " ,"units": ,"mean_activation":
 * ,"nonfinite_units": ,"dead_fraction": ,"sparsity": ,"dead_units":[ ]
 * ,"saturated_fraction": ,"weight_grad_norm": ,"bias_grad_norm":
 * ,"activation_grad_norm": } = 10+15+1+9+19+19+17+12+15+1+22+20+18+24+1 =
 * 203, plus 3 integers and 7 floats = 329; the activation's name and the
 * dead units apart. */
#define LAYER_FIXED 512
/* ,"input_gradient":{"shape":[ , ],"data":[ ]} = 27+1+10+2, plus 2 integers;
 * ,"preactivations":[ ] = 20, and per layer ,{"shape":[ , ],"data":[ ]} =
 * 11+1+10+2 plus 2 integers. */
#define SECTION_FIXED 128

static size_t add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t mul(size_t a, size_t b)
{
    return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* A JSON string literal of s: every byte at most \u00XX, and the quotes. */
static size_t string_bound(const char *s)
{
    return s == NULL ? 2 : add(mul(strlen(s), 6), 2);
}

/* Characters of v as the encoders write it (rs_text_decimal, through
 * rs_buf_int), so the bound counts what is written. */
static size_t digits(long long v)
{
    char tmp[RS_TEXT_DECIMAL_MAX];
    return (size_t)(tmp + sizeof tmp - rs_text_decimal(tmp + sizeof tmp, v));
}

/* n values of one tensor: as JSON text, or 4 raw bytes each in the tail. */
static size_t values_bound(size_t n, bool binary)
{
    return mul(n, binary ? sizeof(float) : FLOAT_TEXT);
}

/* The classification extension's k best classes of every row: each element
 * "score:index[:label]", quoted and escaped in JSON (only the label can need
 * escapes), or a 4-byte length and the raw bytes in binary. */
static size_t classification_bound(const mlp_model *m, const rs_request *req, bool binary)
{
    size_t label = 0;
    const char *const *labels = mlp_model_labels(m);
    for (int i = 0; labels != NULL && i < mlp_model_n_outputs(m); i++) {
        size_t n = strlen(labels[i]);
        if (n > label) label = n;
    }
    size_t text = FLOAT_TEXT + 1 + digits(mlp_model_n_outputs(m)); /* score:index */
    size_t element = binary ? add(4 + text + 1, label) : add(3 + text + 1, mul(label, 6));
    return mul(mul((size_t)req->rows, (size_t)req->classification), element);
}

/* The diagnostics object at req->diag (encode.c diagnostics_write): with
 * preactivations only when z will be passed (v2). */
static size_t diagnostics_bound(const mlp_model *m, const rs_request *req, bool preactivations)
{
    size_t rows = (size_t)req->rows;
    bool full = req->diag == RS_DIAG_FULL;
    size_t n = DIAG_FIXED;
    for (int l = 0, layers = mlp_model_n_layers(m); l < layers; l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        n = add(n, LAYER_FIXED + strlen(mlp_activation_name(L->activation)));
        if (full) /* dead_units: every unit at most, each with its comma */
            n = add(n, mul((size_t)L->out, digits(L->out) + 1));
        if (full && preactivations)
            n = add(n, add(SECTION_FIXED, values_bound(mul(rows, (size_t)L->out), false)));
    }
    if (full) {
        size_t inputs = mul(rows, (size_t)mlp_model_n_inputs(m));
        n = add(n, add(SECTION_FIXED, values_bound(inputs, false))); /* input_gradient */
        if (preactivations) n = add(n, SECTION_FIXED);
    }
    return n;
}

/* The tensors of "outputs" (encode.c v2_encode): the model output, then
 * each diagnostic tensor named. */
static size_t v2_outputs_bound(const mlp_model *m, const rs_request *req)
{
    size_t rows = (size_t)req->rows, n = 0;
    if (req->outputs & RS_OUT_PRIMARY) {
        bool bin = (req->binary_outputs & RS_OUT_PRIMARY) != 0;
        n = add(TENSOR_FIXED, string_bound(mlp_model_output_name(m)));
        if (req->classification > 0)
            n = add(n, classification_bound(m, req, bin));
        else
            n = add(n, values_bound(mul(rows, (size_t)mlp_model_n_outputs(m)), bin));
    }
    /* the diagnostic tensors named (the flags from RS_OUT_INPUT_GRADIENT to
     * RS_OUT_LOSS), lowest first: a loop over the ones set */
    unsigned diagnostic = 2 * RS_OUT_LOSS - RS_OUT_INPUT_GRADIENT;
    for (unsigned named = req->outputs & diagnostic; named != 0; named &= named - 1) {
        unsigned f = named & -named;
        size_t values = f == RS_OUT_INPUT_GRADIENT ? mul(rows, (size_t)mlp_model_n_inputs(m))
                        : f == RS_OUT_DEAD_FRACTION || f == RS_OUT_LOSS
                            ? 1
                            : (size_t)mlp_model_n_layers(m);
        n = add(n, TENSOR_FIXED + DIAG_TENSOR_NAME);
        n = add(n, values_bound(values, (req->binary_outputs & f) != 0));
    }
    return n;
}

size_t rs_response_bound(const rs_model_id *mid, const mlp_model *m, const rs_request *req)
{
    if (req->rows < 0) return SIZE_MAX;
    size_t n = RESPONSE_FIXED;
    if (req->proto == RS_PROTO_V2) {
        n = add(n, string_bound(mid != NULL ? mid->name : NULL));
        n = add(n, string_bound(mid != NULL ? mid->version : NULL));
        if (req->id != NULL) n = add(n, string_bound(req->id));
        n = add(n, v2_outputs_bound(m, req));
        if (req->diag != RS_DIAG_NONE) n = add(n, diagnostics_bound(m, req, req->preactivations));
    } else {
        /* Every row: [ its floats ] and a comma. */
        size_t row = add(3, values_bound((size_t)mlp_model_n_outputs(m), false));
        n = add(n, mul((size_t)req->rows, row));
        if (req->diag != RS_DIAG_NONE) n = add(n, diagnostics_bound(m, req, false));
    }
    return n;
}

size_t rs_capacity_of_bound(size_t bound)
{
    return add(bound > RS_ERROR_BODY_MAX ? bound : RS_ERROR_BODY_MAX, 1);
}

size_t rs_response_capacity(const rs_model_id *mid, const mlp_model *m, const rs_request *req)
{
    return rs_capacity_of_bound(rs_response_bound(mid, m, req));
}
