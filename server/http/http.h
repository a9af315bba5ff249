/*
 * http — the libmicrohttpd side of the server. On the HTTP polling threads
 * (pollers.h; one libmicrohttpd daemon each): connection I/O, request bodies
 * up to --max-body, routing, authentication, the Host allow-list (hosts.h),
 * CORS, the cheap endpoints answered directly and, for inference, the body decoded and either
 * computed there (the lean path) or the connection suspended and the request admitted to the
 * scheduler, whose completion resumes the connection with its response.
 *
 * Keep-alive: a response is queued only once the whole request has been
 * read (never in the first access-handler call), except 413 for a declared
 * Content-Length over the limit, which closes the connection on purpose.
 */
#ifndef RS_HTTP_H
#define RS_HTTP_H

#include <stdbool.h>

#include "handlers.h"

typedef struct rs_http rs_http;

/* Starts listening on cfg->host:cfg->port. app must outlive the server.
 * Returns 0, or -1 with a sentence in err. */
int rs_http_start(rs_http **out, rs_app *app, char *err, size_t errlen);
/* The port actually bound (useful with --port 0). */
int rs_http_port(const rs_http *h);
/* --busy-poll-us as the HTTP threads run it (auto resolved) and why, for the
 * start-up line: "HTTP threads busy-poll off", "... 100 us", "... auto: ...". */
const char *rs_http_busy_poll_note(const rs_http *h);
/* Which Host headers are served (hosts.h), for the start-up line: "any
 * Host", or the localhost/IP/--allowed-hosts rule in a few words. */
const char *rs_http_hosts_note(const rs_http *h);
/* Stops accepting connections; open ones keep being served, and every
 * response from now on carries Connection: close. Model control requests are
 * refused from now on (503), and those waiting for their turn are answered
 * 503; a load already running finishes. */
void rs_http_quiesce(rs_http *h);
/* Requests between their first byte and their completion. */
int rs_http_active(const rs_http *h);
/* Connections suspended waiting for the scheduler. */
int rs_http_suspended(const rs_http *h);
/* Requests owed an answer: whole request received, and queued, computing or
 * their response being sent. Idle and mid-upload connections are not counted. */
int rs_http_owed(const rs_http *h);
/* Shutdown's gate: true when nothing is owed, and from then on no request
 * becomes owed (a request completing its body afterwards has its connection
 * dropped); false, changing nothing, while something is owed. */
bool rs_http_close_if_done(rs_http *h);
/* Closes the gate even though requests are owed (grace period over). */
void rs_http_close_gate(rs_http *h);
/* Closes every connection, joins the model control worker and frees h (call
 * once nothing is suspended, normally after rs_http_close_if_done). */
void rs_http_stop(rs_http *h);

#endif /* RS_HTTP_H */
