/* run/grading.c: grade replies: synchronous graders at once, asynchronous
 * ones on the transport's judge pool, slow ones once the transport is idle. */
#include "run/grading.h"

#include <stdlib.h>
#include <string.h>

#include "judge/cache.h"
#include "provider.h"
#include "redact.h"
#include "run/run.h"
#include "transport/transport.h"
#include "util.h"

/* A reply being graded: its synchronous graders have run, slow and
 * asynchronous ones may still be out. */
struct graded {
	struct grading *grading;
	struct grading_job job;
	struct reply reply;     /* owned until the last grader is done */
	int pending;            /* graders still out, and 1 while starting */
	bool failed;
	bool errored;
	bool interrupted;       /* a grader was cut off by the stop */
	struct graded *next;    /* in the queue of slow graders */
};

/* One asynchronous grader's request in flight. */
struct graded_call {
	struct graded *gd;
	const struct grader *grader;
	void *call;
};

struct grading {
	struct transport *tr;
	const struct redact *redact;
	bool judge_lazy;
	struct grader_runtime rt;
	char *warning;
	struct graded *head, *tail; /* waiting for their slow graders */
};

struct grading *grading_new(struct transport *tr, const struct redact *rd,
			    const struct grading_options *o, char **err)
{
	struct grading *g = xcalloc(1, sizeof(*g));
	g->tr = tr;
	g->redact = rd;
	g->judge_lazy = o->judge_lazy;
	g->rt.stop = o->stop;
	g->rt.grace_ms = o->grace_ms;
	bool calls_out = false;
	for (size_t i = 0; i < o->ngraders; i++)
		calls_out = calls_out || o->graders[i]->ops->start;
	if (!calls_out || o->no_judge_cache)
		return g;
	*err = NULL;
	g->rt.judge_cache = judge_cache_choose(o->judge_cache, &g->warning, err);
	if (!g->rt.judge_cache && *err) {
		grading_free(g);
		return NULL;
	}
	return g;
}

const char *grading_warning(const struct grading *g)
{
	return g->warning;
}

const struct grader_runtime *grading_runtime(const struct grading *g)
{
	return &g->rt;
}

/* Record one grader's result on the sample being graded. */
static void record(struct graded *gd, const struct grader *g, struct grade_result *res)
{
	struct sample *out = gd->job.sample;
	const struct redact *rd = gd->grading->redact;
	out->grades = xreallocarray(out->grades, out->ngrades + 1, sizeof(*out->grades));
	out->grades[out->ngrades++] = (struct sample_grade){
		.grader = g,
		.grade = res->grade,
		.score = res->score,
		.reason = res->reason ? redact_apply(rd, res->reason) : NULL,
	};
	if (res->grade != GRADE_PASS) {
		char *why = xasprintf("%s: %s", g->label, res->reason ? res->reason : "failed");
		sample_add_reason(out, rd, why);
		free(why);
		if (res->grade == GRADE_FAIL)
			gd->failed = true;
		else
			gd->errored = true;
	}
	grade_result_release(res);
}

/* Record a result of a grader that ran here; an error while the run stops
 * is the stop's doing (a validation or a program cut short), not a
 * measurement, and leaves the sample unmeasured. */
static void record_ran(struct graded *gd, const struct grader *g, struct grade_result *res)
{
	volatile sig_atomic_t *stop = gd->grading->rt.stop;
	if (res->grade == GRADE_ERROR && stop && *stop) {
		gd->interrupted = true;
		grade_result_release(res);
		return;
	}
	record(gd, g, res);
}

/* Give the sample its grade and hand it on, once no grader is out.  A
 * definite failure is a measurement; an undecided grader alone is not. */
static void settle(struct graded *gd)
{
	if (--gd->pending > 0)
		return;
	struct sample *out = gd->job.sample;
	if (gd->failed)
		out->grade = GRADE_FAIL;
	else if (gd->errored && out->grade == GRADE_PASS)
		out->grade = GRADE_ERROR;
	/* A sample a stop cut short is not measured, unless it failed. */
	out->done = !gd->interrupted || out->grade == GRADE_FAIL;
	if (gd->job.done)
		gd->job.done(out, gd->job.user);
	reply_release(&gd->reply);
	free(gd);
}

/* input: what every grader is told of gd's sample. */
static struct grade_input input(struct graded *gd)
{
	return (struct grade_input){
		.reply = &gd->reply,
		.case_id = gd->job.case_id,
		.target = gd->job.target,
		.input = gd->job.input,
		.steps = gd->job.steps,
		.rt = &gd->grading->rt,
	};
}

/* The transport's callback for an asynchronous grader's request. */
static void call_done(struct http_result *res, void *user)
{
	struct graded_call *gc = user;
	struct graded *gd = gc->gd;
	struct grade_result out = {.grade = GRADE_ERROR};
	gc->grader->ops->finish(gc->grader->priv, gc->call, res, &gd->grading->rt, &out);
	grade_result_tidy(&out, gd->grading->redact);
	if (res->interrupted) {
		gd->interrupted = true;
		grade_result_release(&out);
	} else {
		record(gd, gc->grader, &out);
	}
	free(gc);
	settle(gd);
}

/* Start an asynchronous grader: a decision at once (a cache hit, an
 * error), or its request on the judge pool. */
static void start_call(struct graded *gd, const struct grader *g)
{
	struct grade_input in = input(gd);
	struct http_request *req = NULL;
	void *call = NULL;
	struct grade_result res = {.grade = GRADE_ERROR};
	in.subject = gd->reply.content ? gd->reply.content : "";
	in.subject_len = gd->reply.content ? gd->reply.content_len : 0;
	if (g->ops->start(g->priv, &in, &req, &call, &res) == 0 || !req) {
		grade_result_tidy(&res, gd->grading->redact);
		record(gd, g, &res);
		return;
	}
	struct graded_call *gc = xcalloc(1, sizeof(*gc));
	gc->gd = gd;
	gc->grader = g;
	gc->call = call;
	req->pool = POOL_JUDGE;
	req->done = call_done;
	req->user = gc;
	gd->pending++;
	transport_submit(gd->grading->tr, req);
}

void grading_start(struct grading *g, const struct grading_job *job, struct reply *reply)
{
	struct graded *gd = xcalloc(1, sizeof(*gd));
	gd->grading = g;
	gd->job = *job;
	gd->reply = *reply;
	memset(reply, 0, sizeof(*reply));
	if (!gd->reply.redact)
		gd->reply.redact = g->redact;
	gd->pending = 1;
	struct grade_input in = input(gd);
	bool slow = false;
	for (size_t i = 0; i < job->ngraders; i++) {
		const struct grader *gr = job->graders[i];
		if (gr->ops->start)
			continue;
		if (gr->ops->slow) {
			slow = true;
			continue;
		}
		struct grade_result res = {.grade = GRADE_PASS};
		grader_run(gr, &in, &res);
		record_ran(gd, gr, &res);
	}
	if (slow) {
		gd->pending++;
		if (g->tail)
			g->tail->next = gd;
		else
			g->head = gd;
		g->tail = gd;
	}
	for (size_t i = 0; i < job->ngraders; i++) {
		const struct grader *gr = job->graders[i];
		if (gr->ops->start && !(g->judge_lazy && gd->failed))
			start_call(gd, gr);
	}
	settle(gd);
}

void grading_drain(struct grading *g)
{
	volatile sig_atomic_t *stop = g->rt.stop;
	struct graded *gd;
	while ((gd = g->head)) {
		g->head = gd->next;
		if (!g->head)
			g->tail = NULL;
		struct grade_input in = input(gd);
		for (size_t i = 0; i < gd->job.ngraders; i++) {
			const struct grader *gr = gd->job.graders[i];
			if (!gr->ops->slow || gr->ops->start)
				continue;
			if (stop && *stop) {
				gd->interrupted = true;
				break;
			}
			struct grade_result res = {.grade = GRADE_PASS};
			grader_run(gr, &in, &res);
			record_ran(gd, gr, &res);
		}
		settle(gd);
	}
}

void grading_free(struct grading *g)
{
	if (!g)
		return;
	struct graded *gd;
	while ((gd = g->head)) {
		g->head = gd->next;
		reply_release(&gd->reply);
		free(gd);
	}
	judge_cache_close(g->rt.judge_cache);
	free(g->warning);
	free(g);
}
