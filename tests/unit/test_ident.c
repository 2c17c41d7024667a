/* ident: the identifiers we accept at our edges (MBI, ICD-10-CM, NPI, dates, text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/ident.h"

static void test_mbi(void **state)
{
    (void)state;
    char out[12];
    const char *why = NULL;
    /* CMS's published example, with and without dashes, any case */
    assert_int_equal(ccm_ident_mbi("1EG4-TE5-MK73", out, &why), 0);
    assert_string_equal(out, "1EG4TE5MK73");
    assert_int_equal(ccm_ident_mbi("1eg4te5mk73", out, &why), 0);
    assert_string_equal(out, "1EG4TE5MK73");
    struct {
        const char *in;
        const char *reason_part;
    } bad[] = {
        {"", "11 characters"},
        {"1EG4TE5MK7", "11 characters"},
        {"1EG4TE5MK733", "11 characters"},
        {"0EG4TE5MK73", "position 1"},
        {"1SG4TE5MK73", "positions 2"},
        {"1EB4TE5MK73", "positions 3"},
        {"1EGATE5MK73", "positions 4"},
        {"1EG4TE5MK7A", "positions 4"},
        {"1EG44E5MK73", "positions 2, 5"},
        {"1EG4TE5M173", "positions 2, 5"},
        {"1EG4TE5MO73", "positions 2, 5"},
        {"1EG4T!5MK73", "positions 3 and 6"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(ccm_ident_mbi(bad[i].in, out, &why), CCM_EINVAL);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].reason_part));
    }
}

static void test_icd10(void **state)
{
    (void)state;
    char out[9];
    const char *ok[][2] = {{"E11.9", "E11.9"},       {"e119", "E11.9"},  {"I10", "I10"},
                           {"S72.001A", "S72.001A"}, {"U07.1", "U07.1"}, {"Z79.4", "Z79.4"},
                           {"J449", "J44.9"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(ccm_ident_icd10(ok[i][0], out, NULL), 0);
        assert_string_equal(out, ok[i][1]);
    }
    const char *bad[] = {"",          "E1",     "11.9",  "EE1.9", "E11.",     "E1.19",
                         "E11.99999", "E11..9", "E11-9", "E11 9", "E11.9X123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        assert_int_equal(ccm_ident_icd10(bad[i], out, &why), CCM_EINVAL);
        assert_non_null(why);
    }
}

static void test_npi(void **state)
{
    (void)state;
    /* CMS's example NPI 1234567893 (check digit 3) */
    assert_int_equal(ccm_ident_npi("1234567893", NULL), 0);
    assert_int_equal(ccm_ident_npi("1245319599", NULL), 0);
    const char *why = NULL;
    assert_int_equal(ccm_ident_npi("1234567890", &why), CCM_EINVAL);
    assert_non_null(strstr(why, "check digit"));
    assert_int_equal(ccm_ident_npi("123456789", &why), CCM_EINVAL);
    assert_int_equal(ccm_ident_npi("12345678a3", &why), CCM_EINVAL);
}

static void test_date(void **state)
{
    (void)state;
    long d = -1;
    assert_int_equal(ccm_ident_date("1970-01-01", &d, NULL), 0);
    assert_int_equal(d, 0);
    assert_int_equal(ccm_ident_date("2000-02-29", &d, NULL), 0);
    assert_int_equal(d, 11016);
    assert_int_equal(ccm_ident_date("1948-02-29", NULL, NULL), 0);
    const char *bad[] = {"1900-02-29", "2023-02-29", "2025-04-31", "2025-13-01",    "2025-00-10",
                         "1899-12-31", "2025-1-01",  "20250101",   "2025-01-01T00", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ccm_ident_date(bad[i], NULL, NULL), CCM_EINVAL);
}

static void test_text_and_key(void **state)
{
    (void)state;
    assert_int_equal(ccm_ident_text("José Ñúñez", 100, true, NULL), 0);
    assert_int_equal(ccm_ident_text("", 100, false, NULL), 0);
    assert_int_equal(ccm_ident_text("", 100, true, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_text("abc", 2, true, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_text("a\nb", 10, true, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_text("\xC3", 10, true, NULL), CCM_EINVAL);         /* truncated */
    assert_int_equal(ccm_ident_text("\xC0\xAF", 10, true, NULL), CCM_EINVAL);     /* overlong */
    assert_int_equal(ccm_ident_text("\xED\xA0\x80", 10, true, NULL), CCM_EINVAL); /* surrogate */
    assert_int_equal(ccm_ident_key("MRN-10.42_a", 64, NULL), 0);
    assert_int_equal(ccm_ident_key("a b", 64, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_key("a/b", 64, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_key("", 64, NULL), CCM_EINVAL);
    assert_int_equal(ccm_ident_key("abcd", 3, NULL), CCM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mbi),          cmocka_unit_test(test_icd10),
        cmocka_unit_test(test_npi),          cmocka_unit_test(test_date),
        cmocka_unit_test(test_text_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
