/*
 * main — the binary's front door: dispatches the subcommands `serve` (the
 * HTTP inference server, server/serve.h), `train`, `inspect` and `prune`
 * (offline tools on model files, cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "serve.h"

static void usage(FILE *out)
{
    fputs("Usage: reluserve <command> [flags]\n\n"
          "Commands:\n"
          "  serve     serve a model repository over HTTP (Open Inference Protocol v2)\n"
          "  train     train a ReLU MLP from a CSV file and save it\n"
          "  inspect   print a model's layers, parameters and dead units\n"
          "  prune     remove the units dead on a probe set, keeping its outputs\n\n"
          "  reluserve <command> --help   flags of one command\n"
          "  reluserve --version          print the version\n",
          out);
}

int main(int argc, char **argv)
{
    rs_blas_single_thread(); /* before any command can reach BLAS */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve")) return rs_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return rs_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect")) return rs_cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "prune")) return rs_cmd_prune(argc - 1, argv + 1);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("reluserve %s\n", MLP_VERSION);
        return 0;
    }
    fprintf(stderr, "reluserve: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
