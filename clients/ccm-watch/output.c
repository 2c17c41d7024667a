/* output — stdout, directory and exec delivery of rendered records (see output.h). */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "render.h"

typedef enum { S_STDOUT, S_DIR, S_EXEC } kind_t;

struct ccm_watch_output {
    kind_t kind;
    char *arg; /* directory path or command, owned */
};

int ccm_watch_output_open(const char *spec, ccm_watch_output_t **out, const char **why)
{
    *out = NULL;
    *why = "";
    kind_t kind;
    const char *arg = "";
    if (strcmp(spec, "stdout") == 0) {
        kind = S_STDOUT;
    } else if (strncmp(spec, "dir:", 4) == 0 && spec[4]) {
        kind = S_DIR;
        arg = spec + 4;
    } else if (strncmp(spec, "exec:", 5) == 0 && spec[5]) {
        kind = S_EXEC;
        arg = spec + 5;
    } else {
        *why = "--out must be stdout, dir:PATH or exec:COMMAND";
        return CCM_EINVAL;
    }
    if (kind == S_DIR && mkdir(arg, 0750) != 0 && errno != EEXIST) {
        *why = "cannot create the output directory";
        return CCM_EIO;
    }
    ccm_watch_output_t *o = calloc(1, sizeof *o);
    if (!o || !(o->arg = strdup(arg))) {
        free(o);
        return CCM_ENOMEM;
    }
    o->kind = kind;
    *out = o;
    return 0;
}

void ccm_watch_output_destroy(ccm_watch_output_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->arg);
    free(*p);
    *p = NULL;
}

int ccm_watch_output_is_stdout(const ccm_watch_output_t *o)
{
    return o->kind == S_STDOUT;
}

void ccm_watch_output_file_name(const ccm_watch_record_t *r, char *out, size_t cap)
{
    char safe[200];
    ccm_render_safe_name(r->id, safe, sizeof safe);
    snprintf(out, cap, "%020" PRIu64 "-%s.%s", r->seq, safe, r->ext);
}

static int s_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int s_stdout(const ccm_watch_record_t *r)
{
    if (fwrite(r->data, 1, r->len, stdout) != r->len || fflush(stdout) != 0) {
        ccm_error("event=output_failed out=stdout seq=%" PRIu64 " error=\"%s\"", r->seq,
                  strerror(errno));
        return CCM_EIO;
    }
    return 0;
}

/* Temporary file, fsync, rename over the final name, fsync the directory. */
static int s_dir(const ccm_watch_output_t *o, const ccm_watch_record_t *r)
{
    char name[256], path[4096], tmp[4096];
    ccm_watch_output_file_name(r, name, sizeof name);
    if (snprintf(path, sizeof path, "%s/%s", o->arg, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", o->arg, name) >= (int)sizeof tmp)
        return CCM_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        goto fail;
    if (s_write_all(fd, r->data, r->len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto fail;
    }
    int dfd = open(o->arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto fail;
    int rc = fsync(dfd);
    close(dfd);
    if (rc != 0)
        goto fail;
    return 0;
fail:
    ccm_error("event=output_failed out=dir path=%s seq=%" PRIu64 " error=\"%s\"", path, r->seq,
              strerror(errno));
    return CCM_EIO;
}

extern char **environ;

/* /bin/sh -c COMMAND with the record on stdin and CCM_SEQ, CCM_EVENT_TYPE,
 * CCM_CLAIM_ID in its environment. */
static int s_exec(const ccm_watch_output_t *o, const ccm_watch_record_t *r)
{
    int fds[2];
    if (pipe(fds) != 0) {
        ccm_error("event=output_failed out=exec error=\"pipe: %s\"", strerror(errno));
        return CCM_EIO;
    }
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, r->seq);
    /* The child's environment is built here, before fork(): between fork and exec
     * only async-signal-safe calls are allowed (no malloc, so no setenv), since
     * another thread may hold the allocator's lock at the moment of the fork. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 4, sizeof *envp);
    char *vars[3] = {NULL, NULL, NULL};
    const char *names[3] = {"CCM_SEQ=", "CCM_EVENT_TYPE=", "CCM_CLAIM_ID="};
    const char *values[3] = {seq, r->type ? r->type : "", r->id ? r->id : ""};
    size_t k = 0;
    for (size_t i = 0; envp && i < 3; i++) {
        vars[i] = malloc(strlen(names[i]) + strlen(values[i]) + 1);
        if (!vars[i])
            break;
        strcpy(vars[i], names[i]);
        strcat(vars[i], values[i]);
        envp[k++] = vars[i];
    }
    if (!envp || !vars[2]) {
        for (size_t i = 0; i < 3; i++)
            free(vars[i]);
        free(envp);
        close(fds[0]);
        close(fds[1]);
        return CCM_ENOMEM;
    }
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "CCM_SEQ=", 8) && strncmp(environ[i], "CCM_EVENT_TYPE=", 15) &&
            strncmp(environ[i], "CCM_CLAIM_ID=", 13))
            envp[k++] = environ[i];
    envp[k] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        ccm_error("event=output_failed out=exec error=\"fork: %s\"", strerror(errno));
        for (size_t i = 0; i < 3; i++)
            free(vars[i]);
        free(envp);
        close(fds[0]);
        close(fds[1]);
        return CCM_EIO;
    }
    if (pid == 0) {
        close(fds[1]);
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(127);
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        execle("/bin/sh", "sh", "-c", o->arg, (char *)NULL, envp);
        _exit(127);
    }
    for (size_t i = 0; i < 3; i++)
        free(vars[i]);
    free(envp);
    close(fds[0]);
    /* A command that does not read its input is its own business: EPIPE is ignored
     * (SIGPIPE is ignored by the process), its exit status decides. */
    (void)s_write_all(fds[1], r->data, r->len);
    close(fds[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            ccm_error("event=output_failed out=exec error=\"waitpid: %s\"", strerror(errno));
            return CCM_EIO;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        ccm_warn("event=command_failed seq=%" PRIu64 " id=%s exit=%d", r->seq, r->id,
                 WEXITSTATUS(status));
    else
        ccm_warn("event=command_failed seq=%" PRIu64 " id=%s signal=%d", r->seq, r->id,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return CCM_EAGAIN;
}

int ccm_watch_output_deliver(ccm_watch_output_t *o, const ccm_watch_record_t *r)
{
    switch (o->kind) {
    case S_STDOUT: return s_stdout(r);
    case S_DIR: return s_dir(o, r);
    case S_EXEC: return s_exec(o, r);
    }
    return CCM_EIO;
}
