/* run/run.c: turn a suite into jobs on the transport and gather graded samples. */
#include "run/run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonptr.h"
#include "judge/prompt.h"
#include "provider.h"
#include "run/conversation.h"
#include "run/grading.h"
#include "stats.h"
#include "template.h"
#include "util.h"

/* One target sample in flight: which sample it fills, and for a
 * conversation its state, the deadline of its conversation_timeout (0:
 * none) and the sample its current turn's graders fill. */
struct job {
	struct feeder *feeder;
	struct case_result *cr;
	struct sample *sample;
	struct run_exchange x;  /* --save-replies: what it sent and received */
	struct provider_stream *stream; /* the request in flight's streamed reply, or NULL */
	struct conversation *cv;
	double deadline_ms;
	bool capped;            /* the request in flight ends at the deadline */
	struct sample turn;
};

/* The samples still to send, in order: case by case, eval and prod of each
 * repeat interleaved (so time-dependent effects hit both sides alike).
 * Requests are built only as the transport frees room, so memory holds a
 * window of requests, not the whole run's. */
struct feeder {
	struct run *run;
	struct transport *tr;
	struct grading *grading;
	const struct run_options *opts;
	size_t ci;              /* the case, */
	size_t n;               /* the repeat */
	int side;               /* and the side of the next sample */
	size_t outstanding;     /* target requests built and not yet answered */
	size_t window;          /* the most outstanding at once */
	bool feeding;           /* inside feed(): completions must not recurse */
	size_t *unfinished;     /* per case: first samples not finished yet */
	size_t *unscreened;     /* per stratum: samples its screen waits for */
	size_t *confirming;     /* cases to confirm, in the order decided */
	size_t nconfirming;
	size_t qi;              /* the confirming case being fed, */
	size_t qn;              /* its next confirmation sample */
	int qside;              /* and side */
	struct run_saver saver; /* --save-replies */
};

static void feed(struct feeder *f);
static void send_job(struct feeder *f, struct job *job);


void run_options_default(struct run_options *o)
{
	memset(o, 0, sizeof(*o));
	transport_options_default(&o->transport);
	o->confirm = -1;
	o->min_valid = -1;
}

void sample_release(struct sample *s)
{
	for (size_t i = 0; i < s->nreasons; i++)
		free(s->reasons[i]);
	free(s->reasons);
	free(s->fingerprint);
	free(s->response_id);
	free(s->response_model);
	s->response_id = NULL;
	s->response_model = NULL;
	for (size_t i = 0; i < s->ngrades; i++)
		free(s->grades[i].reason);
	free(s->grades);
	free(s->reply_file);
	s->reply_file = NULL;
	s->grades = NULL;
	s->ngrades = 0;
	for (size_t i = 0; i < s->nturns; i++) {
		struct sample_turn *t = &s->turns[i];
		for (size_t j = 0; j < t->nreasons; j++)
			free(t->reasons[j]);
		free(t->reasons);
		for (size_t j = 0; j < t->nsteps; j++) {
			for (size_t k = 0; k < t->steps[j].ncalls; k++)
				free(t->steps[j].calls[k]);
			free(t->steps[j].calls);
		}
		free(t->steps);
	}
	free(s->turns);
	s->turns = NULL;
	s->nturns = 0;
	s->reasons = NULL;
	s->nreasons = 0;
	s->fingerprint = NULL;
}

void sample_add_reason(struct sample *out, const struct redact *rd, const char *reason)
{
	char *clean = redact_apply(rd, reason);
	for (char *p = clean; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	out->reasons = xreallocarray(out->reasons, out->nreasons + 1, sizeof(*out->reasons));
	out->reasons[out->nreasons++] = clean;
}

static void sample_error(struct suite *s, struct sample *out, const char *reason)
{
	out->grade = GRADE_ERROR;
	sample_add_reason(out, &s->redact, reason);
}

/* Read the fingerprint a target declares from the parsed reply body. */
static char *json_fingerprint(const struct target *t, const struct reply *r)
{
	if (t->fingerprint != FINGERPRINT_JSON || !r->json)
		return NULL;
	const cJSON *v = jsonptr_get(r->json, t->fingerprint_where);
	if (!v || cJSON_IsNull(v))
		return NULL;
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	char *text = cJSON_PrintUnformatted(v);
	char *out = xstrdup(text ? text : "");
	cJSON_free(text);
	return out;
}

/* json_member: the reply's top-level string member name, redacted, or NULL. */
static char *json_member(struct suite *s, const struct reply *r, const char *name)
{
	const cJSON *v = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, name) : NULL;
	return cJSON_IsString(v) ? redact_apply(&s->redact, v->valuestring) : NULL;
}

/* sample_parse: read a reply with the side's provider into out (status,
 * latency, fingerprint); -1 after recording why it cannot be read (the
 * reply took attempts HTTP attempts). */
static int sample_parse(struct suite *s, enum side side, struct reply *reply, int attempts,
			struct sample *out)
{
	const struct target *t = &s->targets[side];
	char *err = NULL;
	out->status = reply->status;
	out->latency_ms = reply->latency_ms;
	reply->redact = &s->redact;
	int parsed = provider_parse_reply(t->provider, t->priv, reply, &err);
	if (!reply->fingerprint)
		reply->fingerprint = json_fingerprint(t, reply);
	if (reply->fingerprint) {
		free(out->fingerprint);
		out->fingerprint = redact_apply(&s->redact, reply->fingerprint);
	}
	free(out->response_id);
	free(out->response_model);
	out->response_id = json_member(s, reply, "id");
	out->response_model = json_member(s, reply, "model");
	out->usage = reply->usage;
	if (parsed == 0)
		return 0;
	if (attempts > 1) {
		char *why = xasprintf("%s (after %d attempts)", err, attempts);
		free(err);
		err = why;
	}
	sample_error(s, out, err);
	out->done = true;
	free(err);
	return -1;
}

/* case_job: the grading of case c's sample out with the case's graders. */
static struct grading_job case_job(const struct suite_case *c, struct sample *out)
{
	return (struct grading_job){
		.graders = c->expect,
		.ngraders = c->nexpect,
		.case_id = c->id,
		.target = side_name(out->side),
		.input = c->input,
		.sample = out,
	};
}

int run_grade_reply(struct suite *s, const struct suite_case *c, enum side side,
		    struct reply *reply, const struct grading_options *o, struct sample *out,
		    char **warning, char **err)
{
	struct grading_options go = *o;
	struct grading *g = NULL;
	char *why = NULL;
	int rc = -1;
	go.graders = c->expect;
	go.ngraders = c->nexpect;
	out->side = side;
	struct transport *tr = transport_new(NULL, &why);
	if (!tr) {
		sample_error(s, out, why);
		out->done = true;
		rc = 0;
		goto out;
	}
	if (!(g = grading_new(tr, &s->redact, &go, err)))
		goto out;
	if (grading_warning(g))
		*warning = xstrdup(grading_warning(g));
	if (sample_parse(s, side, reply, 1, out) == 0) {
		struct grading_job job = case_job(c, out);
		grading_start(g, &job, reply);
	}
	if (transport_run(tr, o->stop, &why) < 0)
		sample_error(s, out, why);
	grading_drain(g);
	rc = 0;
out:
	grading_free(g);
	transport_free(tr);
	free(why);
	return rc;
}

/* case_table: the valid counts of a case, first samples and all, as the
 * confirmation rules read them. */
static struct stats_table case_table(const struct case_result *cr)
{
	struct stats_table t = {.staged = true, .confirmed = cr->confirmed,
				.threshold = cr->c->threshold};
	for (int side = 0; side < SIDE__COUNT; side++) {
		for (size_t k = 0; k < cr->side[side].nsamples; k++) {
			const struct sample *smp = &cr->side[side].samples[k];
			if (!smp->done || smp->grade == GRADE_ERROR)
				continue;
			int failed = smp->grade != GRADE_PASS;
			t.n[side][failed]++;
			if (smp->index < cr->repeat)
				t.first[side][failed]++;
		}
	}
	return t;
}

/* confirm_case: ask for the run's confirmation samples of a case. */
static void confirm_case(struct feeder *f, struct case_result *cr)
{
	struct run *r = f->run;
	cr->confirmed = true;
	cr->confirm = r->confirm;
	for (int side = 0; side < SIDE__COUNT; side++)
		cr->side[side].nsamples = (size_t)(cr->repeat + cr->confirm);
	f->unscreened[cr->c->stratum] += SIDE__COUNT * (size_t)r->confirm;
	f->confirming[f->nconfirming++] = (size_t)(cr - r->cases);
}

/* spend: what the sample's reply declared, counted against the budget. */
static void spend(struct run *r, const struct sample *smp)
{
	const struct target *t = &r->suite->targets[smp->side];
	long long in = smp->usage.input > 0 ? smp->usage.input : 0;
	long long out = smp->usage.output > 0 ? smp->usage.output : 0;
	r->spent_tokens += in + out;
	if (t->priced)
		r->spent_usd += ((double)in * t->price_input + (double)out * t->price_output) / 1e6;
	if ((r->budget_tokens > 0 && r->spent_tokens >= r->budget_tokens) ||
	    (r->budget_usd > 0 && r->spent_usd >= r->budget_usd))
		r->budget_reached = true;
}

/* decide_confirmation: once a case's first samples are in, ask for the
 * run's confirmation samples when the rule says so. */
static void decide_confirmation(struct feeder *f, struct case_result *cr)
{
	struct stats_table t = case_table(cr);
	if (f->opts->stop && *f->opts->stop)
		return;
	if (stats_confirms(t.first[SIDE_EVAL][0], t.first[SIDE_EVAL][0] + t.first[SIDE_EVAL][1],
			   t.first[SIDE_PROD][0], t.first[SIDE_PROD][0] + t.first[SIDE_PROD][1],
			   cr->c->threshold))
		confirm_case(f, cr);
}

/* screen_stratum: once every case of a stratum has its first samples and
 * every confirmed one its confirmation samples, confirm its other cases
 * too when its screen asks (docs/statistics.md). */
static void screen_stratum(struct feeder *f, size_t stratum)
{
	struct run *r = f->run;
	struct stats_table *t = xcalloc(r->ncases ? r->ncases : 1, sizeof(*t));
	size_t k = 0;
	for (size_t i = 0; i < r->ncases; i++)
		if (r->cases[i].selected && r->cases[i].c->stratum == stratum)
			t[k++] = case_table(&r->cases[i]);
	double alpha = r->alpha > 0 ? r->alpha : STATS_ALPHA_DEFAULT;
	if (!(f->opts->stop && *f->opts->stop) && stats_screens(t, k, alpha * (1.0 - alpha))) {
		for (size_t i = 0; i < r->ncases; i++) {
			struct case_result *cr = &r->cases[i];
			if (!cr->selected || cr->c->stratum != stratum || cr->confirmed)
				continue;
			cr->by_stratum = true;
			confirm_case(f, cr);
		}
	}
	free(t);
}

/* sample_finished: a sample has its grade (or its error): save it (job
 * holds what it sent and received, NULL when nothing was sent), report it;
 * decide its case's confirmation when it was the last of its first ones,
 * and its stratum's screen when it was the last the screen waits for. */
static void sample_finished(struct feeder *f, struct case_result *cr, struct sample *smp,
			    const struct job *job)
{
	const struct run_options *o = f->opts;
	spend(f->run, smp);
	bool decided = false;
	if (smp->done)
		run_saver_sample(&f->saver, f->run, cr, smp, job ? &job->x : NULL);
	if (o->on_sample)
		o->on_sample(f->run, cr, smp, o->user);
	if (f->run->confirm <= 0 || cr->by_stratum)
		return;
	if (smp->index < cr->repeat && --f->unfinished[cr - f->run->cases] == 0) {
		decide_confirmation(f, cr);
		decided = true;
	}
	if (--f->unscreened[cr->c->stratum] == 0) {
		screen_stratum(f, cr->c->stratum);
		decided = true;
	}
	if (decided)
		feed(f);
}

/* job_free: a finished job, its stream, its conversation and what it kept
 * to save. */
static void job_free(struct job *job)
{
	provider_stream_free(job->stream);
	if (job->cv)
		conversation_free(job->cv);
	free(job->cv);
	sample_release(&job->turn);
	run_exchange_release(&job->x);
	free(job);
}

/* A target sample has its grade. */
static void sample_graded(struct sample *smp, void *user)
{
	struct job *job = user;
	sample_finished(job->feeder, job->cr, smp, job);
	job_free(job);
}

/* The transport's callback for each event of a streamed reply. */
static int job_event(void *user, const struct sse_event *ev, double elapsed_ms, char **err)
{
	struct job *job = user;

	return provider_stream_event(job->stream, ev, elapsed_ms, err);
}

/* conversation_failed: end a conversation sample as an error: why, at its
 * turn and step (sent: the step's reply came, else it is the next one). */
static void conversation_failed(struct feeder *f, struct job *job, bool sent, const char *why)
{
	struct sample *out = job->sample;
	char *reason = xasprintf("turn %zu step %d: %s", job->cv->turn + 1,
				 job->cv->step + (sent ? 0 : 1), why);
	sample_error(f->run->suite, out, reason);
	free(reason);
	out->done = true;
	out->latency_ms = job->cv->latency_ms;
	sample_finished(f, job->cr, out, job);
	job_free(job);
}

/* grade_conversation: grade the whole conversation with the case's graders. */
static void grade_conversation(struct feeder *f, struct job *job)
{
	struct reply reply;
	const char *heard;
	conversation_reply(job->cv, true, &reply, &heard);
	struct grading_job gj = case_job(job->cr->c, job->sample);
	gj.input = heard;
	gj.steps = job->cv->steps;
	gj.done = sample_graded;
	gj.user = job;
	job->sample->latency_ms = job->cv->latency_ms;
	grading_start(f->grading, &gj, &reply);
}

/* next_turn: the conversation goes on with its next turn, or is graded
 * once its last turn is over. */
static void next_turn(struct feeder *f, struct job *job)
{
	if (conversation_next_turn(job->cv))
		send_job(f, job);
	else
		grade_conversation(f, job);
}

/* A turn's own graders are done: their verdict goes to the turn and to the
 * sample ("turn N: grader: why"), and the conversation goes on. */
static void turn_graded(struct sample *ts, void *user)
{
	struct job *job = user;
	struct feeder *f = job->feeder;
	struct sample *out = job->sample;
	struct sample_turn *t = &out->turns[job->cv->turn];
	t->grade = ts->grade;
	t->reasons = ts->reasons;
	t->nreasons = ts->nreasons;
	ts->reasons = NULL;
	ts->nreasons = 0;
	for (size_t i = 0; i < t->nreasons; i++) {
		char *why = xasprintf("turn %zu: %s", job->cv->turn + 1, t->reasons[i]);
		sample_add_reason(out, &f->run->suite->redact, why);
		free(why);
	}
	out->grades = xreallocarray(out->grades, out->ngrades + ts->ngrades, sizeof(*out->grades));
	memcpy(out->grades + out->ngrades, ts->grades, ts->ngrades * sizeof(*ts->grades));
	out->ngrades += ts->ngrades;
	free(ts->grades);
	ts->grades = NULL;
	ts->ngrades = 0;
	if (ts->grade == GRADE_FAIL || (ts->grade == GRADE_ERROR && out->grade == GRADE_PASS))
		out->grade = ts->grade;
	bool cut = !ts->done;
	sample_release(ts);
	if (cut) {
		out->done = out->grade == GRADE_FAIL;
		sample_finished(f, job->cr, out, job);
		job_free(job);
		return;
	}
	next_turn(f, job);
}

/* turn_over: the agent answered the current turn: grade it with the turn's
 * graders, then go on. */
static void turn_over(struct feeder *f, struct job *job)
{
	const struct suite_turn *t = job->cv->c->nturns ? &job->cv->c->turns[job->cv->turn] : NULL;
	if (!t || !t->nexpect) {
		next_turn(f, job);
		return;
	}
	struct reply reply;
	const char *heard;
	conversation_reply(job->cv, false, &reply, &heard);
	memset(&job->turn, 0, sizeof(job->turn));
	job->turn.side = job->sample->side;
	job->turn.index = job->sample->index;
	struct grading_job gj = {
		.graders = t->expect,
		.ngraders = t->nexpect,
		.case_id = job->cr->c->id,
		.target = side_name(job->sample->side),
		.input = heard,
		.steps = job->cv->step,
		.sample = &job->turn,
		.done = turn_graded,
		.user = job,
	};
	grading_start(f->grading, &gj, &reply);
}

/* keep_reply: with --save-replies, a copy of the body of reply r (for a
 * streamed reply, the body its events make) that res brought the job,
 * kept with the request send_job() kept. */
static void keep_reply(struct feeder *f, struct job *job, const struct http_result *res,
		       const struct reply *r)
{
	const struct target *t = &f->run->suite->targets[job->sample->side];
	if (!f->saver.dir || !r->raw)
		return;
	job->x.body = xmalloc(r->raw_len + 1);
	memcpy(job->x.body, r->raw, r->raw_len);
	job->x.body[r->raw_len] = '\0';
	job->x.body_len = r->raw_len;
	job->x.header = res->header_value ? t->fingerprint_where : NULL;
	job->x.header_value = res->header_value ? xstrdup(res->header_value) : NULL;
}

/* A reply (or a failure) for one step of a conversation. */
static void conversation_step(struct feeder *f, struct job *job, struct http_result *res,
			      struct reply *reply)
{
	struct sample *out = job->sample;
	char *err = NULL;
	bool late = job->deadline_ms > 0 && util_now_ms() >= job->deadline_ms;
	if (!res->ok) {
		/* the status of the step that failed, not of the one before */
		out->status = res->status;
		reply_release(reply);
		if (res->interrupted) {
			out->done = false;
			sample_finished(f, job->cr, out, job);
			job_free(job);
			return;
		}
		const char *error = res->error ? res->error : "request failed";
		char *why = late || job->capped
				    ? xasprintf("conversation_timeout (%ld ms) reached: %s",
						job->cr->c->conversation_timeout_ms, error)
				    : xstrdup(error);
		conversation_failed(f, job, false, why);
		free(why);
		return;
	}
	if (res->streamed && provider_stream_end(job->stream, reply, &err) < 0) {
		conversation_failed(f, job, false, err);
		free(err);
		reply_release(reply);
		return;
	}
	keep_reply(f, job, res, reply);
	int parsed = sample_parse(f->run->suite, out->side, reply, res->attempts, out);
	conversation_count(job->cv, reply);
	out->usage = job->cv->usage;
	if (parsed < 0) {
		/* sample_parse() recorded why; name the turn and step. */
		char *why = out->reasons[--out->nreasons];
		conversation_failed(f, job, false, why);
		free(why);
		reply_release(reply);
		return;
	}
	int rc = conversation_take(job->cv, reply, out, &err);
	out->latency_ms = job->cv->latency_ms;
	out->ttft_ms = job->cv->ttft_ms;
	if (rc < 0) {
		conversation_failed(f, job, true, err);
	} else if (rc == 1 && late) {
		char *why = xasprintf("conversation_timeout (%ld ms) reached",
				      job->cr->c->conversation_timeout_ms);
		conversation_failed(f, job, true, why);
		free(why);
	} else if (rc == 1) {
		send_job(f, job);
	} else {
		turn_over(f, job);
	}
	free(err);
}

/* take_reply: r, the reply res carries (its body taken), with the
 * fingerprint header target t reads when the exchange succeeded. */
static void take_reply(struct http_result *res, const struct target *t, struct reply *r)
{
	*r = (struct reply){
		.status = res->status,
		.raw = res->body,
		.raw_len = res->body_len,
		.latency_ms = res->latency_ms,
		.ttft_ms = -1,
	};
	res->body = NULL;
	if (res->ok && t->fingerprint == FINGERPRINT_HEADER && res->header_value)
		r->fingerprint = xstrdup(res->header_value);
}

/* The transport's callback: a reply (or a failure) for one sample. */
static void job_done(struct http_result *res, void *user)
{
	struct job *job = user;
	struct feeder *f = job->feeder;
	struct suite *s = f->run->suite;
	struct sample *out = job->sample;
	out->attempts += res->attempts;
	out->latency_ms = res->latency_ms;
	if (!job->cv || out->start_ms <= 0) /* a conversation starts at its first request */
		out->start_ms = (double)util_wall_ms() - res->latency_ms;
	f->outstanding--;
	if (job->cv) {
		struct reply reply;
		take_reply(res, &s->targets[out->side], &reply);
		conversation_step(f, job, res, &reply);
		feed(f);
		return;
	}
	if (!res->ok) {
		char *why = res->attempts > 1
				    ? xasprintf("%s after %d attempts", res->error, res->attempts)
				    : xstrdup(res->error ? res->error : "request failed");
		sample_error(s, out, why);
		free(why);
		out->done = !res->interrupted;
	} else {
		struct reply reply;
		char *why = NULL;
		take_reply(res, &s->targets[out->side], &reply);
		if (res->streamed && provider_stream_end(job->stream, &reply, &why) < 0) {
			sample_error(s, out, why);
			out->status = res->status;
			out->done = true;
			free(why);
		} else {
			keep_reply(f, job, res, &reply);
			if (sample_parse(s, out->side, &reply, res->attempts, out) == 0) {
				out->ttft_ms = reply.ttft_ms;
				struct grading_job gj = case_job(job->cr->c, out);
				gj.done = sample_graded;
				gj.user = job;
				grading_start(f->grading, &gj, &reply);
				feed(f);
				return;
			}
		}
		reply_release(&reply);
	}
	sample_finished(f, job->cr, out, job);
	job_free(job);
	feed(f);
}

/* The per-attempt timeout: --timeout, else the case's own, else the
 * target's, else the suite default (which cases inherit). */
static long job_timeout(const struct suite_case *c,
			const struct target *t, const struct run_options *o)
{
	if (o->timeout_ms > 0)
		return o->timeout_ms;
	if (t->timeout_ms > 0 && !c->timeout_set)
		return t->timeout_ms;
	return c->timeout_ms;
}

/* Build the HTTP request of case c (a conversation's view of it) for one
 * sample; -1 and *err when a template or the body cannot be rendered (the
 * sample then becomes an error). */
static int build_request(struct run *r, const struct suite_case *c, enum side side,
			 const char *session, const struct run_options *o,
			 struct http_request *req, char **err)
{
	struct suite *s = r->suite;
	const struct target *t = &s->targets[side];
	struct tmpl_ctx ctx;
	suite_case_ctx(s, c, &ctx);
	ctx.session = session;
	req->url = t->url_overridden ? xstrdup(t->url) : template_render(t->url, &ctx, err);
	if (!req->url)
		return -1;
	/* libcurl sends a password in the URL as a Basic credential, which a
	 * server may echo. */
	redact_add_url(&s->redact, req->url);
	req->body = t->provider->build(t, c, &ctx, err);
	if (!req->body)
		return -1;
	req->body_len = strlen(req->body);
	size_t nfixed = 0;
	while (t->provider->headers && t->provider->headers[nfixed])
		nfixed++;
	req->headers = xcalloc(nfixed + t->nheaders + 1, sizeof(*req->headers));
	for (size_t i = 0; i < nfixed; i++)
		req->headers[req->nheaders++] = xstrdup(t->provider->headers[i]);
	for (size_t i = 0; i < t->nheaders; i++) {
		char *value = template_render(t->headers[i].value, &ctx, err);
		if (!value)
			return -1;
		if (strpbrk(value, "\r\n")) {
			*err = xasprintf("header '%s' would hold a line break", t->headers[i].name);
			free(value);
			return -1;
		}
		redact_add(&s->redact, value);
		req->headers[req->nheaders++] = xasprintf("%s: %s", t->headers[i].name, value);
		free(value);
	}
	req->timeout_ms = job_timeout(c, t, o);
	req->connect_timeout_ms = s->defaults.connect_timeout_ms;
	req->capture_header =
		t->fingerprint == FINGERPRINT_HEADER ? t->fingerprint_where : NULL;
	req->pool = POOL_TARGET;
	return 0;
}

/* Queue the job's next request, or record why it could not be built. */
static void send_job(struct feeder *f, struct job *job)
{
	struct run *r = f->run;
	const struct run_options *o = f->opts;
	struct sample *smp = job->sample;
	struct http_request *req = xcalloc(1, sizeof(*req));
	char session[48];
	char *err = NULL;
	snprintf(session, sizeof(session), "%llx-%zu-%s-%d", (unsigned long long)r->started_wall_ms,
		 (size_t)(job->cr - r->cases), side_name(smp->side), smp->index);
	if (build_request(r, job->cv ? &job->cv->view : job->cr->c, smp->side, session, o, req,
			  &err) < 0) {
		http_request_free(req);
		if (job->cv) {
			conversation_failed(f, job, false, err ? err : "cannot build the request");
			free(err);
			return;
		}
		sample_error(r->suite, smp, err ? err : "cannot build the request");
		smp->done = true;
		free(err);
		sample_finished(f, job->cr, smp, job);
		job_free(job);
		return;
	}
	if (job->deadline_ms > 0) {
		double left = job->deadline_ms - util_now_ms();
		if (left < 1)
			left = 1;
		job->capped = left < (double)req->timeout_ms;
		if (job->capped)
			req->timeout_ms = (long)left;
	}
	if (f->saver.dir) {
		/* A conversation's last request is the one saved, with the reply
		 * to it: the reply before is in its history. */
		struct run_exchange *x = &job->x;
		run_exchange_release(x);
		x->request = xstrdup(req->body);
		x->headers = xcalloc(req->nheaders + 1, sizeof(*x->headers));
		for (size_t i = 0; i < req->nheaders; i++)
			x->headers[x->nheaders++] = xstrdup(req->headers[i]);
	}
	const struct target *t = &r->suite->targets[smp->side];
	provider_stream_free(job->stream);
	job->stream = NULL;
	if (suite_streams(t, job->cr->c)) {
		job->stream = provider_stream_new(t->provider, t->priv, &r->suite->redact);
		req->on_event = job_event;
	}
	req->done = job_done;
	req->user = job;
	f->outstanding++;
	transport_submit(f->tr, req);
}

/* Start one sample: its request, or its conversation's first. */
static void submit_sample(struct feeder *f, struct case_result *cr, struct sample *smp)
{
	const struct suite_case *c = cr->c;
	struct job *job = xcalloc(1, sizeof(*job));
	job->feeder = f;
	job->cr = cr;
	job->sample = smp;
	if (suite_case_converses(c)) {
		job->cv = xcalloc(1, sizeof(*job->cv));
		conversation_init(job->cv, c, &f->run->suite->targets[smp->side],
				  f->opts->transport.max_reply);
		if (c->conversation_timeout_ms > 0)
			job->deadline_ms = util_now_ms() + (double)c->conversation_timeout_ms;
	}
	send_job(f, job);
}

/* give_sample: prod's sample from the reply given for it (replay): graded
 * at once, no request sent. */
static void give_sample(struct feeder *f, struct case_result *cr, struct sample *smp)
{
	struct run *r = f->run;
	struct run_given *g = &f->opts->given[cr - r->cases];
	struct reply *reply = &g->reply;
	smp->status = reply->status;
	smp->latency_ms = reply->latency_ms;
	smp->attempts = 1;
	if (reply->fingerprint)
		smp->fingerprint = redact_apply(&r->suite->redact, reply->fingerprint);
	if (g->error) {
		sample_error(r->suite, smp, g->error);
		smp->done = true;
		sample_finished(f, cr, smp, NULL);
		return;
	}
	struct job *job = xcalloc(1, sizeof(*job));
	job->feeder = f;
	job->cr = cr;
	job->sample = smp;
	struct grading_job gj = case_job(cr->c, smp);
	gj.done = sample_graded;
	gj.user = job;
	grading_start(f->grading, &gj, reply);
}

/* next_confirmation: the next confirmation sample to send, or NULL; the
 * cases to confirm go first, so that they finish with the rest. */
static struct sample *next_confirmation(struct feeder *f, struct case_result **crp)
{
	while (f->qi < f->nconfirming) {
		struct case_result *cr = &f->run->cases[f->confirming[f->qi]];
		size_t n = (size_t)cr->repeat + f->qn;
		if (n >= cr->side[SIDE_EVAL].nsamples) {
			f->qi++;
			f->qn = 0;
			f->qside = 0;
			continue;
		}
		struct sample *smp = &cr->side[f->qside].samples[n];
		if (++f->qside == SIDE__COUNT) {
			f->qside = 0;
			f->qn++;
		}
		*crp = cr;
		return smp;
	}
	return NULL;
}

/* Build requests until the window is full or every sample is sent; a stop
 * sends nothing more (the unsent samples stay unmeasured). */
static void feed(struct feeder *f)
{
	if (f->feeding)
		return;
	f->feeding = true;
	struct run *r = f->run;
	while (f->outstanding < f->window && !(f->opts->stop && *f->opts->stop) &&
	       !r->budget_reached) {
		struct case_result *ccr = NULL;
		struct sample *extra = next_confirmation(f, &ccr);
		if (extra) {
			submit_sample(f, ccr, extra);
			continue;
		}
		if (f->ci >= r->ncases)
			break;
		struct case_result *cr = &r->cases[f->ci];
		if (!cr->selected || f->n >= (size_t)cr->repeat) {
			f->ci++;
			f->n = 0;
			f->side = 0;
			continue;
		}
		struct sample *smp = &cr->side[f->side].samples[f->n];
		if (++f->side == SIDE__COUNT) {
			f->side = 0;
			f->n++;
		}
		if (smp->side == SIDE_PROD && f->opts->given)
			give_sample(f, cr, smp);
		else
			submit_sample(f, cr, smp);
	}
	f->feeding = false;
}

uint64_t run_case_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, 64 bits */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}

struct ranked {
	uint64_t hash;
	const char *id;
	size_t index;
};

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Mark the cases of shard index/count: cases ordered by the hash of their
 * id are dealt round-robin, so every case lands in exactly one shard and
 * shard sizes differ by at most one. */
static void select_shard(struct run *r, int index, int count, bool *in_shard)
{
	struct ranked *rank = xcalloc(r->ncases ? r->ncases : 1, sizeof(*rank));
	for (size_t i = 0; i < r->ncases; i++)
		rank[i] = (struct ranked){run_case_hash(r->cases[i].c->id), r->cases[i].c->id, i};
	qsort(rank, r->ncases, sizeof(*rank), ranked_cmp);
	for (size_t k = 0; k < r->ncases; k++)
		in_shard[rank[k].index] = (int)(k % (size_t)count) == index;
	free(rank);
}

/* Apply --stratum, --case and --shard; -1 and *err when the filters match
 * no case of the suite (an empty shard of a tiny suite is not an error) or
 * when a variable that the selected cases need is unset. */
static int select_cases(struct run *r, const struct run_options *o, char **err)
{
	bool *in_shard = xcalloc(r->ncases ? r->ncases : 1, sizeof(*in_shard));
	bool *matched = xcalloc(r->ncases ? r->ncases : 1, sizeof(*matched));
	int rc = -1;
	if (o->shard_count > 0)
		select_shard(r, o->shard_index, o->shard_count, in_shard);
	r->shard_index = o->shard_index;
	r->shard_count = o->shard_count;
	if (suite_select(r->suite, &o->filter, matched, err) < 0)
		goto out;
	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		cr->selected = matched[i];
		if (o->shard_count > 0 && !in_shard[i]) {
			cr->selected = false;
			cr->other_shard = true;
		}
		if (cr->selected)
			r->nselected++;
		matched[i] = cr->selected;
	}
	rc = suite_check_env(r->suite, o->given ? 1u << SIDE_EVAL : SUITE_SIDES_ALL, matched, err);
out:
	free(in_shard);
	free(matched);
	return rc;
}

char *run_display_url(const struct target *t, const struct redact *rd)
{
	if (!t->url_overridden && template_uses_env(t->url))
		return xstrdup(t->url);
	char *text = transport_display_url(t->url);
	/* A template without env (e.g. ${vars.x}) or an unparsable URL shows as
	 * written, never with anything substituted. */
	char *shown = redact_apply(rd, text ? text : t->url);
	free(text);
	return shown;
}

struct run *run_execute(struct suite *s, const struct run_options *o, char **err)
{
	struct run *r = xcalloc(1, sizeof(*r));
	struct transport *tr = NULL;
	struct grading *grading = NULL;
	r->suite = s;
	r->alpha = o->alpha;
	r->strict = o->strict;
	r->budget_tokens = o->budget_tokens;
	r->budget_usd = o->budget_usd;
	r->fail_on_unevaluated = o->fail_on_unevaluated;
	for (int side = 0; side < SIDE__COUNT; side++)
		r->expected[side] = o->expected[side];
	r->confirm = o->confirm >= 0 ? o->confirm : s->defaults.confirm;
	r->min_valid = o->min_valid >= 0 ? o->min_valid : s->defaults.min_valid;
	r->started_wall_ms = util_wall_ms();
	double t0 = util_now_ms();
	r->ncases = s->ncases;
	r->cases = xcalloc(s->ncases ? s->ncases : 1, sizeof(*r->cases));
	size_t k = 0;
	for (size_t i = 0; i < s->nstrata; i++) {
		for (size_t j = 0; j < s->strata[i].ncases; j++)
			r->cases[k++].c = &s->strata[i].cases[j];
	}
	for (int side = 0; side < SIDE__COUNT; side++)
		r->url_display[side] = run_display_url(&s->targets[side], &s->redact);
	if (select_cases(r, o, err) < 0)
		goto fail;
	tr = transport_new(&o->transport, err);
	if (!tr)
		goto fail;
	struct grading_options go = {
		.graders = s->graders,
		.ngraders = s->ngraders,
		.judge_lazy = o->judge_lazy,
		.judge_cache = o->judge_cache,
		.no_judge_cache = o->no_judge_cache,
		.stop = o->stop,
		.grace_ms = o->transport.grace_ms,
	};
	if (!(grading = grading_new(tr, &s->redact, &go, err)))
		goto fail;
	if (grading_warning(grading))
		r->warning = xstrdup(grading_warning(grading));
	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		if (!cr->selected)
			continue;
		int repeat = o->repeat > 0 ? o->repeat : cr->c->repeat;
		cr->repeat = repeat;
		for (int side = 0; side < SIDE__COUNT; side++) {
			/* Room for the confirmation samples, used only when asked
			 * for (samples in flight must never move). */
			cr->side[side].samples = xcalloc((size_t)(repeat + r->confirm),
							 sizeof(struct sample));
			cr->side[side].nsamples = (size_t)repeat;
			for (int n = 0; n < repeat + r->confirm; n++) {
				cr->side[side].samples[n].side = (enum side)side;
				cr->side[side].samples[n].index = n;
				cr->side[side].samples[n].usage = (struct usage){-1, -1, -1, -1, -1};
				cr->side[side].samples[n].ttft_ms = -1;
			}
		}
	}
	struct feeder feeder = {
		.run = r,
		.tr = tr,
		.grading = grading,
		.opts = o,
		.window = 2 * (size_t)(o->transport.concurrency[POOL_TARGET] > 0
					       ? o->transport.concurrency[POOL_TARGET]
					       : 16) + 8,
		.unfinished = xcalloc(r->ncases ? r->ncases : 1, sizeof(size_t)),
		.confirming = xcalloc(r->ncases ? r->ncases : 1, sizeof(size_t)),
		.unscreened = xcalloc(s->nstrata ? s->nstrata : 1, sizeof(size_t)),
	};
	for (size_t i = 0; i < r->ncases; i++) {
		feeder.unfinished[i] = SIDE__COUNT * (size_t)r->cases[i].repeat;
		if (r->cases[i].selected)
			feeder.unscreened[r->cases[i].c->stratum] += feeder.unfinished[i];
	}
	if (o->save_replies &&
	    run_saver_open(&feeder.saver, o->save_replies, o->save_format, err) < 0) {
		free(feeder.unfinished);
		free(feeder.unscreened);
		free(feeder.confirming);
		goto fail;
	}
	/* Slow graders grade after the transfers: the confirmations they ask
	 * for go out in another pass (at most two more: a case's own, then its
	 * stratum's). */
	int rc = 0;
	do {
		feed(&feeder);
		rc = transport_run(tr, o->stop, err);
		if (rc == 0)
			grading_drain(grading);
	} while (rc == 0 && (feeder.outstanding > 0 ||
			     (feeder.qi < feeder.nconfirming && !(o->stop && *o->stop) &&
			      !r->budget_reached)));
	free(feeder.unfinished);
	free(feeder.unscreened);
	free(feeder.confirming);
	run_saver_close(&feeder.saver);
	r->save_error = feeder.saver.error;
	if (rc < 0)
		goto fail;
	transport_get_stats(tr, &r->stats);
	transport_free(tr);
	r->rt.judge_calls = grading_runtime(grading)->judge_calls;
	r->rt.judge_cache_hits = grading_runtime(grading)->judge_cache_hits;
	grading_free(grading);
	r->interrupted = o->stop && *o->stop;
	r->duration_ms = (long)(util_now_ms() - t0 + 0.5);
	return r;
fail:
	transport_free(tr);
	grading_free(grading);
	run_free(r);
	return NULL;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ncases; i++) {
		for (int side = 0; side < SIDE__COUNT; side++) {
			struct side_result *sr = &r->cases[i].side[side];
			for (size_t k = 0; k < sr->nsamples; k++)
				sample_release(&sr->samples[k]);
			free(sr->samples);
		}
	}
	for (int side = 0; side < SIDE__COUNT; side++)
		free(r->url_display[side]);
	free(r->warning);
	free(r->save_error);
	free(r->cases);
	free(r);
}
