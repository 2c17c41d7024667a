/* auth — CURVE keys, principals, the broker's allow list and its ZAP handler.
 *
 * Key files are ZeroMQ certificates in czmq's zcert text format (ZPL: a
 * `metadata` section with `role` and `clinics`, a `curve` section with Z85
 * `public-key` and, in a secret file, `secret-key`), so czmq's zcert_load reads
 * them and zcert-made files are read here. NAME.key holds the key pair and must
 * be private to its owner (no group or other permission bits: refused
 * otherwise); NAME.pub holds the public key and metadata and is what the broker
 * admits by finding it in its `allow` directory.
 *
 * A principal is "ROLE:CLINICS:NAME" (proto/README.md §6): ROLE one of admin,
 * coordinator, telephony, billing, watcher or service:SERVICE; CLINICS the
 * comma-separated clinic ids the key is scoped to, or "*" for every clinic; NAME
 * the certificate's file name without ".pub". It never holds more than
 * CCM_PRINCIPAL_MAX bytes. Without keys (loopback development) it is "dev". */
#ifndef CCM_AUTH_H
#define CCM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Z85 text of a 32-byte CURVE key. */
#define CCM_AUTH_KEY_LEN 40
/* Longest key name (file name without .key/.pub), role and clinic list. */
#define CCM_AUTH_NAME_MAX 64
#define CCM_AUTH_ROLE_MAX 72
#define CCM_AUTH_CLINICS_MAX 116
/* Longest principal: role, clinics and name with their two separators. */
#define CCM_PRINCIPAL_MAX 256
/* The principal of every request while the broker runs without keys. */
#define CCM_PRINCIPAL_DEV "dev"
/* The ZAP domain every ccm CURVE server socket sets (RFC 27). */
#define CCM_AUTH_ZAP_DOMAIN "ccm"
/* Environment variables ccm_client_new() takes its keys from. */
#define CCM_AUTH_ENV_KEY "CCM_KEY"
#define CCM_AUTH_ENV_BROKER_KEY "CCM_BROKER_KEY"

/* One certificate as read from (or written to) a key file. */
typedef struct {
    char name[CCM_AUTH_NAME_MAX + 1];       /* the file name without .key / .pub */
    char public_key[CCM_AUTH_KEY_LEN + 1];  /* Z85 */
    char secret_key[CCM_AUTH_KEY_LEN + 1];  /* Z85; "" in a public certificate */
    char role[CCM_AUTH_ROLE_MAX + 1];       /* "" when the file names none */
    char clinics[CCM_AUTH_CLINICS_MAX + 1]; /* "c1,c2", or "*" = every clinic */
} ccm_auth_cert_t;

/* True for admin, coordinator, telephony, billing, watcher and service:NAME
 * (NAME 1-64 of [A-Za-z0-9._-]). */
bool ccm_auth_role_valid(const char *role);
/* True for a key name or clinic id: 1 to max bytes of [A-Za-z0-9._-]. */
bool ccm_auth_name_valid(const char *name, size_t max);

/* Writes dir/NAME.key (mode 0600, key pair and metadata) and dir/NAME.pub (public
 * key and metadata) for a fresh key pair; dir is created (0700) when missing.
 * role: NULL for none (e.g. the broker's own key); clinics: comma-separated
 * clinic ids, NULL or "" for every clinic. Never overwrites a file. On 0, *out
 * (may be NULL) is the certificate written. CCM_EINVAL (bad name, role or
 * clinics), CCM_EEXIST (a file is there), CCM_EIO; the reason is in err. */
int ccm_auth_keygen(const char *dir, const char *name, const char *role, const char *clinics,
                    ccm_auth_cert_t *out, char *err, size_t errlen);

/* Reads a secret key file (.key): it must hold a key pair that matches and give
 * neither group nor others any permission. 0, CCM_ENOTFOUND, CCM_EINVAL
 * (loose permissions, not a certificate, bad or mismatched keys, bad metadata),
 * CCM_EIO; the reason, naming the file, is in err. */
int ccm_auth_load_secret(const char *path, ccm_auth_cert_t *out, char *err, size_t errlen);
/* Reads a public certificate (.pub, or the public half of a .key). Same codes. */
int ccm_auth_load_public(const char *path, ccm_auth_cert_t *out, char *err, size_t errlen);

/* Writes c's principal "ROLE:CLINICS:NAME" into out. 0, or CCM_EINVAL when c has
 * no valid role or name or the principal would exceed len - 1 bytes. */
int ccm_auth_principal(const ccm_auth_cert_t *c, char *out, size_t len);

/* A principal split into its parts (for the services' authorisation). */
typedef struct {
    char role[CCM_AUTH_ROLE_MAX + 1];       /* e.g. "coordinator", "service:billing", "dev" */
    char clinics[CCM_AUTH_CLINICS_MAX + 1]; /* "c1,c2" or "*" */
    char name[CCM_AUTH_NAME_MAX + 1];
} ccm_auth_principal_t;

/* Splits "ROLE:CLINICS:NAME" (from the right: a service role holds a colon);
 * "dev" gives role "dev", clinics "*", name "dev". 0, or CCM_EINVAL when
 * principal is neither (*out is then empty). */
int ccm_auth_principal_parse(const char *principal, ccm_auth_principal_t *out);
/* True when p's clinic scope includes clinic ("*" includes every clinic). */
bool ccm_auth_principal_in_clinic(const ccm_auth_principal_t *p, const char *clinic);

/* ---- connecting: the keys of a client-side socket ---- */

typedef struct {
    char public_key[CCM_AUTH_KEY_LEN + 1]; /* ours */
    char secret_key[CCM_AUTH_KEY_LEN + 1]; /* ours */
    char server_key[CCM_AUTH_KEY_LEN + 1]; /* the broker's public key */
} ccm_auth_curve_t;

/* Loads our key pair from key_path (.key) and the broker's public key from
 * broker_key_path (.pub). Both are needed. 0 or the codes of the loaders; the
 * reason is in err. */
int ccm_auth_curve_load(const char *key_path, const char *broker_key_path, ccm_auth_curve_t *out,
                        char *err, size_t errlen);
/* Loads the keys named by $CCM_KEY and $CCM_BROKER_KEY. 0 with *on = true, 0 with
 * *on = false when neither is set, or an error (one set without the other:
 * CCM_EINVAL; a file the loaders refuse); the reason is in err. */
int ccm_auth_curve_from_env(ccm_auth_curve_t *out, bool *on, char *err, size_t errlen);
/* Makes socket a CURVE client with c's keys (before it connects). 0 or CCM_EIO. */
int ccm_auth_curve_client(void *socket, const ccm_auth_curve_t *c);
/* Makes socket a CURVE server with own's secret key and the ccm ZAP domain
 * (before it binds). 0 or CCM_EIO. */
int ccm_auth_curve_server(void *socket, const ccm_auth_cert_t *own);

/* The rule for endpoints: without keys only loopback ones (see
 * ccm_wire_endpoint_is_local). 0, or CCM_EINVAL after logging one
 * `event=refused` line that names the endpoint and says how to make keys.
 * who names the setting for the message (e.g. "[enrollment] broker"). */
int ccm_auth_endpoint_check(const char *endpoint, bool keys, const char *who);

/* ---- the broker's allow list: the certificates in one directory ---- */

typedef struct {
    char public_key[CCM_AUTH_KEY_LEN + 1]; /* Z85 */
    char principal[CCM_PRINCIPAL_MAX + 1]; /* "ROLE:CLINICS:NAME" */
    char name[CCM_AUTH_NAME_MAX + 1];      /* NAME */
    char service[CCM_AUTH_NAME_MAX + 1];   /* SERVICE of a service:SERVICE role, else "" */
} ccm_auth_entry_t;

typedef struct ccm_auth_allow ccm_auth_allow_t;

/* Reads every *.pub in dir. A certificate that cannot be read, has no valid
 * role, clinics or name, or shares its public key with another is left out
 * (each logged once, as event=allow_skipped), so it admits nobody. 0 with *out
 * (caller destroys), CCM_EIO (the directory cannot be read: logged), CCM_ENOMEM. */
int ccm_auth_allow_load(const char *dir, ccm_auth_allow_t **out);
/* An empty list (admits nobody). NULL when out of memory. */
ccm_auth_allow_t *ccm_auth_allow_new(void);
void ccm_auth_allow_destroy(ccm_auth_allow_t **p);
/* The entry of a Z85 public key, borrowed until the list is destroyed, or NULL. */
const ccm_auth_entry_t *ccm_auth_allow_find(const ccm_auth_allow_t *a, const char *public_key);
size_t ccm_auth_allow_size(const ccm_auth_allow_t *a);
/* Entry i (< size), in public-key order. */
const ccm_auth_entry_t *ccm_auth_allow_at(const ccm_auth_allow_t *a, size_t i);
/* A digest of dir's *.pub files (names, inodes, sizes, modification times): it
 * changes when a certificate is added, removed or rewritten, so a caller can
 * poll it cheaply and reload only then. 0 when dir cannot be read. */
uint64_t ccm_auth_allow_digest(const char *dir);

/* ---- the ZAP handler (RFC 27) ---- */

typedef struct ccm_auth_zap ccm_auth_zap_t;

/* Binds the ZAP endpoint (inproc://zeromq.zap.01) in ZeroMQ context ctx. Bind
 * it before any CURVE server socket of ctx binds: a context without a handler
 * lets CURVE clients in unchecked. 0, CCM_EIO (cannot bind: logged), CCM_ENOMEM. */
int ccm_auth_zap_new(void *ctx, ccm_auth_zap_t **out);
void ccm_auth_zap_destroy(ccm_auth_zap_t **p);
/* The handler's socket, for zmq_poll (ZMQ_POLLIN). */
void *ccm_auth_zap_socket(ccm_auth_zap_t *z);
/* Answers every ZAP request waiting: 200 with User-Id = the client's Z85 public
 * key when allow holds it, else 400 (logged, at most once a minute per key). Any
 * mechanism but CURVE is refused. Returns the number of requests answered. */
int ccm_auth_zap_handle(ccm_auth_zap_t *z, const ccm_auth_allow_t *allow);

#endif
