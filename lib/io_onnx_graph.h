/*
 * io_onnx_graph — the parts of onnx.proto an MLP uses, decoded from the
 * protobuf wire format (protobuf.h) into plain structs that borrow from the
 * file buffer; io_onnx.c then matches the node chain and builds the model.
 *
 *   ModelProto      7 graph, 8 opset_import (OperatorSetIdProto: 1 domain)
 *   GraphProto      1 node*, 5 initializer*, 11 input*, 12 output*
 *   NodeProto       1 input*, 2 output*, 3 name, 4 op_type, 5 attribute*, 7 domain
 *   AttributeProto  1 name, 2 f, 3 i, 20 type (FLOAT = 1, INT = 2)
 *   TensorProto     1 dims*, 2 data_type, 4 float_data*, 5 int32_data*, 8 name,
 *                   9 raw_data, 10 double_data*; 3 segment, 13 external_data and
 *                   14 data_location = EXTERNAL are refused
 *   ValueInfoProto  1 name, 2 type > 1 tensor_type > 2 shape > 1 dim* > 1 dim_value
 * (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto). Repeated scalars
 * may be packed or not, as protobuf allows either; unknown fields are skipped.
 * Every count is bounded before anything proportional to it is allocated.
 */
#ifndef MLP_IO_ONNX_GRAPH_H
#define MLP_IO_ONNX_GRAPH_H

#include "io_internal.h"

#define ONNX_MAX_NODES   4096 /* a 64-layer MLP needs at most ~4 nodes per layer */
#define ONNX_MAX_INITS   4096
#define ONNX_MAX_VALUES  4096 /* graph inputs (older exports list initializers too) */
#define ONNX_MAX_DIMS    8
#define ONNX_MAX_NODE_IN 4
#define ONNX_MAX_ATTRS   8

enum { ONNX_FLOAT = 1, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11, ONNX_BFLOAT16 = 16 };
enum { ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2 };

/* A string or bytes field: borrowed from the file buffer, not NUL-terminated. */
typedef struct {
    const uint8_t *p;
    size_t len;
} onnx_span;

typedef struct {
    onnx_span name;
    int type; /* AttributeProto.type, 0 when absent */
    float f;
    int64_t i;
} onnx_attr;

typedef struct {
    onnx_span op, name, domain;
    int n_in, n_out; /* counts; the first ONNX_MAX_NODE_IN inputs and 1 output kept */
    onnx_span in[ONNX_MAX_NODE_IN], out;
    int n_attrs;
    onnx_attr attrs[ONNX_MAX_ATTRS];
} onnx_node;

typedef struct {
    onnx_span name;
    int data_type;
    int ndim;
    int64_t dims[ONNX_MAX_DIMS];
    bool has_raw;
    onnx_span raw;
    onnx_span msg; /* the whole TensorProto, rescanned for the typed value fields */
} onnx_tensor;

typedef struct {
    onnx_span name;
    int rank;                    /* -1 when the type or shape is not given */
    int64_t dims[ONNX_MAX_DIMS]; /* -1 for a symbolic or absent dim_value */
} onnx_value;

typedef struct {
    onnx_node *nodes;
    onnx_tensor *inits;
    onnx_value *inputs, *outputs;
    int n_nodes, n_inits, n_inputs, n_outputs;
} onnx_graph;

/* Decodes a ModelProto into g (whose arrays the caller frees with
 * mlp_onnx_graph_free, also after a failure). g borrows from data. */
mlp_status mlp_onnx_graph_parse(const uint8_t *data, size_t len, const char *origin, onnx_graph *g,
                                mlp_error *err);
void mlp_onnx_graph_free(onnx_graph *g);

/* The initializer called name, or NULL. */
const onnx_tensor *mlp_onnx_find_init(const onnx_graph *g, onnx_span name);

/* Elements of t; false when a dimension is negative or the product exceeds
 * 2^40 (far beyond any legal model). */
bool mlp_onnx_tensor_numel(const onnx_tensor *t, uint64_t *out);

/* Converts the count values of t (FLOAT, DOUBLE, FLOAT16, BFLOAT16; raw_data
 * or typed fields) to float32 in dst. With dst NULL it only checks that t
 * holds exactly count values, without allocating. Refuses non-finite values. */
mlp_status mlp_onnx_tensor_values(const onnx_tensor *t, size_t count, float *dst,
                                  const char *origin, mlp_error *err);

/* Strings of the file: equality with a C string or another span, a printable
 * copy for messages (at most 64 bytes, '?' for anything but printable ASCII),
 * well-formed UTF-8 without NUL, and a malloc'd NUL-terminated copy (caller
 * frees; NULL when out of memory). */
bool mlp_onnx_span_is(onnx_span s, const char *c);
bool mlp_onnx_span_eq(onnx_span a, onnx_span b);
const char *mlp_onnx_span_show(onnx_span s, char buf[72]);
bool mlp_onnx_span_utf8(onnx_span s);
char *mlp_onnx_span_dup(onnx_span s);

#endif /* MLP_IO_ONNX_GRAPH_H */
