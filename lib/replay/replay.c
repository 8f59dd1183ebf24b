/* replay/replay.c: a log of production records as cases, prod's replies given. */
#include "replay/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"
#include "jsonptr.h"
#include "provider.h"
#include "rx.h"
#include "util.h"

/* The records of one stratum, as they are read. */
struct stratum_records {
	struct suite_case *cases;
	struct run_given *given;
	size_t n, cap;
};

void replay_options_default(struct replay_options *o)
{
	memset(o, 0, sizeof(*o));
	o->limit = REPLAY_LIMIT_DEFAULT;
	o->sample = 1.0;
}

/* splitmix64: a well-mixed 64-bit hash of x. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

bool replay_sampled(uint64_t seed, long line, double fraction)
{
	if (fraction >= 1.0)
		return true;
	uint64_t h = splitmix64(splitmix64(seed) ^ (uint64_t)line);
	return (double)(h >> 11) / (double)(1ull << 53) < fraction;
}

size_t replay_stratum(const struct suite *s, const cJSON *record, const char *last_user,
		      char **why)
{
	const struct suite_replay *rp = &s->replay;
	if (rp->stratum_pointer) {
		const cJSON *v = jsonptr_get(record, rp->stratum_pointer);
		if (!cJSON_IsString(v)) {
			*why = xasprintf("%s is %s, not a stratum's name", rp->stratum_pointer,
					 v ? "not a string" : "absent");
			return s->nstrata;
		}
		for (size_t i = 0; i < s->nstrata; i++)
			if (strcmp(s->strata[i].name, v->valuestring) == 0)
				return i;
		char *shown = report_clean(v->valuestring, 200);
		*why = xasprintf("%s names no stratum of the suite: '%s'", rp->stratum_pointer, shown);
		free(shown);
		return s->nstrata;
	}
	for (size_t i = 0; i < rp->nmatches && last_user; i++) {
		char *err = NULL;
		int m = rx_match(rp->matches[i].match, last_user, strlen(last_user), NULL, NULL, &err);
		if (m < 0) {
			*why = xasprintf("replay stratum '%s': %s", s->strata[rp->matches[i].stratum].name,
					 err);
			free(err);
			return s->nstrata;
		}
		if (m == 1)
			return rp->matches[i].stratum;
	}
	*why = xstrdup(last_user ? "the user's last message matches no replay stratum"
				 : "the record has no user message");
	return s->nstrata;
}

/* last_user: the content of the last user message of messages, or NULL. */
static const char *last_user(const cJSON *messages)
{
	const char *text = NULL;
	const cJSON *m;
	cJSON_ArrayForEach(m, messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0 &&
		    cJSON_IsString(content))
			text = content->valuestring;
	}
	return text;
}

/* logged_request: what of the logged request eval's body takes when eval
 * speaks the log's API: its tools and tool choice; NULL when none. */
static cJSON *logged_request(const struct suite *s, const struct evidence_record *rec)
{
	static const char *const keys[] = {"tools", "tool_choice"};
	if (rec->api != s->targets[SIDE_EVAL].provider)
		return NULL;
	cJSON *out = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec->request, keys[i]);
		if (!v)
			continue;
		if (!out)
			out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, keys[i], cJSON_Duplicate(v, true));
	}
	return out;
}

/* problem: count a line that was not replayed, and keep why (the suite's
 * secrets masked) for the first ones. */
static void problem(const struct suite *s, struct replay *rp, long *counter, long line,
		    const char *why)
{
	(*counter)++;
	if (rp->nproblems >= REPORT_REPLAY_PROBLEMS_MAX)
		return;
	char *text = xasprintf("line %ld: %s", line, why);
	rp->problems = xreallocarray(rp->problems, rp->nproblems + 1, sizeof(*rp->problems));
	rp->problems[rp->nproblems++] = redact_apply(&s->redact, text);
	free(text);
}

/* take_record: the record of line as a case of its stratum (in sr), its
 * reply given to prod; -1 and *err when the stratum has no stratum-level
 * expect to grade it with. */
static int take_record(struct suite *s, struct replay *rp, struct stratum_records *sr,
		       long line, struct evidence_record *rec, char **err)
{
	char *why = NULL;
	size_t si = replay_stratum(s, rec->json, last_user(rec->messages), &why);
	if (si == s->nstrata) {
		problem(s, rp, &rp->counts.unmatched, line, why);
		free(why);
		return 0;
	}
	const struct stratum *st = &s->strata[si];
	if (st->nexpect == 0) {
		*err = xasprintf("%s:%d:%d: stratum '%s' has no stratum-level expect, which "
				 "replay grades each record with (line %ld of %s)",
				 s->path, st->line, st->col, st->name, line, rp->log);
		return -1;
	}
	struct stratum_records *r = &sr[si];
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->cases = xreallocarray(r->cases, r->cap, sizeof(*r->cases));
		r->given = xreallocarray(r->given, r->cap, sizeof(*r->given));
	}
	suite_case_of_messages(s, si, xasprintf("line-%ld", line),
			       cJSON_Duplicate(rec->messages, true), logged_request(s, rec),
			       &r->cases[r->n]);
	struct run_given *g = &r->given[r->n++];
	g->reply = rec->reply;
	memset(&rec->reply, 0, sizeof(rec->reply));
	g->error = rec->reply_error;
	rec->reply_error = NULL;
	rp->counts.replayed++;
	return 0;
}

/* read_line: the next line of f into b (without its newline); 1 when one
 * was read, 0 at the end; *too_long when it exceeded b's maximum (the rest
 * of it is skipped). */
static int read_line(FILE *f, struct buf *b, bool *too_long)
{
	char chunk[65536];
	bool any = false;
	buf_reset(b);
	*too_long = false;
	while (fgets(chunk, sizeof(chunk), f)) {
		size_t n = strlen(chunk);
		bool end = n > 0 && chunk[n - 1] == '\n';
		any = true;
		if (!*too_long && buf_add(b, chunk, n - end) < 0)
			*too_long = true;
		if (end)
			return 1;
	}
	return any;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r", s[i]))
			return false;
	return true;
}

/* read_log: every line of f into rp and sr. */
static int read_log(struct suite *s, const struct replay_options *o, FILE *f, struct replay *rp,
		    struct stratum_records *sr, char **err)
{
	struct buf line;
	bool too_long;
	long number = 0;
	int rc = 0;
	buf_init(&line, REPLAY_LINE_MAX);
	while (rc == 0 && read_line(f, &line, &too_long) == 1) {
		number++;
		if (!too_long && blank(line.data ? line.data : "", line.len))
			continue;
		rp->counts.lines++;
		if (rp->counts.replayed >= o->limit) {
			rp->counts.over_limit++;
			continue;
		}
		if (too_long) {
			char *why = xasprintf("longer than %zu MiB", REPLAY_LINE_MAX >> 20);
			problem(s, rp, &rp->counts.unreadable, number, why);
			free(why);
			continue;
		}
		struct evidence_record rec = {0};
		char *why = NULL;
		if (evidence_record_read(line.data, line.len, NULL, &s->redact, &rec, &why) < 0) {
			problem(s, rp, &rp->counts.unreadable, number, why);
			free(why);
			continue;
		}
		if (!replay_sampled(o->seed, number, o->sample))
			rp->counts.sampled_out++;
		else
			rc = take_record(s, rp, sr, number, &rec, err);
		evidence_record_release(&rec);
	}
	if (rc == 0 && ferror(f)) {
		*err = xasprintf("cannot read '%s': %s", rp->log, strerror(errno));
		rc = -1;
	}
	buf_release(&line);
	return rc;
}

/* install: the records' cases as the suite's, and their replies as the
 * given prod samples in suite order. */
static void install(struct suite *s, struct replay *rp, struct stratum_records *sr)
{
	rp->given = xcalloc((size_t)rp->counts.replayed + 1, sizeof(*rp->given));
	for (size_t i = 0; i < s->nstrata; i++) {
		if (sr[i].n)
			memcpy(&rp->given[rp->ngiven], sr[i].given, sr[i].n * sizeof(*sr[i].given));
		rp->ngiven += sr[i].n;
		free(sr[i].given);
		sr[i].given = NULL;
		suite_set_cases(s, i, sr[i].cases, sr[i].n);
		sr[i].cases = NULL;
		sr[i].n = 0;
	}
}

int replay_prepare(struct suite *s, const struct replay_options *o, struct replay *rp,
		   char **err)
{
	memset(rp, 0, sizeof(*rp));
	if (!s->replay.present) {
		*err = xasprintf("%s: the suite has no 'replay' section, which says which stratum "
				 "each log record belongs to (docs/evidence.md)", s->path);
		return -1;
	}
	bool in = strcmp(o->log, "-") == 0;
	FILE *f = in ? stdin : fopen(o->log, "r");
	if (!f) {
		*err = xasprintf("cannot open '%s': %s", o->log, strerror(errno));
		return -1;
	}
	rp->log = xstrdup(o->log);
	rp->counts.present = true;
	struct stratum_records *sr = xcalloc(s->nstrata + 1, sizeof(*sr));
	int rc = read_log(s, o, f, rp, sr, err);
	if (!in)
		fclose(f);
	install(s, rp, sr);
	free(sr);
	if (rc < 0)
		return -1;
	if (rp->counts.replayed == 0) {
		*err = xasprintf("no record of '%s' to replay (%ld %s, %ld unreadable, %ld in no "
				 "stratum, %ld not sampled)%s%s",
				 o->log, rp->counts.lines, rp->counts.lines == 1 ? "line" : "lines",
				 rp->counts.unreadable, rp->counts.unmatched,
				 rp->counts.sampled_out, rp->nproblems ? ": " : "",
				 rp->nproblems ? rp->problems[0] : "");
		return -1;
	}
	return 0;
}

void replay_report(const struct replay *rp, struct report *rep)
{
	rep->replay = rp->counts;
	rep->replay.log = report_strdup(rep, rp->log);
	rep->replay.problems = (struct report_names){0};
	for (size_t i = 0; i < rp->nproblems; i++)
		report_names_add(rep, &rep->replay.problems, rp->problems[i]);
	rep->targets[SIDE_PROD].url = rep->replay.log;
}

void replay_release(struct replay *rp)
{
	for (size_t i = 0; i < rp->ngiven; i++) {
		reply_release(&rp->given[i].reply);
		free(rp->given[i].error);
	}
	free(rp->given);
	for (size_t i = 0; i < rp->nproblems; i++)
		free(rp->problems[i]);
	free(rp->problems);
	free(rp->log);
	memset(rp, 0, sizeof(*rp));
}
