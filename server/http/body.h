/*
 * body — request bodies while they arrive, and the memory budget they draw on.
 *
 * --max-body-total bounds the request data held at once over all connections:
 * bodies while they arrive, then (through rs_body_charge) the decoded tensors
 * and the answer's buffer (rs_response_capacity) until the answer is sent. A
 * body is charged as it grows, in capped steps: its buffer starts at
 * RS_BODY_FIRST_STEP bytes and doubles, never past the most it may hold (its
 * declared Content-Length, or --max-body), and the budget is charged the
 * buffer's size. So the charge is the memory really held, at most twice the
 * bytes received (plus the first step): declaring a big body and then sending
 * little holds little.
 *
 * --max-body-per-client bounds what one client — an IPv4 address, or an IPv6
 * /64 (one host's usual share) — holds in uploads not yet complete, so a client
 * opening many slow uploads cannot take the whole budget from everyone else. A
 * complete body stops counting against its client: it is decoded and answered
 * at once, its time bounded by the queue timeouts.
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef RS_BODY_H
#define RS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RS_BODY_FIRST_STEP 4096

typedef struct rs_body_budget rs_body_budget;
struct rs_body_client;

typedef struct {
    char *data;                    /* NUL-terminated after len; NULL until the first byte */
    size_t len, cap;               /* cap: bytes data can hold (plus the NUL) */
    int64_t charged;               /* bytes this request holds in the total */
    struct rs_body_client *client; /* its client's entry while uploading, else NULL */
} rs_body;

typedef enum {
    RS_BODY_OK = 0,
    RS_BODY_OVER_TOTAL,  /* would pass --max-body-total */
    RS_BODY_OVER_CLIENT, /* would pass --max-body-per-client */
    RS_BODY_NO_MEMORY,
} rs_body_status;

/* total: --max-body-total; per_client: --max-body-per-client (at most total).
 * Returns NULL when out of memory. */
rs_body_budget *rs_body_budget_create(int64_t total, int64_t per_client);
/* Every body must have been released. */
void rs_body_budget_free(rs_body_budget *b);
/* Bytes charged now, over all requests (for tests and diagnostics). */
int64_t rs_body_budget_held(rs_body_budget *b);

void rs_body_init(rs_body *body);

/*
 * Appends n bytes that arrived from client (its address, as libmicrohttpd
 * gives it; NULL counts as one anonymous client), growing the buffer as far
 * as limit (the body's declared length or --max-body; the caller has checked
 * that len + n fits). On anything but RS_BODY_OK the body is released (no
 * memory, no charge): the caller drops the rest of the upload.
 */
rs_body_status rs_body_append(rs_body_budget *b, rs_body *body, const struct sockaddr *client,
                              const void *data, size_t n, size_t limit);

/* The upload is complete: it stops counting against its client. */
void rs_body_complete(rs_body_budget *b, rs_body *body);

/* Frees the data and gives back the whole charge; the body can be reused. */
void rs_body_release(rs_body_budget *b, rs_body *body);

/* Charges n more bytes (data that replaces the body: the decoded tensors and
 * the answer) to the total; false, charging nothing, when that would pass it. */
bool rs_body_charge(rs_body_budget *b, rs_body *body, size_t n);

#endif /* RS_BODY_H */
