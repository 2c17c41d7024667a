/* ccmctl careplan … — the care plan service's commands. The client only
 * translates: a plan file (JSON, format in services/careplan/README.md) into the
 * protobuf Plan by the message descriptors, replies into text, JSON or a FHIR R4
 * CarePlan resource. Every rule lives in the service. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/careplan.pb-c.h"
#include "ccmctl.h"
#include "pbjson.h"

#define SERVICE "careplan"

/* Every flag any careplan command takes; each command checks what it needs. */
typedef struct {
    const char *clinic, *mrn, *program, *file, *author, *note, *request_id;
    const char *date, *method, *to;
    long version;
    bool substantial, fhir;
    char **args; /* positional arguments */
    int nargs;
} args_t;

static int s_parse(ccmctl_t *ctl, int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {{"clinic", required_argument, 0, 'c'},
                                         {"mrn", required_argument, 0, 'm'},
                                         {"program", required_argument, 0, 'p'},
                                         {"file", required_argument, 0, 'f'},
                                         {"author", required_argument, 0, 'a'},
                                         {"note", required_argument, 0, 'n'},
                                         {"request-id", required_argument, 0, 'r'},
                                         {"date", required_argument, 0, 'd'},
                                         {"method", required_argument, 0, 'M'},
                                         {"to", required_argument, 0, 't'},
                                         {"version", required_argument, 0, 'v'},
                                         {"substantial", no_argument, 0, 's'},
                                         {"fhir", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->clinic = ctl->clinic;
    a->program = "CCM";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->clinic = optarg; break;
        case 'm': a->mrn = optarg; break;
        case 'p': a->program = optarg; break;
        case 'f': a->file = optarg; break;
        case 'a': a->author = optarg; break;
        case 'n': a->note = optarg; break;
        case 'r': a->request_id = optarg; break;
        case 'd': a->date = optarg; break;
        case 'M': a->method = optarg; break;
        case 't': a->to = optarg; break;
        case 's': a->substantial = true; break;
        case 'F': a->fhir = true; break;
        case 'v': {
            char *end;
            a->version = strtol(optarg, &end, 10);
            if (*end || a->version < 1 || a->version > 4294967295L)
                return ccmctl_usage("--version must be a version number (1, 2, …)");
            break;
        }
        case ':': return ccmctl_usage("%s needs a value", argv[optind - 1]);
        default: return ccmctl_usage("unknown option %s", argv[optind - 1]);
        }
    }
    a->args = argv + optind;
    a->nargs = argc - optind;
    return 0;
}

static int s_need(const char *flag, const char *value)
{
    return value ? 0 : ccmctl_usage("%s is required", flag);
}

/* An enum value by its name (case-insensitive), or -1. */
static int s_enum(const ProtobufCEnumDescriptor *d, const char *name)
{
    char up[32];
    size_t i = 0;
    for (; name[i] && i < sizeof up - 1; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    up[i] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, up);
    return v && v->value != 0 ? v->value : -1;
}

static const char *s_enum_name(const ProtobufCEnumDescriptor *d, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    return v ? v->name : "?";
}

/* ---- JSON -> protobuf, driven by the descriptor (the inverse of pbjson) ---- */

/* Fills m (initialised) from object j; path names the place for errors. Every
 * allocation hangs off m, so protobuf_c_message_free_unpacked(m, NULL) frees it. */
static int s_from_json(json_t *j, ProtobufCMessage *m, const char *path, char *err, size_t len);

static int s_value_from_json(json_t *v, const ProtobufCFieldDescriptor *f, void *p,
                             const char *path, char *err, size_t len)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(v))
            break;
        if (!(*(char **)p = strdup(json_string_value(v))))
            return -1;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 4294967295LL)
            break;
        *(uint32_t *)p = (uint32_t)json_integer_value(v);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            break;
        *(protobuf_c_boolean *)p = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = json_is_string(v) ? s_enum(f->descriptor, json_string_value(v)) : -1;
        if (e < 0)
            break;
        *(int *)p = e;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *d = f->descriptor;
        if (!json_is_object(v))
            break;
        ProtobufCMessage *sub = malloc(d->sizeof_message);
        if (!sub)
            return -1;
        protobuf_c_message_init(d, sub);
        *(ProtobufCMessage **)p = sub;
        return s_from_json(v, sub, path, err, len);
    }
    default: break;
    }
    snprintf(err, len, "%s: must be %s", path,
             f->type == PROTOBUF_C_TYPE_STRING    ? "a string"
             : f->type == PROTOBUF_C_TYPE_UINT32  ? "a whole number, 0 or more"
             : f->type == PROTOBUF_C_TYPE_BOOL    ? "true or false"
             : f->type == PROTOBUF_C_TYPE_MESSAGE ? "an object"
                                                  : "one of the names the format lists");
    return -1;
}

static int s_from_json(json_t *j, ProtobufCMessage *m, const char *path, char *err, size_t len)
{
    if (!json_is_object(j)) {
        snprintf(err, len, "%s: must be an object", path);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, key);
        if (!f) {
            snprintf(err, len, "%s: unknown element (see services/careplan/README.md)", sub);
            return -1;
        }
        if (json_is_null(v))
            continue;
        char *base = (char *)m;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (s_value_from_json(v, f, base + f->offset, sub, err, len) != 0)
                return -1;
            continue;
        }
        if (!json_is_array(v)) {
            snprintf(err, len, "%s: must be a list", sub);
            return -1;
        }
        size_t n = json_array_size(v);
        size_t esize = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE
                           ? sizeof(void *)
                       : f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                                         : 4;
        if (f->type == PROTOBUF_C_TYPE_UINT64 || f->type == PROTOBUF_C_TYPE_INT64 ||
            f->type == PROTOBUF_C_TYPE_DOUBLE) {
            snprintf(err, len, "%s: not supported in plan files", sub);
            return -1;
        }
        void *arr = calloc(n ? n : 1, esize);
        if (!arr)
            return -1;
        *(void **)(base + f->offset) = arr;
        size_t *count = (size_t *)(base + f->quantifier_offset);
        for (size_t i = 0; i < n; i++) {
            char item[280];
            snprintf(item, sizeof item, "%s[%zu]", sub, i);
            if (s_value_from_json(json_array_get(v, i), f, (char *)arr + i * esize, item, err,
                                  len) != 0) {
                /* a message allocated before failing is freed with the rest */
                if (f->type == PROTOBUF_C_TYPE_MESSAGE && ((void **)arr)[i])
                    *count = i + 1;
                return -1;
            }
            *count = i + 1;
        }
    }
    return 0;
}

/* Reads a plan file ("-" = stdin) into a new Plan (caller frees with
 * ccm__careplan__plan__free_unpacked), or prints why not. */
static int s_read_plan(const char *file, Ccm__Careplan__Plan **out)
{
    json_error_t je;
    json_t *j = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(file, 0, &je);
    if (!j) {
        fprintf(stderr, "ccmctl: %s:%d:%d: %s\n", file, je.line, je.column, je.text);
        return CCMCTL_USAGE;
    }
    /* A file may hold the plan itself or a `show --json` / `export` result. */
    json_t *body = j;
    json_t *ver = json_object_get(j, "version");
    if (json_is_object(ver) && json_is_object(json_object_get(ver, "plan")))
        body = json_object_get(ver, "plan");
    Ccm__Careplan__Plan *p = malloc(sizeof *p);
    if (!p) {
        json_decref(j);
        return CCMCTL_ERROR;
    }
    ccm__careplan__plan__init(p);
    char err[512];
    int rc = s_from_json(body, &p->base, "plan", err, sizeof err);
    json_decref(j);
    if (rc != 0) {
        ccm__careplan__plan__free_unpacked(p, NULL);
        fprintf(stderr, "ccmctl: %s: %s\n", file, err);
        return CCMCTL_USAGE;
    }
    *out = p;
    return 0;
}

/* ---- human-readable output ---- */

/* A message's non-empty fields as "name: value; …". */
static void s_print_fields(const ProtobufCMessage *m)
{
    const char *sep = "";
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        const char *p = (const char *)m + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING && (*(char *const *)p)[0])
            printf("%s%s: %s", sep, f->name, *(char *const *)p), sep = "; ";
        else if (f->type == PROTOBUF_C_TYPE_UINT32 && *(const uint32_t *)p)
            printf("%s%s: %u", sep, f->name, *(const uint32_t *)p), sep = "; ";
    }
}

static void s_print_plan(const Ccm__Careplan__Plan *plan)
{
    const ProtobufCMessageDescriptor *d = &ccm__careplan__plan__descriptor;
    for (unsigned i = 0; plan && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)plan + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if ((*(char *const *)p)[0])
                printf("%-25s %s\n", f->name, *(char *const *)p);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)plan + f->quantifier_offset);
            if (n)
                printf("%s\n", f->name);
            for (size_t k = 0; k < n; k++) {
                printf("  - ");
                s_print_fields((*(ProtobufCMessage *const *const *)p)[k]);
                putchar('\n');
            }
        } else if (*(ProtobufCMessage *const *)p) {
            printf("%-25s ", f->name);
            s_print_fields(*(ProtobufCMessage *const *)p);
            putchar('\n');
        }
    }
}

static void s_print_view(const Ccm__Careplan__CarePlanView *v)
{
    const Ccm__Careplan__CarePlan *h = v->careplan;
    const Ccm__Careplan__Version *ver = v->version;
    char t[40];
    if (h) {
        printf("care plan  %s/%s %s  %s", h->clinic, h->mrn,
               s_enum_name(&ccm__careplan__program__descriptor, h->program),
               s_enum_name(&ccm__careplan__status__descriptor, h->status));
        if (h->established_version)
            printf(" (version %u, %s, by %s)", h->established_version,
                   ccmctl_time(h->established_us, t, sizeof t), h->established_by);
        putchar('\n');
    }
    if (v->patient)
        printf("patient    %s, %s (born %s, MBI %s)\n", v->patient->family_name,
               v->patient->given_name, v->patient->birth_date, v->patient->mbi);
    if (ver) {
        printf("version    %u of %u, %s by %s%s%s%s\n", ver->version, h ? h->current_version : 0,
               ccmctl_time(ver->time_us, t, sizeof t), ver->author,
               ver->substantial ? " (substantial)" : "", ver->note[0] ? ": " : "", ver->note);
    }
    if (h) {
        printf("review     %s\n", h->next_review[0] ? h->next_review : "(none scheduled)");
        for (size_t i = 0; i < h->n_copies; i++)
            printf("copy given %s %s to %s (version %u)\n", h->copies[i]->date,
                   s_enum_name(&ccm__careplan__copy_method__descriptor, h->copies[i]->method),
                   s_enum_name(&ccm__careplan__recipient__descriptor, h->copies[i]->to),
                   h->copies[i]->version);
    }
    printf("missing    ");
    for (size_t i = 0; i < v->n_missing; i++)
        printf("%s%s", i ? ", " : "", v->missing[i]);
    printf("%s\n\n", v->n_missing ? "" : "nothing required");
    if (ver)
        s_print_plan(ver->plan);
}

static void s_print_history(const Ccm__Careplan__HistoryReply *h)
{
    char t[40];
    printf("%-7s %-20s %-20s %-5s %s\n", "VERSION", "TIME", "AUTHOR", "SUBST", "NOTE");
    for (size_t i = 0; i < h->n_versions; i++) {
        const Ccm__Careplan__Version *v = h->versions[i];
        printf("%-7u %-20s %-20s %-5s %s\n", v->version, ccmctl_time(v->time_us, t, sizeof t),
               v->author, v->substantial ? "yes" : "no", v->note);
    }
    if (h->careplan)
        printf("(%zu versions; %s)\n", h->n_versions,
               s_enum_name(&ccm__careplan__status__descriptor, h->careplan->status));
}

static void s_print_diff(const Ccm__Careplan__DiffReply *d)
{
    printf("changes from version %u to %u:\n", d->from, d->to);
    for (size_t i = 0; i < d->n_changes; i++) {
        const Ccm__Careplan__Change *c = d->changes[i];
        char mark = c->kind == CCM__CAREPLAN__CHANGE__KIND__ADDED     ? '+'
                    : c->kind == CCM__CAREPLAN__CHANGE__KIND__REMOVED ? '-'
                                                                      : '~';
        printf("%c %s", mark, c->element);
        if (c->item[0])
            printf(" [%s]", c->item);
        if (c->field[0])
            printf(".%s", c->field);
        if (c->kind == CCM__CAREPLAN__CHANGE__KIND__ADDED)
            printf(": %s\n", c->after);
        else if (c->kind == CCM__CAREPLAN__CHANGE__KIND__REMOVED)
            printf(": %s\n", c->before);
        else
            printf(": %s -> %s\n", c->before, c->after);
    }
    if (d->n_changes == 0)
        printf("(no changes)\n");
}

static void s_print_due(const Ccm__Careplan__DueList *d)
{
    printf("%-12s %-7s %-12s %-8s %s\n", "MRN", "PROGRAM", "REVIEW DUE", "VERSION", "STATUS");
    for (size_t i = 0; i < d->n_items; i++) {
        const Ccm__Careplan__DueItem *it = d->items[i];
        printf("%-12s %-7s %-12s %-8u %s\n", it->mrn,
               s_enum_name(&ccm__careplan__program__descriptor, it->program), it->next_review,
               it->current_version, s_enum_name(&ccm__careplan__status__descriptor, it->status));
    }
    printf("(%zu care plans due for review on %s)\n", d->n_items, d->today);
}

/* ---- FHIR R4 CarePlan ---- */

/* A FHIR id ([A-Za-z0-9.-]{1,64}) made from text. */
static void s_fhir_id(char *out, size_t len, const char *a, const char *b, const char *c)
{
    snprintf(out, len, "%s-%s-%s", a, b, c);
    for (char *p = out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            *p = '-';
    if (strlen(out) > 64)
        out[64] = '\0';
}

static json_t *s_subject(const Ccm__Careplan__CarePlanView *v)
{
    char system[96], display[256] = "";
    snprintf(system, sizeof system, "urn:ccm:clinic:%s:mrn", v->careplan->clinic);
    if (v->patient)
        snprintf(display, sizeof display, "%s, %s", v->patient->family_name,
                 v->patient->given_name);
    json_t *s =
        json_pack("{s:{s:s,s:s}}", "identifier", "system", system, "value", v->careplan->mrn);
    if (display[0])
        json_object_set_new(s, "display", json_string(display));
    return s;
}

static void s_note(json_t *notes, const char *label, const char *text)
{
    if (!text || !text[0])
        return;
    char *buf = malloc(strlen(label) + strlen(text) + 3);
    if (!buf)
        return;
    sprintf(buf, "%s: %s", label, text);
    json_array_append_new(notes, json_pack("{s:s}", "text", buf));
    free(buf);
}

static json_t *s_detail(const char *kind, const char *status, const char *description)
{
    return json_pack("{s:{s:s,s:s,s:s}}", "detail", "kind", kind, "status", status, "description",
                     description);
}

static json_t *s_fhir(const Ccm__Careplan__CarePlanView *v)
{
    const Ccm__Careplan__CarePlan *h = v->careplan;
    const Ccm__Careplan__Version *ver = v->version;
    static const Ccm__Careplan__Plan empty = CCM__CAREPLAN__PLAN__INIT;
    const Ccm__Careplan__Plan *p = ver && ver->plan ? ver->plan : &empty;
    bool active = h->status == CCM__CAREPLAN__STATUS__ESTABLISHED;
    const char *program = s_enum_name(&ccm__careplan__program__descriptor, h->program);
    char id[80], created[40], updated[40], ident[200], title[64];
    s_fhir_id(id, sizeof id, h->clinic, h->mrn, program);
    snprintf(ident, sizeof ident, "%s/%s/%s", h->clinic, h->mrn, program);
    snprintf(title, sizeof title, "%s care plan", program);
    ccmctl_time(h->created_us, created, sizeof created);
    ccmctl_time(ver ? ver->time_us : h->updated_us, updated, sizeof updated);
    char versionid[16];
    snprintf(versionid, sizeof versionid, "%u", ver ? ver->version : 0);

    json_t *r =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s}],s:s,s:s,s:[{s:[{s:s,s:s,s:s}],s:s}],s:s,s:s}",
                  "resourceType", "CarePlan", "id", id, "meta", "versionId", versionid,
                  "lastUpdated", updated, "identifier", "system", "urn:ccm:careplan", "value",
                  ident, "status", active ? "active" : "draft", "intent", "plan", "category",
                  "coding", "system", "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                  "code", "assess-plan", "display", "Assessment and Plan of Treatment", "text",
                  title, "title", title, "created", created);
    if (!r)
        return NULL;
    if (p->expected_outcome[0])
        json_object_set_new(r, "description", json_string(p->expected_outcome));
    json_object_set_new(r, "subject", s_subject(v));
    json_object_set_new(r, "period", json_pack("{s:s}", "start", created));
    if (ver && ver->author[0])
        json_object_set_new(r, "author", json_pack("{s:s}", "display", ver->author));

    json_t *contained = json_array(), *addresses = json_array(), *goals = json_array();
    json_t *activity = json_array(), *notes = json_array();
    for (size_t i = 0; i < p->n_problems; i++) {
        const Ccm__Careplan__Problem *pr = p->problems[i];
        char cid[32], display[1100];
        snprintf(cid, sizeof cid, "problem-%zu", i + 1);
        snprintf(display, sizeof display, "%s %s", pr->icd10, pr->description);
        json_t *code = json_pack("{s:[{s:s,s:s}]}", "coding", "system",
                                 "http://hl7.org/fhir/sid/icd-10-cm", "code", pr->icd10);
        if (pr->description[0]) {
            json_object_set_new(json_array_get(json_object_get(code, "coding"), 0), "display",
                                json_string(pr->description));
            json_object_set_new(code, "text", json_string(pr->description));
        }
        json_array_append_new(
            contained, json_pack("{s:s,s:s,s:{s:[{s:s,s:s}]},s:o,s:o}", "resourceType", "Condition",
                                 "id", cid, "clinicalStatus", "coding", "system",
                                 "http://terminology.hl7.org/CodeSystem/condition-clinical", "code",
                                 "active", "code", code, "subject", s_subject(v)));
        char ref[40];
        snprintf(ref, sizeof ref, "#%s", cid);
        json_array_append_new(addresses,
                              json_pack("{s:s,s:s}", "reference", ref, "display", display));
    }
    for (size_t i = 0; i < p->n_goals; i++) {
        const Ccm__Careplan__Goal *g = p->goals[i];
        char gid[32], ref[40];
        snprintf(gid, sizeof gid, "goal-%zu", i + 1);
        snprintf(ref, sizeof ref, "#%s", gid);
        json_t *goal = json_pack("{s:s,s:s,s:s,s:{s:s},s:o}", "resourceType", "Goal", "id", gid,
                                 "lifecycleStatus", active ? "active" : "proposed", "description",
                                 "text", g->description, "subject", s_subject(v));
        if (g->target[0] || g->target_date[0]) {
            json_t *t = json_object();
            if (g->target[0])
                json_object_set_new(t, "detailString", json_string(g->target));
            if (g->target_date[0])
                json_object_set_new(t, "dueDate", json_string(g->target_date));
            json_object_set_new(goal, "target", json_pack("[o]", t));
        }
        json_array_append_new(contained, goal);
        json_array_append_new(goals,
                              json_pack("{s:s,s:s}", "reference", ref, "display", g->description));
    }
    const char *st = active ? "in-progress" : "not-started";
    for (size_t i = 0; i < p->n_interventions; i++) {
        json_t *a = s_detail("Task", st, p->interventions[i]->description);
        json_object_set_new(json_object_get(a, "detail"), "performer",
                            json_pack("[{s:s}]", "display", p->interventions[i]->responsible));
        json_array_append_new(activity, a);
    }
    for (size_t i = 0; i < p->n_medications; i++) {
        const Ccm__Careplan__Medication *m = p->medications[i];
        char desc[2100];
        snprintf(desc, sizeof desc, "%s%s%s%s%s", m->name, m->dose[0] ? " " : "", m->dose,
                 m->instructions[0] ? "; " : "", m->instructions);
        json_t *a = s_detail("MedicationRequest", st, desc);
        json_object_set_new(json_object_get(a, "detail"), "productCodeableConcept",
                            json_pack("{s:s}", "text", m->name));
        json_array_append_new(activity, a);
    }
    for (size_t i = 0; i < p->n_community_services; i++) {
        const Ccm__Careplan__CommunityService *c = p->community_services[i];
        json_t *a = s_detail("ServiceRequest", st, c->notes[0] ? c->notes : c->name);
        json_object_set_new(json_object_get(a, "detail"), "code",
                            json_pack("{s:s}", "text", c->name));
        if (c->organization[0])
            json_object_set_new(json_object_get(a, "detail"), "performer",
                                json_pack("[{s:s}]", "display", c->organization));
        json_array_append_new(activity, a);
    }
    if (p->review && (p->review->interval_days || p->review->next_review[0] || ver)) {
        char when[128] = "";
        const char *next = ver && ver->next_review[0] ? ver->next_review : p->review->next_review;
        if (p->review->interval_days)
            snprintf(when, sizeof when, "every %u days%s%s", p->review->interval_days,
                     next[0] ? "; next " : "", next);
        else
            snprintf(when, sizeof when, "on %s", next);
        json_t *a = s_detail("Appointment", active ? "scheduled" : "not-started",
                             "Care plan review and revision");
        json_object_set_new(json_object_get(a, "detail"), "scheduledString", json_string(when));
        json_array_append_new(activity, a);
    }
    /* The care team: caregiver and outside contacts. */
    json_t *team = json_array();
    if (p->caregiver && p->caregiver->name[0]) {
        char role[256], member[512];
        snprintf(role, sizeof role, "caregiver%s%s", p->caregiver->relationship[0] ? " - " : "",
                 p->caregiver->relationship);
        snprintf(member, sizeof member, "%s%s%s", p->caregiver->name,
                 p->caregiver->contact[0] ? ", " : "", p->caregiver->contact);
        json_array_append_new(team, json_pack("{s:[{s:s}],s:{s:s}}", "role", "text", role, "member",
                                              "display", member));
    }
    for (size_t i = 0; i < p->n_coordination; i++) {
        const Ccm__Careplan__Contact *c = p->coordination[i];
        char member[512];
        snprintf(member, sizeof member, "%s%s%s", c->name, c->contact[0] ? ", " : "", c->contact);
        json_t *part = json_pack("{s:[{s:s}],s:{s:s}}", "role", "text",
                                 c->role[0] ? c->role : "contact", "member", "display", member);
        if (c->organization[0])
            json_object_set_new(part, "onBehalfOf", json_pack("{s:s}", "display", c->organization));
        json_array_append_new(team, part);
    }
    if (json_array_size(team)) {
        json_array_append_new(contained,
                              json_pack("{s:s,s:s,s:s,s:o}", "resourceType", "CareTeam", "id",
                                        "careteam", "status", "active", "participant", team));
        json_object_set_new(r, "careTeam", json_pack("[{s:s}]", "reference", "#careteam"));
    } else {
        json_decref(team);
    }
    s_note(notes, "Prognosis", p->prognosis);
    s_note(notes, "Symptom management", p->symptom_management);
    s_note(notes, "Medication management", p->medication_management);
    s_note(notes, "Functional assessment", p->functional_assessment);
    s_note(notes, "Cognitive assessment", p->cognitive_assessment);
    s_note(notes, "Psychosocial assessment", p->psychosocial_assessment);
    s_note(notes, "Environmental evaluation", p->environmental_assessment);
    if (p->caregiver)
        s_note(notes, "Caregiver assessment", p->caregiver->assessment);

    /* Empty lists are left out, as FHIR wants. */
    json_t *lists[] = {contained, addresses, goals, activity, notes};
    const char *names[] = {"contained", "addresses", "goal", "activity", "note"};
    for (size_t i = 0; i < 5; i++) {
        if (json_array_size(lists[i]))
            json_object_set_new(r, names[i], lists[i]);
        else
            json_decref(lists[i]);
    }
    return r;
}

/* ---- requests ---- */

typedef enum { OUT_VIEW, OUT_FHIR, OUT_PLAN } out_t;

/* Sends req and prints the reply as asked. */
static int s_run(ccmctl_t *ctl, Ccm__Careplan__Request *req, out_t out)
{
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, SERVICE, &req->base, &ccm__careplan__reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__Careplan__Reply *r = (Ccm__Careplan__Reply *)m;
    code = ccmctl_check(ctl, r->status);
    if (code == CCMCTL_OK) {
        switch (r->result_case) {
        case CCM__CAREPLAN__REPLY__RESULT_CAREPLAN:
            if (out == OUT_FHIR && r->careplan->careplan)
                ccmctl_print_json(s_fhir(r->careplan));
            else if (out == OUT_PLAN)
                ccmctl_print_json(r->careplan->version && r->careplan->version->plan
                                      ? ccm_pbjson(&r->careplan->version->plan->base)
                                      : json_object());
            else if (ctl->json)
                ccmctl_print_json(ccm_pbjson(&r->careplan->base));
            else
                s_print_view(r->careplan);
            break;
        case CCM__CAREPLAN__REPLY__RESULT_HISTORY:
            if (ctl->json)
                ccmctl_print_json(ccm_pbjson(&r->history->base));
            else
                s_print_history(r->history);
            break;
        case CCM__CAREPLAN__REPLY__RESULT_DIFF:
            if (ctl->json)
                ccmctl_print_json(ccm_pbjson(&r->diff->base));
            else
                s_print_diff(r->diff);
            break;
        case CCM__CAREPLAN__REPLY__RESULT_DUE:
            if (ctl->json)
                ccmctl_print_json(ccm_pbjson(&r->due->base));
            else
                s_print_due(r->due);
            break;
        default:
            fprintf(stderr, "ccmctl: %s answered without a result\n", SERVICE);
            code = CCMCTL_ERROR;
            break;
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

static const char s_verbs[] = "set, show, history, diff, establish, copy-given, due, export";

int ccmctl_cmd_careplan(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("careplan needs one of: %s", s_verbs);
    const char *verb = argv[1];
    args_t a;
    int rc = s_parse(ctl, argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    if (a.nargs != (strcmp(verb, "diff") == 0 ? 2 : 0))
        return strcmp(verb, "diff") == 0
                   ? ccmctl_usage("careplan diff needs two version numbers, e.g. diff 3 4")
                   : ccmctl_usage("unexpected argument \"%s\"", a.args[0]);
    if ((rc = s_need("--clinic", a.clinic)))
        return rc;
    if (strcmp(verb, "due") != 0 && (rc = s_need("--mrn", a.mrn)))
        return rc;
    int program = s_enum(&ccm__careplan__program__descriptor, a.program);
    if (program < 0)
        return ccmctl_usage("--program must be CCM, PCM or APCM");

    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Careplan__Request req = CCM__CAREPLAN__REQUEST__INIT;
    req.request_id = (char *)(a.request_id ? a.request_id : rid);
    char *clinic = (char *)a.clinic, *mrn = (char *)a.mrn;

    if (strcmp(verb, "set") == 0) {
        if ((rc = s_need("--file", a.file)))
            return rc;
        Ccm__Careplan__SetPlan in = CCM__CAREPLAN__SET_PLAN__INIT;
        if ((rc = s_read_plan(a.file, &in.plan)) != 0)
            return rc;
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        in.author = (char *)(a.author ? a.author : "");
        in.note = (char *)(a.note ? a.note : "");
        in.substantial = a.substantial;
        req.op_case = CCM__CAREPLAN__REQUEST__OP_SET_PLAN;
        req.set_plan = &in;
        rc = s_run(ctl, &req, OUT_VIEW);
        ccm__careplan__plan__free_unpacked(in.plan, NULL);
        return rc;
    }
    if (strcmp(verb, "show") == 0 || strcmp(verb, "export") == 0) {
        Ccm__Careplan__GetPlan in = CCM__CAREPLAN__GET_PLAN__INIT;
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        in.version = (uint32_t)a.version;
        req.request_id = "";
        req.op_case = CCM__CAREPLAN__REQUEST__OP_GET_PLAN;
        req.get_plan = &in;
        return s_run(ctl, &req,
                     strcmp(verb, "show") == 0 ? OUT_VIEW
                     : a.fhir                  ? OUT_FHIR
                                               : OUT_PLAN);
    }
    if (strcmp(verb, "history") == 0) {
        Ccm__Careplan__History in = CCM__CAREPLAN__HISTORY__INIT;
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        req.request_id = "";
        req.op_case = CCM__CAREPLAN__REQUEST__OP_HISTORY;
        req.history = &in;
        return s_run(ctl, &req, OUT_VIEW);
    }
    if (strcmp(verb, "diff") == 0) {
        long v[2];
        for (int i = 0; i < 2; i++) {
            char *end;
            v[i] = strtol(a.args[i], &end, 10);
            if (*end || v[i] < 1 || v[i] > 4294967295L)
                return ccmctl_usage("careplan diff: \"%s\" is not a version number", a.args[i]);
        }
        Ccm__Careplan__Diff in = CCM__CAREPLAN__DIFF__INIT;
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        in.from = (uint32_t)v[0];
        in.to = (uint32_t)v[1];
        req.request_id = "";
        req.op_case = CCM__CAREPLAN__REQUEST__OP_DIFF;
        req.diff = &in;
        return s_run(ctl, &req, OUT_VIEW);
    }
    if (strcmp(verb, "establish") == 0) {
        Ccm__Careplan__Establish in = CCM__CAREPLAN__ESTABLISH__INIT;
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        in.author = (char *)(a.author ? a.author : "");
        in.date = (char *)(a.date ? a.date : "");
        req.op_case = CCM__CAREPLAN__REQUEST__OP_ESTABLISH;
        req.establish = &in;
        return s_run(ctl, &req, OUT_VIEW);
    }
    if (strcmp(verb, "copy-given") == 0) {
        if ((rc = s_need("--date", a.date)) || (rc = s_need("--method", a.method)) ||
            (rc = s_need("--to", a.to)))
            return rc;
        Ccm__Careplan__RecordCopy in = CCM__CAREPLAN__RECORD_COPY__INIT;
        int method = s_enum(&ccm__careplan__copy_method__descriptor, a.method);
        int to = s_enum(&ccm__careplan__recipient__descriptor, a.to);
        if (method < 0)
            return ccmctl_usage("--method must be PAPER, PORTAL, EMAIL, MAIL or OTHER");
        if (to < 0)
            return ccmctl_usage("--to must be PATIENT or CAREGIVER");
        in.clinic = clinic;
        in.mrn = mrn;
        in.program = program;
        in.date = (char *)a.date;
        in.method = method;
        in.to = to;
        in.note = (char *)(a.note ? a.note : "");
        req.op_case = CCM__CAREPLAN__REQUEST__OP_RECORD_COPY;
        req.record_copy = &in;
        return s_run(ctl, &req, OUT_VIEW);
    }
    if (strcmp(verb, "due") == 0) {
        Ccm__Careplan__ListDue in = CCM__CAREPLAN__LIST_DUE__INIT;
        in.clinic = clinic;
        req.request_id = "";
        req.op_case = CCM__CAREPLAN__REQUEST__OP_LIST_DUE;
        req.list_due = &in;
        return s_run(ctl, &req, OUT_VIEW);
    }
    return ccmctl_usage("careplan: unknown verb \"%s\" (%s)", verb, s_verbs);
}
