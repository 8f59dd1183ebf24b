/* jsonschema_suite.c: run the JSON-Schema-Test-Suite against lib/jsonschema.
 *
 *   jsonschema-suite [--remotes DIR] [--known-failures FILE]
 *                    [--draft 2020-12|7] [--verbose] PATH...
 *
 * PATH is a test file or a folder, searched recursively except for
 * optional/ folders (name one to run it).  The draft comes from --draft, or
 * from the path (a "draft7" component means draft-07, anything else
 * 2020-12).  Tests under a format/ folder run with format assertion on.
 *
 * A known-failures file has one test per line,
 *     FILE :: GROUP DESCRIPTION :: TEST DESCRIPTION  # reason
 * where FILE is the test file's path from its draft folder on, e.g.
 * "draft7/ref.json".  Known failures are listed but do not fail the run; a
 * known failure that passes is reported.  The last line of output is
 * "N passed, M failed", M counting failures that are not known; the exit
 * status is 0 when M is 0.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "schema/jsonschema.h"
#include "util.h"

#define MAX_ERRS 4

struct known {
	char *file;
	char *group;
	char *test;
	bool seen;
	bool failed;
};

struct run {
	const char *remotes;
	int draft;              /* 0: from the path */
	bool verbose;
	struct known *known;
	size_t nknown;
	size_t passed, failed, known_failed;
	char **files_run;
	size_t nfiles_run;
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* load_known: read the known-failures file; -1 when it cannot be read. */
static int load_known(struct run *r, const char *path)
{
	char *err = NULL;
	char *data = util_read_file(path, (size_t)4 << 20, NULL, &err);
	if (!data) {
		fprintf(stderr, "jsonschema-suite: %s\n", err);
		free(err);
		return -1;
	}
	int lineno = 0;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
		lineno++;
		char *hash = strstr(line, "  #");
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *a = strstr(s, " :: ");
		char *b = a ? strstr(a + 4, " :: ") : NULL;
		if (!b) {
			fprintf(stderr, "jsonschema-suite: %s: line %d: expected 'FILE :: GROUP :: TEST'\n",
				path, lineno);
			continue;
		}
		*a = '\0';
		*b = '\0';
		r->known = xreallocarray(r->known, r->nknown + 1, sizeof(*r->known));
		r->known[r->nknown++] = (struct known){xstrdup(trim(s)), xstrdup(trim(a + 4)),
						       xstrdup(trim(b + 4)), false, false};
	}
	free(data);
	return 0;
}

static struct known *find_known(struct run *r, const char *file, const char *group,
				const char *test)
{
	for (size_t i = 0; i < r->nknown; i++) {
		struct known *k = &r->known[i];
		if (strcmp(k->file, file) == 0 && strcmp(k->group, group) == 0 &&
		    strcmp(k->test, test) == 0)
			return k;
	}
	return NULL;
}

/* display_name: the path from its draft folder on ("draft7/ref.json"). */
static const char *display_name(const char *path)
{
	const char *best = NULL;
	for (const char *p = path; (p = strstr(p, "draft")); p++) {
		if (p == path || p[-1] == '/')
			best = p;
	}
	if (best)
		return best;
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int draft_of(const struct run *r, const char *path)
{
	if (r->draft)
		return r->draft;
	return strstr(display_name(path), "draft7") ? JSONSCHEMA_DRAFT_7 : JSONSCHEMA_DRAFT_2020;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* run_test: one test of a group; true when the outcome is the expected one. */
static bool run_test(const struct jsonschema *s, const char *compile_err, const cJSON *test,
		     char **why)
{
	const cJSON *valid = cJSON_GetObjectItemCaseSensitive(test, "valid");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(test, "data");
	if (!s) {
		*why = xasprintf("schema does not compile: %s", compile_err);
		return false;
	}
	if (!data || !cJSON_IsBool(valid)) {
		*why = xstrdup("malformed test");
		return false;
	}
	struct jsonschema_error errs[MAX_ERRS];
	size_t n = 0;
	int rc = jsonschema_validate(s, data, NULL, errs, MAX_ERRS, &n);
	bool want = cJSON_IsTrue(valid);
	bool ok = rc == (want ? 1 : 0);
	if (!ok) {
		char *first = n ? jsonschema_error_format(&errs[n - 1]) : xstrdup("no error");
		*why = rc < 0 ? xasprintf("expected %s, could not decide: %s",
					  want ? "valid" : "invalid", first)
			      : xasprintf("expected %s, got %s%s%s", want ? "valid" : "invalid",
					  rc ? "valid" : "invalid", rc ? "" : ": ", rc ? "" : first);
		free(first);
	}
	jsonschema_errors_release(errs, n);
	return ok;
}

static void run_file(struct run *r, const char *path)
{
	const char *name = display_name(path);
	char *err = NULL;
	char *data = util_read_file(path, (size_t)64 << 20, NULL, &err);
	cJSON *doc = data ? cJSON_Parse(data) : NULL;
	free(data);
	if (!cJSON_IsArray(doc)) {
		printf("%s: cannot read: %s\n", name, err ? err : "not a JSON array of test groups");
		free(err);
		cJSON_Delete(doc);
		r->failed++;
		return;
	}
	r->files_run = xreallocarray(r->files_run, r->nfiles_run + 1, sizeof(*r->files_run));
	r->files_run[r->nfiles_run++] = xstrdup(name);
	struct jsonschema_options o = {
		.remotes_dir = r->remotes,
		.default_draft = draft_of(r, path),
		.format_assert = strstr(name, "/format/") != NULL,
	};
	size_t passed = 0, failed = 0, known = 0;
	for (const cJSON *g = doc->child; g; g = g->next) {
		const char *gdesc = str_of(g, "description");
		char *cerr = NULL, *cptr = NULL;
		struct jsonschema *s = jsonschema_compile(cJSON_GetObjectItemCaseSensitive(g, "schema"),
							  &o, &cptr, &cerr);
		char *cmsg = cerr ? xasprintf("%s (at '%s')", cerr, cptr ? cptr : "") : NULL;
		const cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
		for (const cJSON *t = tests ? tests->child : NULL; t; t = t->next) {
			const char *tdesc = str_of(t, "description");
			char *why = NULL;
			bool ok = run_test(s, cmsg, t, &why);
			struct known *k = find_known(r, name, gdesc, tdesc);
			if (k) {
				k->seen = true;
				k->failed = !ok;
			}
			if (ok) {
				passed++;
				if (k)
					printf("  known failure now passes: %s :: %s :: %s\n", name, gdesc,
					       tdesc);
			} else if (k) {
				known++;
				if (r->verbose)
					printf("  known failure: %s :: %s :: %s (%s)\n", name, gdesc, tdesc,
					       why);
			} else {
				failed++;
				printf("  FAIL %s :: %s :: %s (%s)\n", name, gdesc, tdesc, why);
			}
			free(why);
		}
		free(cerr);
		free(cptr);
		free(cmsg);
		jsonschema_free(s);
	}
	cJSON_Delete(doc);
	if (known)
		printf("%s: %zu passed, %zu failed (%zu known failures)\n", name, passed, failed, known);
	else
		printf("%s: %zu passed, %zu failed\n", name, passed, failed);
	r->passed += passed;
	r->failed += failed;
	r->known_failed += known;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run_path: a file, or a folder in name order (optional/ left out unless
 * it is the path given). */
static void run_path(struct run *r, const char *path, bool top)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		printf("%s: cannot open: %s\n", path, strerror(errno));
		r->failed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(r, path);
		return;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!top && strcmp(base, "optional") == 0)
		return;
	DIR *d = opendir(path);
	if (!d) {
		printf("%s: cannot open: %s\n", path, strerror(errno));
		r->failed++;
		return;
	}
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s/%s", path, e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (stat(names[i], &st) == 0 &&
		    (S_ISDIR(st.st_mode) || (len > 5 && strcmp(names[i] + len - 5, ".json") == 0)))
			run_path(r, names[i], false);
		free(names[i]);
	}
	free(names);
}

static void usage(void)
{
	fprintf(stderr, "usage: jsonschema-suite [--remotes DIR] [--known-failures FILE] "
			"[--draft 2020-12|7] [--verbose] PATH...\n");
}

int main(int argc, char **argv)
{
	struct run r = {0};
	const char **paths = xcalloc((size_t)argc, sizeof(*paths));
	size_t npaths = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--remotes") == 0 && i + 1 < argc) {
			r.remotes = argv[++i];
		} else if (strcmp(a, "--known-failures") == 0 && i + 1 < argc) {
			if (load_known(&r, argv[++i]) < 0)
				return 2;
		} else if (strcmp(a, "--draft") == 0 && i + 1 < argc) {
			const char *d = argv[++i];
			if (strcmp(d, "2020-12") == 0 || strcmp(d, "2020") == 0)
				r.draft = JSONSCHEMA_DRAFT_2020;
			else if (strcmp(d, "7") == 0 || strcmp(d, "draft7") == 0)
				r.draft = JSONSCHEMA_DRAFT_7;
			else {
				usage();
				return 2;
			}
		} else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			r.verbose = true;
		} else if (a[0] == '-' && a[1]) {
			usage();
			return 2;
		} else {
			paths[npaths++] = a;
		}
	}
	if (!npaths) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < npaths; i++) {
		char *p = xstrdup(paths[i]);
		size_t len = strlen(p);
		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		run_path(&r, p, true);
		free(p);
	}
	/* Known failures of the files run that no test matched are stale. */
	for (size_t i = 0; i < r.nknown; i++) {
		struct known *k = &r.known[i];
		bool ran = false;
		for (size_t j = 0; j < r.nfiles_run && !ran; j++)
			ran = strcmp(r.files_run[j], k->file) == 0;
		if (ran && !k->seen)
			printf("known failure matches no test: %s :: %s :: %s\n", k->file, k->group,
			       k->test);
	}
	size_t total = r.passed + r.failed + r.known_failed;
	printf("%zu known failures\n", r.known_failed);
	printf("pass rate: %.1f%% (%zu of %zu)\n", total ? 100.0 * (double)r.passed / (double)total : 0.0,
	       r.passed, total);
	printf("%zu passed, %zu failed\n", r.passed, r.failed);
	for (size_t i = 0; i < r.nknown; i++) {
		free(r.known[i].file);
		free(r.known[i].group);
		free(r.known[i].test);
	}
	free(r.known);
	for (size_t i = 0; i < r.nfiles_run; i++)
		free(r.files_run[i]);
	free(r.files_run);
	free(paths);
	return r.failed ? 1 : 0;
}
