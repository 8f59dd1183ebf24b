/* run/save.c: --save-replies, saved samples and log records of a run. */
#include "run/save.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence/evidence.h"
#include "run/run.h"
#include "util.h"

void run_exchange_release(struct run_exchange *x)
{
	free(x->request);
	for (size_t i = 0; i < x->nheaders; i++)
		free(x->headers[i]);
	free(x->headers);
	free(x->body);
	free(x->header_value);
	memset(x, 0, sizeof(*x));
}

int run_saver_open(struct run_saver *sv, const char *dir, enum run_save_format format,
		   char **err)
{
	char *why = NULL;

	memset(sv, 0, sizeof(*sv));
	if (evidence_mkdirs(dir, &why) < 0) {
		*err = xasprintf("--save-replies: %s", why);
		free(why);
		return -1;
	}
	if (access(dir, W_OK) < 0) {
		*err = xasprintf("--save-replies: '%s' is not writable", dir);
		return -1;
	}
	sv->dir = dir;
	sv->format = format;
	if (format != RUN_SAVE_JSONL)
		return 0;
	sv->log_path = xasprintf("%s/replies.jsonl", dir);
	sv->log_tmp = xasprintf("%s.tmp.%ld", sv->log_path, (long)getpid());
	if (!(sv->log = fopen(sv->log_tmp, "w"))) {
		*err = xasprintf("--save-replies: cannot write '%s': %s", sv->log_path,
				 strerror(errno));
		run_saver_close(sv);
		return -1;
	}
	return 0;
}

/* write_record: the log record of sample j as one line of the log. */
static int write_record(struct run_saver *sv, const cJSON *j, char **err)
{
	cJSON *rec = evidence_sample_record(j);
	char *line;

	if (!rec)
		return 0; /* no JSON request and reply: no record of them */
	line = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	fputs(line, sv->log);
	fputc('\n', sv->log);
	cJSON_free(line);
	if (ferror(sv->log)) {
		*err = xasprintf("cannot write '%s': %s", sv->log_path, strerror(errno));
		return -1;
	}
	return 0;
}

void run_saver_sample(struct run_saver *sv, const struct run *r, const struct case_result *cr,
		      struct sample *smp, const struct run_exchange *x)
{
	const struct suite *s = r->suite;
	struct evidence_grade *grades;
	char time[32], *err = NULL;

	if (!sv->dir || sv->error)
		return;
	util_rfc3339(util_wall_ms(), time);
	grades = xcalloc(smp->ngrades + 1, sizeof(*grades));
	for (size_t i = 0; i < smp->ngrades; i++)
		grades[i] = (struct evidence_grade){smp->grades[i].grader->label,
						    grade_name(smp->grades[i].grade),
						    smp->grades[i].reason};
	struct evidence_sample es = {
		.suite = s->name,
		.stratum = s->strata[cr->c->stratum].name,
		.case_id = cr->c->id,
		.side = side_name(smp->side),
		.index = smp->index,
		.time = time,
		.api = s->targets[smp->side].provider->name,
		.url = r->url_display[smp->side],
		.request = x ? x->request : NULL,
		.request_headers = x ? x->headers : NULL,
		.nrequest_headers = x ? x->nheaders : 0,
		.status = smp->status,
		.body = x ? x->body : NULL,
		.body_len = x ? x->body_len : 0,
		.header = x ? x->header : NULL,
		.header_value = x ? x->header_value : NULL,
		.latency_ms = smp->latency_ms,
		.attempts = smp->attempts,
		.fingerprint = smp->fingerprint,
		.grade = grade_name(smp->grade),
		.grades = grades,
		.ngrades = smp->ngrades,
		.reasons = smp->reasons,
		.nreasons = smp->nreasons,
	};
	if (sv->format == RUN_SAVE_JSONL) {
		cJSON *j = evidence_sample_json(&es, &s->redact);
		if (write_record(sv, j, &err) < 0)
			sv->error = err;
		cJSON_Delete(j);
	} else if (evidence_sample_write(sv->dir, &es, &s->redact, &smp->reply_file, &err) < 0) {
		sv->error = err;
	}
	free(grades);
}

void run_saver_close(struct run_saver *sv)
{
	if (sv->log) {
		int failed = fflush(sv->log) != 0 || ferror(sv->log);
		failed |= fclose(sv->log) != 0;
		if ((failed || rename(sv->log_tmp, sv->log_path) != 0) && !sv->error)
			sv->error = xasprintf("cannot write '%s': %s", sv->log_path,
					      strerror(errno));
		if (failed)
			unlink(sv->log_tmp);
	}
	free(sv->log_tmp);
	free(sv->log_path);
	sv->log = NULL;
	sv->log_tmp = sv->log_path = NULL;
}
