/* fingerprint/fingerprint.h: composition manifests and their fingerprints.
 *
 * A manifest (YAML) names the artifacts an agent is composed of: the
 * components system_prompt, model, tools, retrieval, guardrails, flags and
 * experiments, each given inline or as {file: path}.  Each present
 * component gets a hash, "sha256:" + 64 lowercase hex digits:
 *   inline value: SHA-256 of its RFC 8785 canonical JSON (jcs.h);
 *   {file: path}: SHA-256 of the file's bytes (path relative to the
 *                 manifest's folder).
 * The whole fingerprint is the SHA-256 of the canonical JSON of the object
 * {component name: component hash}.  docs/fingerprint.md is the exact
 * specification, with a worked example, for serving stacks that compute the
 * same value in another language and send it as a header.
 *
 * Ownership: a struct fingerprint owns its strings and array until
 * fingerprint_free().  Every other char * and component array returned is
 * the caller's to free (fingerprint_components_free() for arrays); names
 * listed by fingerprint_diff() point into its inputs, only the array is
 * the caller's.  Error messages in *err are the caller's to free.
 */
#ifndef CANARY_FINGERPRINT_H
#define CANARY_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define FINGERPRINT_PREFIX "sha256:"
/* "sha256:" + 64 hex digits + NUL. */
#define FINGERPRINT_HASH_SIZE 72
/* Manifests and component files larger than these are errors. */
#define FINGERPRINT_MAX_MANIFEST ((size_t)16 << 20)
#define FINGERPRINT_MAX_FILE ((size_t)256 << 20)
/* fingerprint_parse_components() reads at most this many bytes and
 * components of an untrusted value. */
#define FINGERPRINT_MAX_VALUE ((size_t)64 << 10)
#define FINGERPRINT_MAX_COMPONENTS 256

struct fingerprint_component {
	char *name;
	char *hash;
};

struct fingerprint {
	char *whole;                                 /* "sha256:<hex>" */
	struct fingerprint_component *components;    /* present ones, sorted by name */
	size_t ncomponents;
};

/* The component names a manifest may hold, sorted, ending with NULL. */
extern const char *const fingerprint_component_names[];

/* fingerprint_manifest_load: read and fingerprint the manifest at path;
 * NULL and *err ("file:line:col: what" where a position is known). */
struct fingerprint *fingerprint_manifest_load(const char *path, char **err);

/* fingerprint_manifest_load_buffer: the same for len bytes of data; name is
 * used in messages, dir is the folder file paths are relative to (NULL for
 * the working directory). */
struct fingerprint *fingerprint_manifest_load_buffer(const char *name, const char *data,
						     size_t len, const char *dir, char **err);

void fingerprint_free(struct fingerprint *fp);

/* fingerprint_get: the hash of the named component, or NULL when absent. */
const char *fingerprint_get(const struct fingerprint *fp, const char *name);

/* fingerprint_sha256: "sha256:<hex>" of len bytes of data. */
char *fingerprint_sha256(const void *data, size_t len);

/* fingerprint_combine: the whole fingerprint of n components (in any order)
 * as fingerprint_manifest_load() computes it; NULL when two share a name. */
char *fingerprint_combine(const struct fingerprint_component *c, size_t n);

/* fingerprint_header: the compact form "name=hash;name=hash" in name
 * order; hex_digits 0 writes each hash whole ("sha256:<hex>"), otherwise
 * only its first hex_digits (at most 64) hex digits. */
char *fingerprint_header(const struct fingerprint *fp, size_t hex_digits);

/* fingerprint_to_json: {"fingerprint": whole, "components": {name: hash}};
 * the caller owns the result (cJSON_Delete). */
cJSON *fingerprint_to_json(const struct fingerprint *fp);

/* fingerprint_parse_components: read the per-component hashes a target
 * reported: a JSON object {name: hash} (or fingerprint_to_json()'s shape)
 * or the compact "name=hash;name=hash" form.  0 with *out (sorted by name)
 * and *n; -1 when value is an opaque hash or malformed, leaving *out NULL
 * and *n 0. */
int fingerprint_parse_components(const char *value, struct fingerprint_component **out,
				 size_t *n);

void fingerprint_components_free(struct fingerprint_component *c, size_t n);

/* fingerprint_hash_equal: whether two component hashes name the same
 * content: equal ignoring case and an optional "sha256:" prefix, or one a
 * prefix of at least 8 hex digits of the other. */
bool fingerprint_hash_equal(const char *a, const char *b);

/* fingerprint_same: whether two reported values name the same composition.
 * ca/na and cb/nb are what fingerprint_parse_components() read of a and b
 * (NULL and 0 for an opaque value).  Two component lists are the same when
 * they have the same names, each with hashes equal by
 * fingerprint_hash_equal(); two opaque values when they are equal as
 * hashes; a list and an opaque value when the list combines to it
 * (fingerprint_combine()). */
bool fingerprint_same(const char *a, const struct fingerprint_component *ca, size_t na,
		      const char *b, const struct fingerprint_component *cb, size_t nb);

/* A reported value with the components it lists, read once to be compared
 * with many.  value is borrowed; the components are its own until
 * fingerprint_read_release(). */
struct fingerprint_read {
	const char *value;
	struct fingerprint_component *components; /* NULL: an opaque value */
	size_t ncomponents;
};

void fingerprint_read(struct fingerprint_read *f, const char *value);
void fingerprint_read_release(struct fingerprint_read *f);
/* fingerprint_read_same: fingerprint_same() of two values read. */
bool fingerprint_read_same(const struct fingerprint_read *a, const struct fingerprint_read *b);

/* fingerprint_diff: the names, sorted, of components whose hashes differ or
 * which only one side has; their count.  *names is NULL when nothing
 * differs, else an array the caller frees (the strings are a's and b's). */
size_t fingerprint_diff(const struct fingerprint_component *a, size_t na,
			const struct fingerprint_component *b, size_t nb, const char ***names);

#endif
