/* run/calibration.h: measuring a suite's judge against human labels, the
 * work of `canary calibrate`.
 *
 * A labels file is a YAML list of {case, reply or reply_file, tool_calls,
 * human: pass|fail}.  Every label is judged by each judge grader of its
 * case (nothing else grades it), on one transport through the grading
 * module, so the judge requests run side by side and the verdict cache
 * works as in a run.  Judgements are counted per rubric (a named grader, a
 * built-in, or a rubric text) into a confusion matrix.
 *
 * Ownership: a struct calibration borrows its suite, which must outlive
 * it, and owns its labels, groups and judgements until calibration_free().
 */
#ifndef CANARY_CALIBRATION_H
#define CANARY_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "grader.h"
#include "judge/prompt.h"
#include "provider.h"

struct grading_options;
struct suite;
struct suite_case;
struct transport_options;

/* One labelled reply. */
struct calibration_label {
	const struct suite_case *c;
	struct reply reply;     /* handed to the grading by calibration_judge() */
	bool human_pass;
	int line;               /* in the labels file */
};

/* A rubric's agreement figures. */
struct calibration_group {
	char *title;            /* a named grader's name, "builtin NAME", or the
				 * start of the rubric, quoted */
	const char *rubric;     /* the full text (the grader's) */
	double threshold;
	struct judge_confusion c;
	long errors;            /* judgements that could not decide */
};

/* One label judged by one judge grader of its case. */
struct calibration_judgement {
	const struct calibration_label *label;
	struct grader *grader;  /* the suite's */
	size_t group;           /* index into groups */
	enum grade grade;
	char *reason;           /* one line, secrets masked; NULL when none */
};

struct calibration {
	struct suite *suite;
	const char *path;       /* the labels file, as named in messages */
	struct calibration_label *labels;
	size_t nlabels;
	struct calibration_group *groups;
	size_t ngroups;
	struct calibration_judgement *judgements; /* labels in order, each
						   * label's graders in order */
	size_t njudgements;
	long judge_calls;       /* requests sent to the judge */
	long judge_cache_hits;  /* verdicts taken from the cache */
};

/* calibration_load: the labels in data (len bytes of the file path, whose
 * folder reply_file paths resolve from) for suite s; NULL and *err
 * ("file:line:col: what") when a label is malformed, names no case of s,
 * or names a case without a judge grader. */
struct calibration *calibration_load(struct suite *s, const char *path, const char *data,
				     size_t len, char **err);

/* calibration_judge: judge every label on a transport with to's options
 * and count the judgements into their groups; go sets the verdict cache
 * (its graders are the suite's).  -1 and *err when the transport or the
 * cache asked for cannot start; *warning (the caller's) says what the
 * judging does without, or stays NULL. */
int calibration_judge(struct calibration *cal, const struct transport_options *to,
		      const struct grading_options *go, char **warning, char **err);

void calibration_free(struct calibration *cal);

#endif
