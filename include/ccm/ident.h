/* ident — validation and normal forms of the identifiers that cross our edges:
 * Medicare Beneficiary Identifiers, ICD-10-CM codes, NPIs, calendar dates, and
 * the free-text fields we store. Pure functions; no allocation. */
#ifndef CCM_IDENT_H
#define CCM_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* MBI: 11 characters C A AN N A AN N A A N N (C = 1-9, A = letter except
 * S L O I B Z, N = digit, AN = either). Dashes are dropped and letters upper-cased
 * into out (12 bytes). Returns 0 or CCM_EINVAL with a reason in *why (static). */
int ccm_ident_mbi(const char *in, char out[12], const char **why);

/* ICD-10-CM: letter, digit, letter-or-digit, then optionally up to 4 more
 * letters-or-digits after a dot (the dot may be omitted on input). Normal form is
 * upper case with the dot ("e119" -> "E11.9"); out has 9 bytes. 0 or CCM_EINVAL. */
int ccm_ident_icd10(const char *in, char out[9], const char **why);

/* NPI: 10 digits whose Luhn check digit (with the 80840 prefix) is right. */
int ccm_ident_npi(const char *in, const char **why);

/* Calendar date YYYY-MM-DD from 1900-01-01 to 2999-12-31; *days (may be NULL)
 * receives days since 1970-01-01. 0 or CCM_EINVAL. */
int ccm_ident_date(const char *in, long *days, const char **why);

/* A stored text field: 1..max bytes (or 0..max when !required), valid UTF-8,
 * no control characters. 0 or CCM_EINVAL. */
int ccm_ident_text(const char *in, size_t max, bool required, const char **why);

/* A record key such as an MRN or clinic id: 1..max of [A-Za-z0-9._-]. */
int ccm_ident_key(const char *in, size_t max, const char **why);

#endif
