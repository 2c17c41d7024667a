/* auth — CURVE key files, principals, the allow list and the ZAP handler (see
 * auth.h). Key files are parsed with czmq's ZPL reader (zconfig) from bytes read
 * through one descriptor, so the permissions checked are those of the file
 * parsed; they are written with czmq's zcert so the format is czmq's own.
 * Invariant: nothing here admits a key that is not in the allow list. */
#include "ccm/auth.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

/* A certificate is a few hundred bytes; anything much larger is not one. */
#define S_CERT_FILE_MAX (64 * 1024)
/* Certificates read from one allow directory at most (bounds the broker's memory). */
#define S_ALLOW_MAX 10000
/* Refused keys remembered for rate-limited logging, and how often each is logged. */
#define S_REFUSED_SLOTS 64
#define S_REFUSED_LOG_MS 60000

static const char *const s_roles[] = {"admin", "coordinator", "telephony", "billing", "watcher"};

static bool s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool ccm_auth_name_valid(const char *name, size_t max)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_name_char(name[i]))
            return false;
    return true;
}

bool ccm_auth_role_valid(const char *role)
{
    if (!role)
        return false;
    for (size_t i = 0; i < sizeof s_roles / sizeof s_roles[0]; i++)
        if (strcmp(role, s_roles[i]) == 0)
            return true;
    return strncmp(role, "service:", 8) == 0 && ccm_auth_name_valid(role + 8, CCM_AUTH_NAME_MAX);
}

/* True for "", "*" or comma-separated clinic ids (each 1-32 of [A-Za-z0-9._-]). */
static bool s_clinics_valid(const char *s)
{
    if (!s[0] || strcmp(s, "*") == 0)
        return true;
    if (strlen(s) > CCM_AUTH_CLINICS_MAX)
        return false;
    size_t run = 0;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == '\0') {
            if (run == 0 || run > 32)
                return false;
            if (*p == '\0')
                return true;
            run = 0;
        } else if (!s_name_char(*p)) {
            return false;
        } else {
            run++;
        }
    }
}

/* True for 40 characters of the Z85 alphabet that decode to a key. */
static bool s_z85_key(const char *s)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (!s || strlen(s) != CCM_AUTH_KEY_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr(alphabet, *p))
            return false;
    uint8_t bin[32];
    return zmq_z85_decode(bin, s) != NULL;
}

/* The file name of path without directory and without suffix (".key" / ".pub"). */
static void s_stem(const char *path, const char *suffix, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base), sl = strlen(suffix);
    if (n > sl && strcmp(base + n - sl, suffix) == 0)
        n -= sl;
    if (n >= len)
        n = len - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

/* Reads path into a NUL-terminated buffer (caller frees), checking through the
 * same descriptor that a secret file gives group and others nothing. */
static int s_read_cert_file(const char *path, bool secret, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? CCM_ENOTFOUND : CCM_EIO;
    }
    struct stat st;
    int rc = CCM_EIO;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = CCM_EINVAL;
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(err, errlen,
                 "%s: secret key file is open to group or others (mode %04o); refused: run "
                 "`chmod 600 %s` (and check who may have read it)",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_size > S_CERT_FILE_MAX) {
        snprintf(err, errlen, "%s: %lld bytes is too large for a certificate", path,
                 (long long)st.st_size);
        goto out;
    }
    rc = CCM_ENOMEM;
    if (!(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: %s", path,
                     r < 0 ? strerror(errno) : "shorter than stat said");
            rc = CCM_EIO;
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    if (strlen(buf) != got) {
        snprintf(err, errlen, "%s: not a certificate (NUL bytes)", path);
        rc = CCM_EINVAL;
        goto out;
    }
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Copies src into dst[len] when it fits; false otherwise. */
static bool s_copy(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n >= len)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static int s_load(const char *path, bool secret, ccm_auth_cert_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    int rc = s_read_cert_file(path, secret, &text, err, errlen);
    if (rc != 0)
        return rc;
    zconfig_t *root = zconfig_str_load(text);
    free(text);
    rc = CCM_EINVAL;
    if (!root) {
        snprintf(err, errlen, "%s: not a ZeroMQ certificate (ZPL syntax)", path);
        return rc;
    }
    const char *pub = zconfig_get(root, "/curve/public-key", NULL);
    const char *sec = zconfig_get(root, "/curve/secret-key", NULL);
    const char *role = zconfig_get(root, "/metadata/role", "");
    const char *clinics = zconfig_get(root, "/metadata/clinics", "");
    s_stem(path, secret ? ".key" : ".pub", out->name, sizeof out->name);
    if (!s_z85_key(pub)) {
        snprintf(err, errlen, "%s: no valid curve/public-key (40 characters of Z85)", path);
    } else if (role[0] && !ccm_auth_role_valid(role)) {
        snprintf(err, errlen,
                 "%s: metadata role \"%.80s\" is not admin, coordinator, telephony, billing, "
                 "watcher or service:NAME",
                 path, role);
    } else if (!s_clinics_valid(clinics)) {
        snprintf(err, errlen,
                 "%s: metadata clinics \"%.80s\" is not \"*\" or comma-separated clinic ids", path,
                 clinics);
    } else if (secret && !s_z85_key(sec)) {
        snprintf(err, errlen,
                 "%s: no valid curve/secret-key: a .key file holds the secret key (is this a "
                 ".pub?)",
                 path);
    } else {
        memcpy(out->public_key, pub, CCM_AUTH_KEY_LEN + 1);
        s_copy(out->role, sizeof out->role, role);
        s_copy(out->clinics, sizeof out->clinics, clinics[0] ? clinics : "*");
        rc = 0;
        if (secret) {
            char derived[CCM_AUTH_KEY_LEN + 1];
            if (zmq_curve_public(derived, sec) != 0 || strcmp(derived, pub) != 0) {
                snprintf(err, errlen, "%s: secret-key does not belong to public-key", path);
                rc = CCM_EINVAL;
            } else {
                memcpy(out->secret_key, sec, CCM_AUTH_KEY_LEN + 1);
            }
        }
    }
    zconfig_destroy(&root);
    if (rc != 0) {
        explicit_bzero(out->secret_key, sizeof out->secret_key);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int ccm_auth_load_secret(const char *path, ccm_auth_cert_t *out, char *err, size_t errlen)
{
    return s_load(path, true, out, err, errlen);
}

int ccm_auth_load_public(const char *path, ccm_auth_cert_t *out, char *err, size_t errlen)
{
    return s_load(path, false, out, err, errlen);
}

int ccm_auth_principal(const ccm_auth_cert_t *c, char *out, size_t len)
{
    if (!ccm_auth_role_valid(c->role) || !ccm_auth_name_valid(c->name, CCM_AUTH_NAME_MAX) ||
        !s_clinics_valid(c->clinics))
        return CCM_EINVAL;
    int n = snprintf(out, len, "%s:%s:%s", c->role, c->clinics[0] ? c->clinics : "*", c->name);
    return n < 0 || (size_t)n >= len ? CCM_EINVAL : 0;
}

int ccm_auth_principal_parse(const char *principal, ccm_auth_principal_t *out)
{
    memset(out, 0, sizeof *out);
    if (principal && strcmp(principal, CCM_PRINCIPAL_DEV) == 0) {
        s_copy(out->role, sizeof out->role, CCM_PRINCIPAL_DEV);
        s_copy(out->clinics, sizeof out->clinics, "*");
        s_copy(out->name, sizeof out->name, CCM_PRINCIPAL_DEV);
        return 0;
    }
    const char *name = principal ? strrchr(principal, ':') : NULL;
    const char *clinics = NULL;
    for (const char *p = name; p && p > principal && !clinics;)
        if (*--p == ':')
            clinics = p;
    if (!clinics || (size_t)(clinics - principal) > CCM_AUTH_ROLE_MAX ||
        (size_t)(name - clinics - 1) > CCM_AUTH_CLINICS_MAX)
        return CCM_EINVAL;
    memcpy(out->role, principal, (size_t)(clinics - principal));
    memcpy(out->clinics, clinics + 1, (size_t)(name - clinics - 1));
    bool ok = s_copy(out->name, sizeof out->name, name + 1) && ccm_auth_role_valid(out->role) &&
              out->clinics[0] && s_clinics_valid(out->clinics) &&
              ccm_auth_name_valid(out->name, CCM_AUTH_NAME_MAX);
    if (!ok) {
        memset(out, 0, sizeof *out);
        return CCM_EINVAL;
    }
    return 0;
}

bool ccm_auth_principal_in_clinic(const ccm_auth_principal_t *p, const char *clinic)
{
    if (strcmp(p->clinics, "*") == 0)
        return true;
    size_t n = strlen(clinic);
    for (const char *c = p->clinics; *c;) {
        const char *end = strchr(c, ',');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == n && n > 0 && memcmp(c, clinic, n) == 0)
            return true;
        if (!end)
            break;
        c = end + 1;
    }
    return false;
}

/* ---- writing keys ---- */

static bool s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int ccm_auth_keygen(const char *dir, const char *name, const char *role, const char *clinics,
                    ccm_auth_cert_t *out, char *err, size_t errlen)
{
    if (!ccm_auth_name_valid(name, CCM_AUTH_NAME_MAX)) {
        snprintf(err, errlen, "key name \"%.80s\": 1 to %d characters of A-Z a-z 0-9 . _ -",
                 name ? name : "", CCM_AUTH_NAME_MAX);
        return CCM_EINVAL;
    }
    if (role && !ccm_auth_role_valid(role)) {
        snprintf(err, errlen,
                 "role \"%.80s\": admin, coordinator, telephony, billing, watcher or "
                 "service:NAME",
                 role);
        return CCM_EINVAL;
    }
    if (!clinics || !clinics[0])
        clinics = "*";
    if (!s_clinics_valid(clinics)) {
        snprintf(err, errlen,
                 "clinics \"%.80s\": clinic ids of 1-32 characters (A-Z a-z 0-9 . _ -), %d "
                 "characters in all at most",
                 clinics, CCM_AUTH_CLINICS_MAX);
        return CCM_EINVAL;
    }
    if (role) { /* the principal must fit the wire's limit */
        ccm_auth_cert_t probe;
        memset(&probe, 0, sizeof probe);
        char principal[CCM_PRINCIPAL_MAX + 1];
        s_copy(probe.name, sizeof probe.name, name);
        s_copy(probe.role, sizeof probe.role, role);
        s_copy(probe.clinics, sizeof probe.clinics, clinics);
        if (ccm_auth_principal(&probe, principal, sizeof principal) != 0) {
            snprintf(err, errlen, "the principal of this key would exceed %d bytes",
                     CCM_PRINCIPAL_MAX);
            return CCM_EINVAL;
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return CCM_EIO;
    }
    char key[4096], pub[4096], tmp[4096];
    if ((size_t)snprintf(key, sizeof key, "%s/%s.key", dir, name) >= sizeof key ||
        (size_t)snprintf(pub, sizeof pub, "%s/%s.pub", dir, name) >= sizeof pub ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.key.tmp", dir, name) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", dir);
        return CCM_EINVAL;
    }
    if (s_exists(key) || s_exists(pub)) {
        snprintf(err, errlen,
                 "%s exists: keys are never overwritten; remove it or pick "
                 "another name",
                 s_exists(key) ? key : pub);
        return CCM_EEXIST;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot make a key pair (libzmq without CURVE?)");
        return CCM_EIO;
    }
    if (role)
        zcert_set_meta(cert, "role", "%s", role);
    zcert_set_meta(cert, "clinics", "%s", clinics);
    int rc = CCM_EIO;
    /* The secret file exists with mode 0600 before a byte is written to it, and
     * takes its final name by link(), which never replaces an existing file. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    if (zcert_save_secret(cert, tmp) != 0 || chmod(tmp, 0600) != 0) {
        snprintf(err, errlen, "%s: cannot write the secret key", tmp);
        unlink(tmp);
        goto out;
    }
    if (link(tmp, key) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", key, strerror(e));
        unlink(tmp);
        rc = e == EEXIST ? CCM_EEXIST : CCM_EIO;
        goto out;
    }
    unlink(tmp);
    if (zcert_save_public(cert, pub) != 0) {
        snprintf(err, errlen, "%s: cannot write the public certificate", pub);
        unlink(key);
        goto out;
    }
    rc = 0;
    if (out) {
        memset(out, 0, sizeof *out);
        s_copy(out->name, sizeof out->name, name);
        s_copy(out->public_key, sizeof out->public_key, zcert_public_txt(cert));
        s_copy(out->secret_key, sizeof out->secret_key, zcert_secret_txt(cert));
        s_copy(out->role, sizeof out->role, role ? role : "");
        s_copy(out->clinics, sizeof out->clinics, clinics);
    }
out:
    zcert_destroy(&cert);
    return rc;
}

/* ---- client and server sockets ---- */

int ccm_auth_curve_load(const char *key_path, const char *broker_key_path, ccm_auth_curve_t *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!key_path || !key_path[0] || !broker_key_path || !broker_key_path[0]) {
        snprintf(err, errlen,
                 "CURVE needs both our key (key = NAME.key) and the broker's public key "
                 "(broker_key = broker.pub)");
        return CCM_EINVAL;
    }
    ccm_auth_cert_t mine, broker;
    int rc = ccm_auth_load_secret(key_path, &mine, err, errlen);
    if (rc == 0)
        rc = ccm_auth_load_public(broker_key_path, &broker, err, errlen);
    if (rc != 0)
        return rc;
    memcpy(out->public_key, mine.public_key, sizeof out->public_key);
    memcpy(out->secret_key, mine.secret_key, sizeof out->secret_key);
    memcpy(out->server_key, broker.public_key, sizeof out->server_key);
    explicit_bzero(&mine, sizeof mine);
    return 0;
}

int ccm_auth_curve_from_env(ccm_auth_curve_t *out, bool *on, char *err, size_t errlen)
{
    const char *key = getenv(CCM_AUTH_ENV_KEY), *broker = getenv(CCM_AUTH_ENV_BROKER_KEY);
    *on = false;
    memset(out, 0, sizeof *out);
    if ((!key || !key[0]) && (!broker || !broker[0]))
        return 0;
    if (!key || !key[0] || !broker || !broker[0]) {
        snprintf(err, errlen, "$%s and $%s go together: set both (or neither)", CCM_AUTH_ENV_KEY,
                 CCM_AUTH_ENV_BROKER_KEY);
        return CCM_EINVAL;
    }
    int rc = ccm_auth_curve_load(key, broker, out, err, errlen);
    *on = rc == 0;
    return rc;
}

int ccm_auth_curve_client(void *socket, const ccm_auth_curve_t *c)
{
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, c->server_key, CCM_AUTH_KEY_LEN) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, c->public_key, CCM_AUTH_KEY_LEN) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_key, CCM_AUTH_KEY_LEN) != 0) {
        ccm_error("event=curve_setup_failed error=\"%s\"", zmq_strerror(zmq_errno()));
        return CCM_EIO;
    }
    return 0;
}

int ccm_auth_curve_server(void *socket, const ccm_auth_cert_t *own)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, own->secret_key, CCM_AUTH_KEY_LEN) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, CCM_AUTH_ZAP_DOMAIN, strlen(CCM_AUTH_ZAP_DOMAIN)) !=
            0) {
        ccm_error("event=curve_setup_failed error=\"%s\"", zmq_strerror(zmq_errno()));
        return CCM_EIO;
    }
    return 0;
}

int ccm_auth_endpoint_check(const char *endpoint, bool keys, const char *who)
{
    if (keys || ccm_wire_endpoint_is_local(endpoint))
        return 0;
    ccm_error("event=refused endpoint=%s setting=\"%s\" reason=\"not a loopback address: "
              "without CURVE keys every endpoint must be loopback (tcp://127.0.0.1:PORT, "
              "tcp://[::1]:PORT, ipc://). To use the network, make keys with `ccmctl keygen "
              "NAME --role ROLE [--clinic C]... --dir DIR`, admit each NAME.pub in the broker's "
              "allow directory, and set key and broker_key (see docs/security.md)\"",
              endpoint, who);
    return CCM_EINVAL;
}

/* ---- the allow list ---- */

struct ccm_auth_allow {
    ccm_auth_entry_t *e; /* sorted by public key */
    size_t n;
};

ccm_auth_allow_t *ccm_auth_allow_new(void)
{
    return calloc(1, sizeof(ccm_auth_allow_t));
}

void ccm_auth_allow_destroy(ccm_auth_allow_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->e);
    free(*p);
    *p = NULL;
}

static int s_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ccm_auth_entry_t *)a)->public_key,
                  ((const ccm_auth_entry_t *)b)->public_key);
}

static bool s_is_pub(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".pub") == 0;
}

int ccm_auth_allow_load(const char *dir, ccm_auth_allow_t **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        ccm_error("event=allow_unreadable dir=%s error=\"%s\"", dir, strerror(errno));
        return CCM_EIO;
    }
    ccm_auth_allow_t *a = ccm_auth_allow_new();
    size_t cap = 0;
    int rc = a ? 0 : CCM_ENOMEM;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!s_is_pub(de->d_name))
            continue;
        if (a->n == S_ALLOW_MAX) {
            ccm_error("event=allow_skipped dir=%s file=%s reason=\"more than %d certificates\"",
                      dir, de->d_name, S_ALLOW_MAX);
            break;
        }
        char path[4096], err[512];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
            continue;
        ccm_auth_cert_t c;
        if (ccm_auth_load_public(path, &c, err, sizeof err) != 0) {
            ccm_error("event=allow_skipped reason=\"%s\"", err);
            continue;
        }
        if (!c.role[0]) {
            ccm_error("event=allow_skipped file=%s reason=\"no metadata role: make it with "
                      "`ccmctl keygen NAME --role ROLE`\"",
                      path);
            continue;
        }
        if (a->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ccm_auth_entry_t *ne = realloc(a->e, ncap * sizeof *ne);
            if (!ne) {
                rc = CCM_ENOMEM;
                break;
            }
            a->e = ne;
            cap = ncap;
        }
        ccm_auth_entry_t *e = &a->e[a->n];
        memset(e, 0, sizeof *e);
        if (ccm_auth_principal(&c, e->principal, sizeof e->principal) != 0) {
            ccm_error("event=allow_skipped file=%s reason=\"key name must be 1-%d of "
                      "A-Z a-z 0-9 . _ - and the principal at most %d bytes\"",
                      path, CCM_AUTH_NAME_MAX, CCM_PRINCIPAL_MAX);
            continue;
        }
        memcpy(e->public_key, c.public_key, sizeof e->public_key);
        memcpy(e->name, c.name, sizeof e->name);
        if (strncmp(c.role, "service:", 8) == 0)
            s_copy(e->service, sizeof e->service, c.role + 8);
        a->n++;
    }
    closedir(d);
    if (rc != 0) {
        ccm_auth_allow_destroy(&a);
        return rc;
    }
    if (a->n > 1)
        qsort(a->e, a->n, sizeof *a->e, s_entry_cmp);
    /* One public key in two certificates: which principal is it? Neither. */
    size_t w = 0;
    for (size_t i = 0; i < a->n;) {
        size_t j = i + 1;
        while (j < a->n && strcmp(a->e[j].public_key, a->e[i].public_key) == 0)
            j++;
        if (j - i == 1) {
            a->e[w++] = a->e[i];
        } else {
            for (size_t k = i; k < j; k++)
                ccm_error("event=allow_skipped dir=%s name=%s key=%s reason=\"the same public "
                          "key is in %zu certificates\"",
                          dir, a->e[k].name, a->e[k].public_key, j - i);
        }
        i = j;
    }
    a->n = w;
    *out = a;
    return 0;
}

const ccm_auth_entry_t *ccm_auth_allow_find(const ccm_auth_allow_t *a, const char *public_key)
{
    if (!a || !public_key || a->n == 0)
        return NULL;
    ccm_auth_entry_t probe;
    if (!s_copy(probe.public_key, sizeof probe.public_key, public_key))
        return NULL;
    return bsearch(&probe, a->e, a->n, sizeof *a->e, s_entry_cmp);
}

size_t ccm_auth_allow_size(const ccm_auth_allow_t *a)
{
    return a ? a->n : 0;
}

const ccm_auth_entry_t *ccm_auth_allow_at(const ccm_auth_allow_t *a, size_t i)
{
    return &a->e[i];
}

/* FNV-1a over bytes, continuing from h. */
static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= ((const uint8_t *)p)[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t ccm_auth_allow_digest(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    /* Sum of per-file digests: independent of readdir's order. */
    uint64_t sum = 1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!s_is_pub(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue;
        uint64_t h = 14695981039346656037ULL;
        h = s_fnv(h, de->d_name, strlen(de->d_name));
        int64_t f[5] = {(int64_t)st.st_ino, (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                        (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ctim.tv_nsec};
        h = s_fnv(h, f, sizeof f);
        sum += h;
    }
    closedir(d);
    return sum;
}

/* ---- ZAP ---- */

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct {
    char key[CCM_AUTH_KEY_LEN + 1];
    int64_t logged_ms; /* last time a refusal of this key was logged */
    uint64_t since;    /* refusals not logged since then */
} refused_t;

struct ccm_auth_zap {
    void *sock;      /* ROUTER bound to the ZAP endpoint */
    ccm_frames_t *m; /* scratch */
    refused_t refused[S_REFUSED_SLOTS];
};

int ccm_auth_zap_new(void *ctx, ccm_auth_zap_t **out)
{
    *out = NULL;
    ccm_auth_zap_t *z = calloc(1, sizeof *z);
    if (!z || !(z->m = ccm_frames_new())) {
        free(z);
        return CCM_ENOMEM;
    }
    int linger = 0;
    z->sock = zmq_socket(ctx, ZMQ_ROUTER);
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, S_ZAP_ENDPOINT) != 0) {
        ccm_error("event=zap_bind_failed endpoint=%s error=\"%s\"", S_ZAP_ENDPOINT,
                  zmq_strerror(zmq_errno()));
        ccm_auth_zap_destroy(&z);
        return CCM_EIO;
    }
    *out = z;
    return 0;
}

void ccm_auth_zap_destroy(ccm_auth_zap_t **p)
{
    if (!p || !*p)
        return;
    if ((*p)->sock)
        zmq_close((*p)->sock);
    ccm_frames_destroy(&(*p)->m);
    free(*p);
    *p = NULL;
}

void *ccm_auth_zap_socket(ccm_auth_zap_t *z)
{
    return z->sock;
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs a refusal, at most once a minute per key (a refused peer reconnects, and
 * is refused again, many times a second). */
static void s_log_refused(ccm_auth_zap_t *z, const char *key, const char *address, const char *why)
{
    int64_t now = s_mono_ms();
    refused_t *slot = NULL, *oldest = &z->refused[0];
    for (size_t i = 0; i < S_REFUSED_SLOTS; i++) {
        if (strcmp(z->refused[i].key, key) == 0) {
            slot = &z->refused[i];
            break;
        }
        if (z->refused[i].logged_ms < oldest->logged_ms)
            oldest = &z->refused[i];
    }
    if (slot && now - slot->logged_ms < S_REFUSED_LOG_MS) {
        slot->since++;
        return;
    }
    if (!slot) {
        slot = oldest;
        memset(slot, 0, sizeof *slot);
        s_copy(slot->key, sizeof slot->key, key);
    }
    ccm_warn("event=auth_refused key=%s address=%s reason=\"%s\" repeats=%llu", key[0] ? key : "-",
             address, why, (unsigned long long)slot->since);
    slot->logged_ms = now;
    slot->since = 0;
}

/* Answers one request held in z->m: identity · "" · version · request id · domain
 * · address · routing id · mechanism · credentials… */
static void s_zap_one(ccm_auth_zap_t *z, const ccm_auth_allow_t *allow)
{
    ccm_frames_t *m = z->m;
    size_t n = ccm_frames_size(m);
    if (n < 8 || ccm_frames_len(m, 1) != 0 || !ccm_frames_eq(m, 2, "1.0")) {
        ccm_warn("event=zap_bad_request frames=%zu", n); /* from libzmq: never expected */
        return;
    }
    char address[64] = "-";
    size_t alen = ccm_frames_len(m, 5);
    if (alen > 0 && alen < sizeof address) {
        memcpy(address, ccm_frames_data(m, 5), alen);
        address[alen] = '\0';
    }
    char key[CCM_AUTH_KEY_LEN + 1] = "";
    const char *code = "400", *text = "unknown key";
    if (!ccm_frames_eq(m, 7, "CURVE")) {
        text = "CURVE required";
        s_log_refused(z, "", address, "not CURVE: every ccm socket needs CURVE when keys are on");
    } else if (n != 9 || ccm_frames_len(m, 8) != 32 ||
               !zmq_z85_encode(key, ccm_frames_data(m, 8), 32)) {
        text = "malformed CURVE credentials";
        s_log_refused(z, "", address, text);
    } else if (!ccm_auth_allow_find(allow, key)) {
        s_log_refused(z, key, address, "public key not in the allow directory");
    } else {
        code = "200";
        text = "OK";
    }
    /* identity · "" · version · request id · status · text · user id · metadata */
    ccm_frames_t *r = ccm_frames_new();
    if (!r)
        return;
    int rc = ccm_frames_push(r, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
    if (!rc)
        rc = ccm_frames_push(r, "", 0);
    if (!rc)
        rc = ccm_frames_push_str(r, "1.0");
    if (!rc)
        rc = ccm_frames_push(r, ccm_frames_data(m, 3), ccm_frames_len(m, 3));
    if (!rc)
        rc = ccm_frames_push_str(r, code);
    if (!rc)
        rc = ccm_frames_push_str(r, text);
    if (!rc)
        rc = ccm_frames_push_str(r, code[0] == '2' ? key : "");
    if (!rc)
        rc = ccm_frames_push(r, "", 0);
    /* Unanswered, libzmq keeps the handshake pending: the peer gets nowhere. */
    if (!rc && ccm_frames_send(r, z->sock, ZMQ_DONTWAIT) != 0)
        ccm_warn("event=zap_reply_failed error=\"%s\"", zmq_strerror(zmq_errno()));
    ccm_frames_destroy(&r);
}

int ccm_auth_zap_handle(ccm_auth_zap_t *z, const ccm_auth_allow_t *allow)
{
    int answered = 0;
    for (;;) {
        int rc = ccm_frames_recv(z->m, z->sock, ZMQ_DONTWAIT);
        if (rc == CCM_EAGAIN || rc == CCM_EIO)
            break;
        if (rc == 0) {
            s_zap_one(z, allow);
            answered++;
        }
        ccm_frames_clear(z->m);
    }
    return answered;
}
