/*
 * serve — `reluserve serve`: wires config, registry, scheduler, metrics and
 * the HTTP daemon together, runs the libuv loop on the calling thread until
 * SIGTERM/SIGINT, then drains and frees everything.
 */
#ifndef RS_SERVE_H
#define RS_SERVE_H

/* argv[0] is "serve". Returns the exit code: 0 after a clean shutdown, 1 when
 * the server could not start, 2 for a usage error. */
int rs_cmd_serve(int argc, char **argv);

#endif /* RS_SERVE_H */
