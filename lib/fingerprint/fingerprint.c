/* fingerprint/fingerprint.c: composition manifests, component hashes and their diffs. */
#include "fingerprint/fingerprint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "fingerprint/jcs.h"
#include "util.h"
#include "ynode.h"

#define HEX_DIGITS 64
#define PREFIX_LEN (sizeof(FINGERPRINT_PREFIX) - 1)

const char *const fingerprint_component_names[] = {
	"experiments", "flags", "guardrails", "model", "retrieval", "system_prompt", "tools", NULL,
};

static const char *const model_keys[] = {"provider", "id", "params", NULL};

/* "sha256:" and the lowercase hex of a 32-byte digest. */
static void format_hash(const unsigned char *md, char out[FINGERPRINT_HASH_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, FINGERPRINT_PREFIX, PREFIX_LEN);
	for (int i = 0; i < HEX_DIGITS / 2; i++) {
		out[PREFIX_LEN + 2 * i] = hex[md[i] >> 4];
		out[PREFIX_LEN + 2 * i + 1] = hex[md[i] & 15];
	}
	out[PREFIX_LEN + HEX_DIGITS] = '\0';
}

char *fingerprint_sha256(const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char out[FINGERPRINT_HASH_SIZE];
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != HEX_DIGITS / 2)
		return NULL;
	format_hash(md, out);
	return xstrdup(out);
}

/* Hash the bytes of the regular file at path; on failure *why says so. */
static char *hash_file(const char *path, char **why)
{
	unsigned char chunk[16384], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hash[FINGERPRINT_HASH_SIZE];
	char *out = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t n, total = 0;
	FILE *f = util_open_regular(path, why);
	if (!f)
		return NULL;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		*why = xstrdup("sha-256 is not available");
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		total += n;
		if (total > FINGERPRINT_MAX_FILE) {
			*why = xasprintf("'%s' is larger than %zu bytes", path,
					 FINGERPRINT_MAX_FILE);
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, chunk, n)) {
			*why = xstrdup("sha-256 failed");
			goto out;
		}
	}
	if (ferror(f)) {
		*why = xasprintf("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != HEX_DIGITS / 2) {
		*why = xstrdup("sha-256 failed");
		goto out;
	}
	format_hash(md, hash);
	out = xstrdup(hash);
out:
	EVP_MD_CTX_free(ctx);
	fclose(f);
	return out;
}


/* A scalar that the YAML core schema reads as a string. */
static bool is_text(const struct ynode *n)
{
	double d;
	bool b;
	if (n->kind != YNODE_SCALAR)
		return false;
	return !n->plain || (!ynode_is_null(n) && ynode_bool(n, &b) < 0 && ynode_number(n, &d) < 0);
}

/* The first scalar or key under n holding a NUL byte, which a JSON string
 * built from a C string would silently cut; n is known to be of bounded
 * size (ynode_to_json() accepted it). */
static const struct ynode *find_nul(const struct ynode *n)
{
	if (n->kind == YNODE_SCALAR)
		return strlen(n->str) != n->len ? n : NULL;
	for (size_t i = 0; i < (n->kind == YNODE_MAP ? 2 * n->n : n->n); i++) {
		const struct ynode *hit = find_nul(n->items[i]);
		if (hit)
			return hit;
	}
	return NULL;
}

/* An inline model must be {provider, id, params}. */
static int check_model(const struct ynode *v, char **err)
{
	static const char *const required[] = {"provider", "id"};
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "'model' must be a mapping (provider, id, params) or "
				      "{file: path}");
		return -1;
	}
	if (ynode_check_keys(v, model_keys, "in 'model'", err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		const struct ynode *s = ynode_get(v, required[i]);
		if (!s) {
			*err = ynode_error(v, "missing '%s' in 'model'", required[i]);
			return -1;
		}
		if (!is_text(s) || s->len == 0) {
			*err = ynode_error(s, "'%s' must be a non-empty string (quote it)",
					   required[i]);
			return -1;
		}
	}
	const struct ynode *params = ynode_get(v, "params");
	if (params && params->kind != YNODE_MAP) {
		*err = ynode_error(params, "'params' must be a mapping");
		return -1;
	}
	return 0;
}

/* The hash of a {file: path} component. */
static char *file_component(const struct ynode *v, const char *dir, char **err)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i];
		if (strcmp(k->str, "file") != 0) {
			*err = ynode_error(k, "a file reference takes only 'file', not '%.64s'",
					   k->str);
			return NULL;
		}
	}
	const struct ynode *f = ynode_get(v, "file");
	if (!is_text(f) || f->len == 0 || strlen(f->str) != f->len) {
		*err = ynode_error(f, "'file' must be a path");
		return NULL;
	}
	char *path = f->str[0] == '/' || !dir ? xstrdup(f->str) : xasprintf("%s/%s", dir, f->str);
	char *why = NULL;
	char *hash = hash_file(path, &why);
	if (!hash) {
		*err = ynode_error(f, "%s", why);
		free(why);
	}
	free(path);
	return hash;
}

/* The hash of an inline component: its canonical JSON. */
static char *inline_component(const struct ynode *v, char **err)
{
	char *why = NULL, *canon = NULL, *hash = NULL;
	const struct ynode *bad;
	cJSON *j = ynode_to_json(v, err);
	if (!j)
		return NULL;
	if ((bad = find_nul(v))) {
		*err = ynode_error(bad, "text must not contain a NUL byte");
		goto out;
	}
	canon = jcs_canonicalize(j, &why);
	if (!canon) {
		*err = ynode_error(v, "%s", why);
		free(why);
		goto out;
	}
	hash = fingerprint_sha256(canon, strlen(canon));
	if (!hash)
		*err = ynode_error(v, "sha-256 failed");
out:
	free(canon);
	cJSON_Delete(j);
	return hash;
}

static int component_cmp(const void *x, const void *y)
{
	const struct fingerprint_component *a = x, *b = y;
	return strcmp(a->name, b->name);
}

char *fingerprint_combine(const struct fingerprint_component *c, size_t n)
{
	cJSON *obj = cJSON_CreateObject();
	char *err = NULL, *canon, *whole = NULL;
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToObject(obj, c[i].name, cJSON_CreateString(c[i].hash));
	canon = jcs_canonicalize(obj, &err);
	if (canon)
		whole = fingerprint_sha256(canon, strlen(canon));
	free(err);
	free(canon);
	cJSON_Delete(obj);
	return whole;
}

void fingerprint_free(struct fingerprint *fp)
{
	if (!fp)
		return;
	fingerprint_components_free(fp->components, fp->ncomponents);
	free(fp->whole);
	free(fp);
}

/* Fingerprint the components of a parsed manifest. */
static struct fingerprint *load_doc(const struct ydoc *doc, const char *dir, char **err)
{
	const struct ynode *root = doc->root;
	struct fingerprint *fp = NULL;
	if (!root) {
		*err = xasprintf("%s:1:1: the manifest is empty", doc->file);
		return NULL;
	}
	if (root->kind != YNODE_MAP || root->n == 0) {
		char *list = util_join(fingerprint_component_names, ", ");
		*err = ynode_error(root, "a manifest must be a mapping of components (%s)", list);
		free(list);
		return NULL;
	}
	if (ynode_check_keys(root, fingerprint_component_names, "in the manifest", err) < 0)
		return NULL;
	fp = xcalloc(1, sizeof(*fp));
	fp->components = xcalloc(root->n, sizeof(*fp->components));
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *k = root->items[2 * i], *v = root->items[2 * i + 1];
		char *hash;
		if (v->kind == YNODE_MAP && ynode_get(v, "file")) {
			hash = file_component(v, dir, err);
		} else {
			if (strcmp(k->str, "model") == 0 && check_model(v, err) < 0)
				goto fail;
			hash = inline_component(v, err);
		}
		if (!hash)
			goto fail;
		fp->components[fp->ncomponents].name = xstrdup(k->str);
		fp->components[fp->ncomponents].hash = hash;
		fp->ncomponents++;
	}
	qsort(fp->components, fp->ncomponents, sizeof(*fp->components), component_cmp);
	fp->whole = fingerprint_combine(fp->components, fp->ncomponents);
	if (!fp->whole) {
		*err = ynode_error(root, "sha-256 failed");
		goto fail;
	}
	return fp;
fail:
	fingerprint_free(fp);
	return NULL;
}

struct fingerprint *fingerprint_manifest_load_buffer(const char *name, const char *data,
						     size_t len, const char *dir, char **err)
{
	struct ydoc *doc = ydoc_parse(name, data, len, err);
	if (!doc)
		return NULL;
	struct fingerprint *fp = load_doc(doc, dir, err);
	ydoc_free(doc);
	return fp;
}

struct fingerprint *fingerprint_manifest_load(const char *path, char **err)
{
	size_t len;
	char *data = util_read_file(path, FINGERPRINT_MAX_MANIFEST, &len, err);
	if (!data)
		return NULL;
	const char *slash = strrchr(path, '/');
	char *dir = !slash ? xstrdup(".") : slash == path ? xstrdup("/")
						      : xstrndup(path, (size_t)(slash - path));
	struct fingerprint *fp = fingerprint_manifest_load_buffer(path, data, len, dir, err);
	free(dir);
	free(data);
	return fp;
}

const char *fingerprint_get(const struct fingerprint *fp, const char *name)
{
	for (size_t i = 0; i < fp->ncomponents; i++)
		if (strcmp(fp->components[i].name, name) == 0)
			return fp->components[i].hash;
	return NULL;
}

/* A hash without its optional "sha256:" prefix. */
static const char *hash_body(const char *h)
{
	return strncasecmp(h, FINGERPRINT_PREFIX, PREFIX_LEN) == 0 ? h + PREFIX_LEN : h;
}

char *fingerprint_header(const struct fingerprint *fp, size_t hex_digits)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < fp->ncomponents; i++) {
		const char *h = fp->components[i].hash;
		if (hex_digits) {
			h = hash_body(h);
			size_t len = strlen(h);
			buf_addf(&b, "%s%s=%.*s", i ? ";" : "", fp->components[i].name,
				 (int)(hex_digits < len ? hex_digits : len), h);
		} else {
			buf_addf(&b, "%s%s=%s", i ? ";" : "", fp->components[i].name, h);
		}
	}
	return buf_detach(&b, NULL);
}

cJSON *fingerprint_to_json(const struct fingerprint *fp)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "fingerprint", fp->whole);
	cJSON *c = cJSON_AddObjectToObject(o, "components");
	for (size_t i = 0; i < fp->ncomponents; i++)
		cJSON_AddStringToObject(c, fp->components[i].name, fp->components[i].hash);
	return o;
}

void fingerprint_components_free(struct fingerprint_component *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].name);
		free(c[i].hash);
	}
	free(c);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* Components from a JSON object of strings, or its "components" member. */
static int parse_json(const char *s, size_t len, struct fingerprint_component *c, size_t *n)
{
	int rc = -1;
	cJSON *root = cJSON_ParseWithLength(s, len), *m;
	if (!cJSON_IsObject(root))
		goto out;
	cJSON *inner = cJSON_GetObjectItemCaseSensitive(root, "components");
	const cJSON *obj = cJSON_IsObject(inner) ? inner : root;
	cJSON_ArrayForEach(m, obj) {
		if (*n == FINGERPRINT_MAX_COMPONENTS || !cJSON_IsString(m) || !m->string ||
		    !*m->string || !m->valuestring || !*m->valuestring)
			goto out;
		c[*n].name = xstrdup(m->string);
		c[*n].hash = xstrdup(m->valuestring);
		(*n)++;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* Components from "name=hash;name=hash" (spaces around items and '=' allowed). */
static int parse_list(const char *s, size_t len, struct fingerprint_component *c, size_t *n)
{
	const char *end = s + len;
	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *e = semi ? semi : end;
		const char *a = s, *z = e;
		while (a < z && is_space(*a))
			a++;
		while (z > a && is_space(z[-1]))
			z--;
		s = semi ? semi + 1 : end;
		if (a == z)
			continue;
		const char *eq = memchr(a, '=', (size_t)(z - a));
		if (!eq || *n == FINGERPRINT_MAX_COMPONENTS)
			return -1;
		const char *ne = eq, *h = eq + 1;
		while (ne > a && is_space(ne[-1]))
			ne--;
		while (h < z && is_space(*h))
			h++;
		if (ne == a || h == z)
			return -1;
		for (const char *p = a; p < ne; p++)
			if (!name_char(*p))
				return -1;
		for (const char *p = h; p < z; p++)
			if (*p <= ' ' || *p > '~')
				return -1;
		c[*n].name = xstrndup(a, (size_t)(ne - a));
		c[*n].hash = xstrndup(h, (size_t)(z - h));
		(*n)++;
	}
	return 0;
}

int fingerprint_parse_components(const char *value, struct fingerprint_component **out,
				 size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!value)
		return -1;
	while (is_space(*value))
		value++;
	size_t len = strnlen(value, FINGERPRINT_MAX_VALUE + 1);
	if (len == 0 || len > FINGERPRINT_MAX_VALUE)
		return -1;
	struct fingerprint_component *c = xcalloc(FINGERPRINT_MAX_COMPONENTS, sizeof(*c));
	size_t nc = 0;
	int rc;
	if (value[0] == '{')
		rc = parse_json(value, len, c, &nc);
	else
		rc = memchr(value, '=', len) ? parse_list(value, len, c, &nc) : -1;
	if (rc == 0 && nc > 0) {
		qsort(c, nc, sizeof(*c), component_cmp);
		for (size_t i = 1; i < nc; i++)
			if (strcmp(c[i - 1].name, c[i].name) == 0)
				rc = -1;
	}
	if (rc < 0 || nc == 0) {
		fingerprint_components_free(c, nc);
		return -1;
	}
	*out = xreallocarray(c, nc, sizeof(*c));
	*n = nc;
	return 0;
}

static bool all_hex(const char *s)
{
	return s[strspn(s, "0123456789abcdefABCDEF")] == '\0';
}

bool fingerprint_hash_equal(const char *a, const char *b)
{
	a = hash_body(a);
	b = hash_body(b);
	size_t la = strlen(a), lb = strlen(b);
	if (la == lb)
		return strcasecmp(a, b) == 0;
	size_t m = la < lb ? la : lb;
	if (m < 8 || !all_hex(a) || !all_hex(b))
		return false;
	return strncasecmp(a, b, m) == 0;
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const struct fingerprint_component *find(const struct fingerprint_component *c, size_t n,
						 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	return NULL;
}

bool fingerprint_same(const char *a, const struct fingerprint_component *ca, size_t na,
		      const char *b, const struct fingerprint_component *cb, size_t nb)
{
	if (strcmp(a, b) == 0)
		return true;
	if (na && nb) {
		const char **names = NULL;
		size_t nd = fingerprint_diff(ca, na, cb, nb, &names);
		free(names);
		return nd == 0;
	}
	if (!na && !nb)
		return fingerprint_hash_equal(a, b);
	char *whole = na ? fingerprint_combine(ca, na) : fingerprint_combine(cb, nb);
	bool same = whole && fingerprint_hash_equal(whole, na ? b : a);
	free(whole);
	return same;
}

void fingerprint_read(struct fingerprint_read *f, const char *value)
{
	f->value = value;
	fingerprint_parse_components(value, &f->components, &f->ncomponents);
}

void fingerprint_read_release(struct fingerprint_read *f)
{
	fingerprint_components_free(f->components, f->ncomponents);
	f->components = NULL;
	f->ncomponents = 0;
}

bool fingerprint_read_same(const struct fingerprint_read *a, const struct fingerprint_read *b)
{
	return fingerprint_same(a->value, a->components, a->ncomponents, b->value, b->components,
				b->ncomponents);
}

size_t fingerprint_diff(const struct fingerprint_component *a, size_t na,
			const struct fingerprint_component *b, size_t nb, const char ***names)
{
	const char **out = xmalloc((na + nb + 1) * sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < na; i++) {
		const struct fingerprint_component *o = find(b, nb, a[i].name);
		if (!o || !fingerprint_hash_equal(a[i].hash, o->hash))
			out[k++] = a[i].name;
	}
	for (size_t i = 0; i < nb; i++)
		if (!find(a, na, b[i].name))
			out[k++] = b[i].name;
	qsort(out, k, sizeof(*out), name_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(out[u - 1], out[i]) != 0)
			out[u++] = out[i];
	if (u == 0) {
		free(out);
		out = NULL;
	}
	*names = out;
	return u;
}
