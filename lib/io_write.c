/*
 * io_write — how every model file is written: into a fresh temporary file
 * beside the target (a unique name, so concurrent saves never write into one
 * another's file), flushed to the disk with fsync, then renamed over the
 * target and the folder synced, so a reader sees the old file or the whole
 * new one, also after a crash. Saving two files as a pair (safetensors +
 * config.json) builds on these steps: io_safetensors_save.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io_internal.h"

void mlp_io_random_hex(char *out, size_t nbytes)
{
    uint8_t b[32];
    if (nbytes > sizeof b) nbytes = sizeof b;
    if (getrandom(b, nbytes, GRND_NONBLOCK) != (ssize_t)nbytes) {
        /* No kernel randomness (early boot, seccomp): the clock, the process,
         * an address and a counter make a name no other writer picks. */
        static atomic_uint_fast64_t counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)out;
        x += atomic_fetch_add(&counter, 1) * 0xd1b54a32d192ed03u;
        mlp_rng rng;
        mlp_rng_seed(&rng, x); /* spreads the seed's bits over every byte */
        for (size_t i = 0; i < nbytes; i += 8) {
            uint64_t r = mlp_rng_next(&rng);
            for (size_t k = 0; k < 8 && i + k < nbytes; k++)
                b[i + k] = (uint8_t)(r >> (8 * k));
        }
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

/* Writes all of data to fd, retrying short writes and EINTR. */
static bool write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        len -= (size_t)w;
    }
    return true;
}

mlp_status mlp_io_temp_write(const char *path, const void *data, size_t len, char **tmp,
                             mlp_error *err)
{
    char eb[128];
    *tmp = NULL;
    if (!path) return mlp_set_error(err, MLP_ERR_INVALID, "output path is NULL");
    size_t n = strlen(path);
    char *name = malloc(n + sizeof ".tmp-" + 16);
    if (!name) return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory");
    int fd = -1;
    /* O_EXCL on a random name is mkstemp with the usual 0666 & ~umask mode
     * (mkstemp's 0600 would make a saved model private to its writer). */
    for (int attempt = 0; fd < 0 && attempt < 16; attempt++) {
        char suffix[17];
        mlp_io_random_hex(suffix, 8);
        snprintf(name, n + sizeof ".tmp-" + 16, "%s.tmp-%s", path, suffix);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        mlp_status s =
            mlp_io_fail(err, path, MLP_ERR_IO, "cannot create a temporary file beside it: %s",
                        mlp_io_error_text(errno, eb));
        free(name);
        return s;
    }
    /* fsync before the rename: otherwise a crash can leave the new name
     * pointing at a file whose data never reached the disk. */
    bool ok = write_all(fd, data, len) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(name);
        free(name);
        return mlp_io_fail(err, path, MLP_ERR_IO, "write failed: %s", mlp_io_error_text(e, eb));
    }
    *tmp = name;
    return MLP_OK;
}

/* fsync of the folder holding path, so a rename in it survives a crash.
 * File systems that cannot sync a folder (EINVAL) make it a no-op. */
static int sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL) e = errno;
    if (fd >= 0) close(fd);
    free(dir);
    return e;
}

mlp_status mlp_io_temp_commit(char *tmp, const char *path, mlp_error *err)
{
    char eb[128];
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return mlp_io_fail(err, path, MLP_ERR_IO, "cannot replace: %s", mlp_io_error_text(e, eb));
    }
    free(tmp);
    int e = sync_parent(path);
    if (e)
        return mlp_io_fail(err, path, MLP_ERR_IO, "written, but syncing its folder failed: %s",
                           mlp_io_error_text(e, eb));
    return MLP_OK;
}

void mlp_io_temp_discard(char *tmp)
{
    if (!tmp) return;
    unlink(tmp);
    free(tmp);
}

mlp_status mlp_io_write_file(const char *path, const void *data, size_t len, mlp_error *err)
{
    char *tmp;
    mlp_status s = mlp_io_temp_write(path, data, len, &tmp, err);
    return s == MLP_OK ? mlp_io_temp_commit(tmp, path, err) : s;
}
