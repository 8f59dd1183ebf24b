/* fingerprint/jcs.h: the JSON Canonicalization Scheme (RFC 8785) over cJSON.
 *
 * The canonical form has no whitespace, object members sorted by the UTF-16
 * code units of their names, strings with only the escapes JSON requires
 * (\" \\ \b \f \n \r \t and \u00xx for other controls; everything else as
 * UTF-8) and numbers as ECMAScript's Number.prototype.toString() writes them.
 * It is what fingerprints hash: equal JSON values give equal bytes.
 *
 * Ownership: jcs_canonicalize() returns a NUL-terminated string the caller
 * frees; error messages in *err are the caller's to free too.
 */
#ifndef CANARY_JCS_H
#define CANARY_JCS_H

#include <cjson/cJSON.h>

/* Room for any number jcs_number() writes, with its NUL. */
#define JCS_NUMBER_MAX 32

/* Objects and arrays nested deeper than this are an error. */
#define JCS_MAX_DEPTH 1000

/* jcs_canonicalize: the canonical form of v; NULL and *err when v holds a
 * non-finite number, a string or member name that is not valid UTF-8, a
 * duplicate member name, a raw or invalid item, nesting deeper than
 * JCS_MAX_DEPTH, or would exceed BUF_MAX_DEFAULT bytes. */
char *jcs_canonicalize(const cJSON *v, char **err);

/* jcs_number: write v as ECMAScript does (the shortest digits that read
 * back as v; "1e+21", "1e-7", "0.000001"; -0 as "0"); -1 for NaN and
 * infinities. */
int jcs_number(double v, char out[JCS_NUMBER_MAX]);

#endif
