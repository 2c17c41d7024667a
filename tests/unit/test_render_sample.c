/* Writes rendered 837P interchanges (an original and its replacement) for the
 * independent node-x12 check in tests/x12, and optionally the packed claims as the
 * seed corpus of the renderer fuzz target:
 *   test_render_sample ORIGINAL.x12 REPLACEMENT.x12 [CORPUS_DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "test_render_claim.h"

static int s_write(const char *path, unsigned version, uint64_t control)
{
    test_claim_t t;
    test_claim_init(&t, version);
    ccm_render_ids_t ids = test_ids();
    ccm_render_person_t pat = {"Rivera", "Ana", "1948-02-29"}, doc = {"Park", "Mina", NULL};
    ccm_render_event_t ev = {41 + version, "claim.ready", t.claim.key, 1796040000000000LL};
    char *out = NULL;
    if (ccm_render_837p(&ev, &t.claim, &ids, &pat, &doc, control, &out) != 0)
        return 1;
    FILE *f = fopen(path, "w");
    int rc = !f || fputs(out, f) == EOF;
    if (f && fclose(f) != 0)
        rc = 1;
    free(out);
    return rc;
}

static int s_seed(const char *dir, unsigned version)
{
    test_claim_t t;
    test_claim_init(&t, version);
    size_t len = ccm__billing__claim__get_packed_size(&t.claim);
    uint8_t *buf = malloc(len);
    char path[4096];
    snprintf(path, sizeof path, "%s/claim-v%u.pb", dir, version);
    FILE *f = buf ? fopen(path, "wb") : NULL;
    int rc = !f;
    if (f) {
        ccm__billing__claim__pack(&t.claim, buf);
        rc = fwrite(buf, 1, len, f) != len;
        rc |= fclose(f) != 0;
    }
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: test_render_sample ORIGINAL.x12 REPLACEMENT.x12 [CORPUS_DIR]\n");
        return 2;
    }
    if (argc == 4 && (s_seed(argv[3], 1) != 0 || s_seed(argv[3], 2) != 0)) {
        fprintf(stderr, "test_render_sample: cannot write the corpus\n");
        return 1;
    }
    if (s_write(argv[1], 1, 101) != 0 || s_write(argv[2], 2, 102) != 0) {
        fprintf(stderr, "test_render_sample: cannot render or write\n");
        return 1;
    }
    return 0;
}
