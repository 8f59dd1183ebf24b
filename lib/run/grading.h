/* run/grading.h: grading replies with their graders, for `canary run`,
 * `canary grade` and `canary calibrate` alike, and the runtime the graders
 * share (the judge's verdict cache, its counters, the stop).
 *
 * Grading one reply runs its quick synchronous graders at once and submits
 * the asynchronous ones (the judge) as requests to the transport's judge
 * pool, so judging never serialises a run; with judge_lazy they are skipped
 * once a synchronous grader failed the sample.  Slow graders (exec) wait in
 * a queue until the caller has run the transport and calls grading_drain(),
 * so that a program that takes seconds never stalls the multi loop (where
 * it would time out requests whose replies are already waiting).
 *
 * A stop (the flag a signal handler sets) reaches every grader: an exec
 * program gets SIGTERM, then SIGKILL after grace_ms (at once when the flag
 * is 2 or more); judge requests end with the transport's grace; queued slow
 * graders do not start.  A grader the stop cut short leaves its sample
 * unmeasured (sample->done false), unless another grader failed it.
 *
 * Ownership: a struct grading borrows its transport and redact set, which
 * must outlive it, and owns the grader runtime.  grading_start() takes the
 * reply; a job's graders, strings and sample are borrowed until its done()
 * has run.  Call grading_free() once the transport has finished.
 */
#ifndef CANARY_GRADING_H
#define CANARY_GRADING_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "grader.h"

struct redact;
struct reply;
struct sample;
struct transport;

struct grading_options {
	/* Every grader it may be asked to run: the verdict cache opens only
	 * when one of them calls out (the judge). */
	struct grader *const *graders;
	size_t ngraders;
	bool judge_lazy;        /* skip the judge once other graders failed the sample */
	const char *judge_cache;/* the verdict cache's path; NULL: the default */
	bool no_judge_cache;    /* judge afresh and keep nothing */
	volatile sig_atomic_t *stop; /* NULL: never stopped */
	long grace_ms;          /* how long a stopped program may take to end */
};

/* One reply to grade: graders in order, and what they are told of it. */
struct grading_job {
	struct grader *const *graders;
	size_t ngraders;
	const char *case_id;
	const char *target;     /* "eval" or "prod" */
	const char *input;      /* the case's last user message, or a conversation's transcript */
	int steps;              /* requests behind the reply (0: one) */
	/* sample: receives every grader's grade (sample->grades), the reasons of
	 * those that did not pass ("label: why", redacted), its grade, which
	 * only gets worse (a failure over an error over a pass), and done. */
	struct sample *sample;
	/* done: once the sample has its grade, perhaps before grading_start()
	 * returns; NULL: nothing to do. */
	void (*done)(struct sample *s, void *user);
	void *user;
};

/* grading_new: grading on tr, reasons masked with rd; NULL and *err when the
 * verdict cache asked for (o->judge_cache) cannot be opened.  The default
 * cache that cannot be opened is only a warning (grading_warning()). */
struct grading *grading_new(struct transport *tr, const struct redact *rd,
			    const struct grading_options *o, char **err);

/* grading_warning: something grading does without ("judge cache off: ..."),
 * or NULL. */
const char *grading_warning(const struct grading *g);

/* grading_runtime: the judge calls made and verdicts taken from the cache. */
const struct grader_runtime *grading_runtime(const struct grading *g);

/* grading_start: grade a parsed reply as job says; takes the reply (*reply
 * is left empty). */
void grading_start(struct grading *g, const struct grading_job *job, struct reply *reply);

/* grading_drain: run the queued slow graders, once the transport is idle;
 * after a stop the rest stay unmeasured. */
void grading_drain(struct grading *g);

void grading_free(struct grading *g);

#endif
