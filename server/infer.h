/*
 * infer — runs one batch of decoded requests for one model on the calling
 * thread (a libuv pool thread): one forward pass over all rows merged, one
 * backward over the row ranges of the requests that asked for diagnostics
 * (mlp_backward_ranges), then per request diagnostics over only its own rows
 * and the encoded response. A request's answer is therefore identical to
 * serving it alone, however the batcher merged it.
 */
#ifndef RS_INFER_H
#define RS_INFER_H

#include <stdint.h>

#include "codec/codec.h"
#include "mlp.h"

typedef struct {
    rs_request *req; /* in: decoded request (not owned) */
    int status;      /* out: HTTP status, 200 on success */
    rs_buf body;     /* out: response body (JSON, or JSON + binary tail) */
    size_t json_len; /* out: JSON part length (Inference-Header-Content-Length) */
} rs_infer_item;

/* Per-thread scratch for rs_infer_run: the workspace plus the merged-input
 * buffer and the backward's ranges; grows to the largest batch seen, then
 * reused without allocation (rs_infer_scratch_trim gives an oversized
 * batch's memory back). */
typedef struct {
    mlp_workspace *ws;
    float *x;
    size_t x_cap;               /* floats */
    mlp_backward_range *ranges; /* one per request with diagnostics */
    int *range_of;              /* per request: its index in ranges, or -1 */
    size_t ranges_cap;          /* requests both hold room for */
    /* out: the phases of the last rs_infer_run, in nanoseconds (for the
     * statistics extension): merging the rows into one input, the forward
     * pass, and the backward plus per request diagnostics and encoding. */
    uint64_t input_ns, infer_ns, output_ns;
} rs_infer_scratch;

/* kernel: MLP_KERNEL_NATIVE or MLP_KERNEL_PORTABLE (the server's --kernel);
 * both compute every row in one fixed order, whatever the batch. */
int rs_infer_scratch_init(rs_infer_scratch *s, mlp_kernel kernel);
void rs_infer_scratch_free(rs_infer_scratch *s);

/*
 * Call after each batch of batch_rows rows of m. A batch larger than
 * keep_rows (the model's max_batch: only a single request bigger than any
 * batch the batcher forms gets there) gives its memory back: the merged-input
 * buffer and the workspace's row-sized buffers shrink to keep_rows rows of m,
 * and the allocator returns the freed pages to the system. So a thread's
 * idle memory is bounded by the batcher's working set, not by the largest
 * request it ever served, and ordinary batches never reallocate. Returns the
 * bytes given back.
 */
size_t rs_infer_scratch_trim(rs_infer_scratch *s, const mlp_model *m, int batch_rows,
                             int keep_rows);

/*
 * Fills every item's status/body/json_len. activity, when not NULL, counts the
 * batch's rows (per-unit activity for the dying-ReLU monitor); the caller
 * serialises access to it. dp: vanishing/exploding thresholds.
 * Returns 0, or -1 if the batch failed as a whole (every item then carries a
 * 500 with a message).
 */
int rs_infer_run(const mlp_model *m, const rs_model_id *mid, rs_infer_scratch *s,
                 rs_infer_item *items, int n, const mlp_diag_params *dp, mlp_activity *activity);

/* Answers every item with status 500 and {"error": msg} (a batch that failed
 * as a whole: out of memory, cancelled). */
void rs_infer_fail(rs_infer_item *items, int n, const char *msg);

#endif /* RS_INFER_H */
