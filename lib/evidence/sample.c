/* sample.c: saved samples, one JSON file per sample of `run --save-replies`. */
#include "evidence/evidence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redact.h"
#include "util.h"

/* add_part: name to b as one path part (see evidence_sample_path()). */
static void add_part(struct buf *b, const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/' || *p == '%' || *p == '\\' || *p < 0x20 || *p == 0x7f ||
		    (*p == '.' && p == (const unsigned char *)name))
			buf_addf(b, "%%%02X", *p);
		else
			buf_addch(b, (char)*p);
	}
	if (!*name)
		buf_addstr(b, "%00");
}

char *evidence_sample_path(const struct evidence_sample *s)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	add_part(&b, s->stratum);
	buf_addch(&b, '/');
	add_part(&b, s->case_id);
	buf_addf(&b, "/%s/%d.json", s->side, s->index);
	return buf_detach(&b, NULL);
}

/* add_body: text[0..len) with rd's secrets masked, as "body" when it is
 * JSON and as "body_text" otherwise. */
static void add_body(cJSON *obj, const char *text, size_t len, const struct redact *rd)
{
	size_t n;
	char *clean = redact_span(rd, text, len, 0, len, &n);
	cJSON *json = provider_json_parse(clean, n, NULL, NULL);
	char *shown;

	if (json) {
		cJSON_AddItemToObject(obj, "body", json);
	} else {
		shown = util_show_nul(clean, n);
		cJSON_AddStringToObject(obj, "body_text", shown);
		free(shown);
	}
	free(clean);
}

/* add_header: "Name: value" as name: value, the value masked. */
static void add_header(cJSON *headers, const char *name, size_t name_len, const char *value,
		       const struct redact *rd)
{
	char *key = xstrndup(name, name_len);
	char *clean = redact_apply(rd, value);

	cJSON_AddStringToObject(headers, key, clean);
	free(clean);
	free(key);
}

cJSON *evidence_sample_json(const struct evidence_sample *s, const struct redact *rd)
{
	cJSON *j = cJSON_CreateObject(), *target, *req, *res, *headers, *grades, *reasons;

	cJSON_AddNumberToObject(j, "canary_sample", 1);
	cJSON_AddStringToObject(j, "suite", s->suite);
	cJSON_AddStringToObject(j, "stratum", s->stratum);
	cJSON_AddStringToObject(j, "case", s->case_id);
	cJSON_AddStringToObject(j, "side", s->side);
	cJSON_AddNumberToObject(j, "index", s->index);
	cJSON_AddStringToObject(j, "time", s->time);
	target = cJSON_AddObjectToObject(j, "target");
	cJSON_AddStringToObject(target, "api", s->api);
	cJSON_AddStringToObject(target, "url", s->url);
	if (s->request) {
		req = cJSON_AddObjectToObject(j, "request");
		headers = cJSON_AddObjectToObject(req, "headers");
		for (size_t i = 0; i < s->nrequest_headers; i++) {
			const char *h = s->request_headers[i], *colon = strchr(h, ':');

			if (colon)
				add_header(headers, h, (size_t)(colon - h), colon + 1 + strspn(colon + 1, " "),
					   rd);
		}
		add_body(req, s->request, strlen(s->request), rd);
	}
	res = cJSON_AddObjectToObject(j, "response");
	cJSON_AddNumberToObject(res, "status", (double)s->status);
	headers = cJSON_AddObjectToObject(res, "headers");
	if (s->header && s->header_value)
		add_header(headers, s->header, strlen(s->header), s->header_value, rd);
	if (s->body)
		add_body(res, s->body, s->body_len, rd);
	cJSON_AddNumberToObject(res, "latency_ms", (double)(long long)(s->latency_ms * 10 + 0.5) / 10);
	cJSON_AddNumberToObject(res, "attempts", s->attempts);
	if (s->fingerprint) {
		char *fp = redact_apply(rd, s->fingerprint);
		cJSON_AddStringToObject(j, "fingerprint", fp);
		free(fp);
	}
	cJSON_AddStringToObject(j, "grade", s->grade);
	grades = cJSON_AddArrayToObject(j, "grades");
	for (size_t i = 0; i < s->ngrades; i++) {
		cJSON *g = cJSON_CreateObject();

		cJSON_AddStringToObject(g, "grader", s->grades[i].grader);
		cJSON_AddStringToObject(g, "grade", s->grades[i].grade);
		if (s->grades[i].reason)
			cJSON_AddStringToObject(g, "reason", s->grades[i].reason);
		cJSON_AddItemToArray(grades, g);
	}
	reasons = cJSON_AddArrayToObject(j, "reasons");
	for (size_t i = 0; i < s->nreasons; i++)
		cJSON_AddItemToArray(reasons, cJSON_CreateString(s->reasons[i]));
	return j;
}

int evidence_mkdirs(const char *dir, char **err)
{
	char *path = xasprintf("%s/", dir);
	struct stat st;
	int rc = -1;

	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			*err = xasprintf("cannot create folder '%s': %s", path, strerror(errno));
			goto out;
		}
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			*err = xasprintf("cannot create folder '%s': not a folder", path);
			goto out;
		}
		*p = '/';
	}
	rc = 0;
out:
	free(path);
	return rc;
}

int evidence_sample_write(const char *dir, const struct evidence_sample *s,
			  const struct redact *rd, char **path, char **err)
{
	char *rel = evidence_sample_path(s);
	char *full = xasprintf("%s/%s", dir, rel);
	char *folder = xstrndup(full, (size_t)(strrchr(full, '/') - full));
	char *tmp = xasprintf("%s.tmp.%ld", full, (long)getpid());
	cJSON *j = evidence_sample_json(s, rd);
	FILE *f = NULL;
	int rc = -1;

	if (evidence_mkdirs(folder, err) < 0)
		goto out;
	if (!(f = fopen(tmp, "w"))) {
		*err = xasprintf("cannot write '%s': %s", full, strerror(errno));
		goto out;
	}
	util_json_write(f, j);
	int failed = fflush(f) != 0 || ferror(f);
	failed |= fclose(f) != 0;
	f = NULL;
	if (failed || rename(tmp, full) != 0) {
		*err = xasprintf("cannot write '%s': %s", full, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (path) {
		*path = full;
		full = NULL;
	}
	rc = 0;
out:
	if (f) {
		fclose(f);
		unlink(tmp);
	}
	cJSON_Delete(j);
	free(tmp);
	free(full);
	free(folder);
	free(rel);
	return rc;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* body_of: the text of obj's body (JSON, compact) or body_text; NULL when
 * it has neither. */
static char *body_of(const cJSON *obj)
{
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "body");
	const char *text = str_at(obj, "body_text");

	if (body)
		return provider_json_text(body);
	return text ? xstrdup(text) : NULL;
}

int evidence_sample_read(const char *text, size_t len, const char *name,
			 struct evidence_sample *s, char **err)
{
	const cJSON *target, *res, *req, *header;
	char *why = NULL;

	memset(s, 0, sizeof(*s));
	s->json = provider_json_parse(text, len, NULL, &why);
	if (!s->json || num_at(s->json, "canary_sample") != 1) {
		*err = xasprintf("'%s' is not a saved sample (canary run --save-replies)%s%s", name,
				 why ? ": " : "", why ? why : "");
		free(why);
		evidence_sample_release(s);
		return -1;
	}
	target = cJSON_GetObjectItemCaseSensitive(s->json, "target");
	req = cJSON_GetObjectItemCaseSensitive(s->json, "request");
	res = cJSON_GetObjectItemCaseSensitive(s->json, "response");
	s->suite = str_at(s->json, "suite");
	s->stratum = str_at(s->json, "stratum");
	s->case_id = str_at(s->json, "case");
	s->side = str_at(s->json, "side");
	s->index = (int)num_at(s->json, "index");
	s->time = str_at(s->json, "time");
	s->api = str_at(target, "api");
	s->url = str_at(target, "url");
	s->request = s->owned_request = body_of(req);
	s->status = (long)num_at(res, "status");
	s->body = s->owned_body = body_of(res);
	s->body_len = s->body ? strlen(s->body) : 0;
	header = cJSON_GetObjectItemCaseSensitive(res, "headers");
	if (cJSON_IsObject(header) && cJSON_IsString(header->child)) {
		s->header = header->child->string;
		s->header_value = header->child->valuestring;
	}
	s->latency_ms = num_at(res, "latency_ms");
	s->attempts = (int)num_at(res, "attempts");
	s->fingerprint = str_at(s->json, "fingerprint");
	s->grade = str_at(s->json, "grade");
	return 0;
}

void evidence_sample_release(struct evidence_sample *s)
{
	cJSON_Delete(s->json);
	free(s->owned_request);
	free(s->owned_body);
	memset(s, 0, sizeof(*s));
}

cJSON *evidence_sample_record(const cJSON *sample)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(sample, "request");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(sample, "response");
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(sample, "target");
	const cJSON *reqb = cJSON_GetObjectItemCaseSensitive(req, "body");
	const cJSON *resb = cJSON_GetObjectItemCaseSensitive(res, "body");
	static const char *const copied[] = {"fingerprint", "time", "suite", "stratum", "case",
					     "side", "grade"};
	cJSON *rec, *meta;

	if (!cJSON_IsObject(reqb) || !cJSON_IsObject(resb))
		return NULL;
	rec = cJSON_CreateObject();
	cJSON_AddItemToObject(rec, "request", cJSON_Duplicate(reqb, 1));
	cJSON_AddItemToObject(rec, "response", cJSON_Duplicate(resb, 1));
	meta = cJSON_AddObjectToObject(rec, "metadata");
	if (str_at(target, "api"))
		cJSON_AddStringToObject(meta, "api", str_at(target, "api"));
	cJSON_AddNumberToObject(meta, "status", num_at(res, "status"));
	cJSON_AddNumberToObject(meta, "latency_ms", num_at(res, "latency_ms"));
	for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(sample, copied[i]);

		if (v)
			cJSON_AddItemToObject(meta, copied[i], cJSON_Duplicate(v, 1));
	}
	return rec;
}
