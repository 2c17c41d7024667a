/* ccmctl patient … / condition … — the enrollment service's commands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/enrollment.pb-c.h"
#include "ccmctl.h"
#include "pbjson.h"

#define SERVICE "enrollment"

/* Every flag any enrollment command takes; each command checks what it needs. */
typedef struct {
    const char *clinic, *mrn, *mbi, *family, *given, *birth_date, *icd10, *description;
    const char *request_id, *after;
    long max;
} args_t;

static int s_parse(ccmctl_t *ctl, int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {
        {"clinic", required_argument, 0, 'c'},     {"mrn", required_argument, 0, 'm'},
        {"mbi", required_argument, 0, 'b'},        {"family", required_argument, 0, 'f'},
        {"given", required_argument, 0, 'g'},      {"birth-date", required_argument, 0, 'd'},
        {"icd10", required_argument, 0, 'i'},      {"description", required_argument, 0, 'D'},
        {"request-id", required_argument, 0, 'r'}, {"after", required_argument, 0, 'a'},
        {"max", required_argument, 0, 'n'},        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->clinic = ctl->clinic;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->clinic = optarg; break;
        case 'm': a->mrn = optarg; break;
        case 'b': a->mbi = optarg; break;
        case 'f': a->family = optarg; break;
        case 'g': a->given = optarg; break;
        case 'd': a->birth_date = optarg; break;
        case 'i': a->icd10 = optarg; break;
        case 'D': a->description = optarg; break;
        case 'r': a->request_id = optarg; break;
        case 'a': a->after = optarg; break;
        case 'n': {
            char *end;
            a->max = strtol(optarg, &end, 10);
            if (*end || a->max < 1 || a->max > 1000)
                return ccmctl_usage("--max must be 1 to 1000");
            break;
        }
        case ':': return ccmctl_usage("%s needs a value", argv[optind - 1]);
        default: return ccmctl_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return ccmctl_usage("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* Checks that each named flag was given. */
static int s_need(const char *flag, const char *value)
{
    return value ? 0 : ccmctl_usage("%s is required", flag);
}

static void s_print_patient(const Ccm__Enrollment__Patient *p)
{
    char t[40];
    printf("patient   %s/%s\n", p->clinic, p->mrn);
    printf("name      %s, %s\n", p->family_name, p->given_name);
    printf("mbi       %s\n", p->mbi);
    printf("born      %s\n", p->birth_date);
    printf("created   %s\n", ccmctl_time(p->created_us, t, sizeof t));
    size_t active = 0;
    for (size_t i = 0; i < p->n_conditions; i++)
        active += p->conditions[i]->resolved_us == 0;
    printf("conditions (%zu active)\n", active);
    for (size_t i = 0; i < p->n_conditions; i++) {
        const Ccm__Enrollment__Condition *c = p->conditions[i];
        printf("  %-8s %-8s since %s", c->icd10, c->resolved_us ? "resolved" : "active",
               ccmctl_time(c->added_us, t, sizeof t));
        if (c->description[0])
            printf("  %s", c->description);
        putchar('\n');
    }
}

/* Sends req and prints the reply (the patient, or the list). */
static int s_run(ccmctl_t *ctl, Ccm__Enrollment__Request *req)
{
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, SERVICE, &req->base, &ccm__enrollment__reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__Enrollment__Reply *r = (Ccm__Enrollment__Reply *)m;
    code = ccmctl_check(ctl, r->status);
    if (code == CCMCTL_OK) {
        if (ctl->json) {
            if (r->result_case == CCM__ENROLLMENT__REPLY__RESULT_PATIENT)
                ccmctl_print_json(ccm_pbjson(&r->patient->base));
            else if (r->result_case == CCM__ENROLLMENT__REPLY__RESULT_PATIENTS)
                ccmctl_print_json(ccm_pbjson(&r->patients->base));
        } else if (r->result_case == CCM__ENROLLMENT__REPLY__RESULT_PATIENT) {
            s_print_patient(r->patient);
        } else if (r->result_case == CCM__ENROLLMENT__REPLY__RESULT_PATIENTS) {
            const Ccm__Enrollment__PatientList *l = r->patients;
            printf("%-10s %-12s %-11s %-10s %s\n", "MRN", "MBI", "BORN", "CONDITIONS", "NAME");
            for (size_t i = 0; i < l->n_patients; i++) {
                const Ccm__Enrollment__Patient *p = l->patients[i];
                size_t active = 0;
                for (size_t k = 0; k < p->n_conditions; k++)
                    active += p->conditions[k]->resolved_us == 0;
                printf("%-10s %-12s %-11s %-10zu %s, %s\n", p->mrn, p->mbi, p->birth_date, active,
                       p->family_name, p->given_name);
            }
            printf("(%zu patients%s)\n", l->n_patients,
                   l->more ? "; more: use --after with the last MRN" : "");
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

int ccmctl_cmd_patient(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("patient needs add, show or list");
    const char *verb = argv[1];
    args_t a;
    int rc = s_parse(ctl, argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = (char *)(a.request_id ? a.request_id : rid);
    if (strcmp(verb, "add") == 0) {
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)) ||
            (rc = s_need("--mbi", a.mbi)) || (rc = s_need("--family", a.family)) ||
            (rc = s_need("--given", a.given)) || (rc = s_need("--birth-date", a.birth_date)))
            return rc;
        Ccm__Enrollment__RegisterPatient in = CCM__ENROLLMENT__REGISTER_PATIENT__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.mbi = (char *)a.mbi;
        in.family_name = (char *)a.family;
        in.given_name = (char *)a.given;
        in.birth_date = (char *)a.birth_date;
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_REGISTER_PATIENT;
        req.register_patient = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "show") == 0) {
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)))
            return rc;
        Ccm__Enrollment__GetPatient in = CCM__ENROLLMENT__GET_PATIENT__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        req.request_id = "";
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_GET_PATIENT;
        req.get_patient = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "list") == 0) {
        if ((rc = s_need("--clinic", a.clinic)))
            return rc;
        Ccm__Enrollment__ListPatients in = CCM__ENROLLMENT__LIST_PATIENTS__INIT;
        in.clinic = (char *)a.clinic;
        in.after_mrn = (char *)(a.after ? a.after : "");
        in.max = (uint32_t)a.max;
        req.request_id = "";
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_LIST_PATIENTS;
        req.list_patients = &in;
        return s_run(ctl, &req);
    }
    return ccmctl_usage("patient: unknown verb \"%s\" (add, show, list)", verb);
}

int ccmctl_cmd_condition(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("condition needs add or resolve");
    const char *verb = argv[1];
    args_t a;
    int rc = s_parse(ctl, argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)) ||
        (rc = s_need("--icd10", a.icd10)))
        return rc;
    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = (char *)(a.request_id ? a.request_id : rid);
    if (strcmp(verb, "add") == 0) {
        Ccm__Enrollment__AddCondition in = CCM__ENROLLMENT__ADD_CONDITION__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.icd10 = (char *)a.icd10;
        in.description = (char *)(a.description ? a.description : "");
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION;
        req.add_condition = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "resolve") == 0) {
        Ccm__Enrollment__ResolveCondition in = CCM__ENROLLMENT__RESOLVE_CONDITION__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.icd10 = (char *)a.icd10;
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_RESOLVE_CONDITION;
        req.resolve_condition = &in;
        return s_run(ctl, &req);
    }
    return ccmctl_usage("condition: unknown verb \"%s\" (add, resolve)", verb);
}
