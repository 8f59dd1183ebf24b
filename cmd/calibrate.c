/* calibrate.c: `canary calibrate SUITE LABELS.yaml`: run a suite's judge
 * graders over human-labelled replies and print, per rubric, how often the
 * judge agrees with the humans (accuracy, Cohen's kappa, confusion matrix). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "judge/prompt.h"
#include "provider.h"
#include "redact.h"
#include "run/calibration.h"
#include "run/grading.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"

#define LABELS_MAX_BYTES ((size_t)64 << 20)

static const char calibrate_help[] =
	"usage: canary calibrate SUITE LABELS.yaml [options]\n"
	"\n"
	"Run SUITE's judge graders over human-labelled replies and print, per rubric,\n"
	"the judge's agreement with the humans: accuracy, Cohen's kappa and the\n"
	"confusion matrix.  LABELS.yaml is a list of\n"
	"  - {case: ID, reply: TEXT, human: pass}      # or reply_file: PATH\n"
	"    tool_calls: [{name: NAME, arguments: {...}}]   # optional\n"
	"\n"
	"  --min-kappa K         the lowest acceptable kappa (default 0.6)\n"
	"  --judge-url URL       override the judge's URL\n"
	"  --judge-concurrency N judge requests in flight (default 8)\n"
	"  --judge-cache PATH    the judge's verdict cache (default\n"
	"                        $XDG_CACHE_HOME/canary/judge.sqlite)\n"
	"  --no-judge-cache      judge every reply afresh (use it to catch a drifting\n"
	"                        judge behind an unchanged model name)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 every rubric's kappa >= K, 1 some rubric's kappa is lower (or\n"
	"undefined), 2 usage, suite or labels error.\n";

enum {
	OPT_MIN_KAPPA = 256,
	OPT_JUDGE_URL,
	OPT_JUDGE_CONCURRENCY,
	OPT_JUDGE_CACHE,
	OPT_NO_JUDGE_CACHE,
};

static const struct cmd_option calibrate_options[] = {
	{"min-kappa", 0, true, OPT_MIN_KAPPA, CMD_VALUE_NONE, NULL},
	{"judge-url", 0, true, OPT_JUDGE_URL, CMD_VALUE_NONE, NULL},
	{"judge-concurrency", 0, true, OPT_JUDGE_CONCURRENCY, CMD_VALUE_NONE, NULL},
	{"judge-cache", 0, true, OPT_JUDGE_CACHE, CMD_VALUE_FILE, NULL},
	{"no-judge-cache", 0, false, OPT_NO_JUDGE_CACHE, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* print_notes: group gi's disagreements and errors, one per line. */
static void print_notes(const struct calibration *cal, size_t gi)
{
	for (size_t i = 0; i < cal->njudgements; i++) {
		const struct calibration_judgement *j = &cal->judgements[i];
		const struct calibration_label *l = j->label;
		const char *why = j->reason ? j->reason : "";
		bool judge_pass = j->grade == GRADE_PASS;
		if (j->group != gi)
			continue;
		if (j->grade == GRADE_ERROR)
			printf("  error: %s (%s:%d): %s\n", l->c->id, cal->path, l->line, why);
		else if (judge_pass != l->human_pass)
			printf("  disagree: %s (%s:%d): judge %s, human %s%s%s\n", l->c->id,
			       cal->path, l->line, grade_name(j->grade),
			       grade_name(l->human_pass ? GRADE_PASS : GRADE_FAIL),
			       why[0] ? ": " : "", why);
	}
}

/* print_group: group gi's figures; whether its kappa reaches min. */
static bool print_group(const struct calibration *cal, size_t gi, double min_kappa)
{
	const struct calibration_group *gr = &cal->groups[gi];
	const long(*m)[2] = gr->c.n;
	long judged = m[0][0] + m[0][1] + m[1][0] + m[1][1];
	double kappa = judge_kappa(&gr->c);
	double acc = judge_accuracy(&gr->c);
	bool ok = !isnan(kappa) && kappa >= min_kappa;
	printf("rubric %s (threshold %.2f)\n", gr->title, gr->threshold);
	printf("  labels %ld, judged %ld, errors %ld\n", judged + gr->errors, judged, gr->errors);
	if (isnan(acc))
		printf("  accuracy n/a");
	else
		printf("  accuracy %.3f", acc);
	if (isnan(kappa) && judged == 0)
		printf("  kappa n/a (min %.2f): below: no verdict to compare\n", min_kappa);
	else if (isnan(kappa))
		printf("  kappa n/a (min %.2f): below: the judge and the humans gave one verdict "
		       "only; label passing and failing replies\n", min_kappa);
	else
		printf("  kappa %.3f (min %.2f): %s\n", kappa, min_kappa, ok ? "ok" : "below");
	printf("               human pass  human fail\n");
	printf("  judge pass   %10ld  %10ld\n", m[0][0], m[0][1]);
	printf("  judge fail   %10ld  %10ld\n", m[1][0], m[1][1]);
	print_notes(cal, gi);
	return ok;
}

static int parse_kappa(const char *arg, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= -1 && v <= 1)) {
		cmd_error("--min-kappa takes a number from -1 to 1, not '%s'", arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* Only the judge and the labelled cases need their environment variables. */
static int check_env(const struct calibration *cal)
{
	bool *selected = xcalloc(cal->suite->ncases, sizeof(*selected));
	for (size_t i = 0; i < cal->nlabels; i++)
		selected[suite_case_index(cal->suite, cal->labels[i].c)] = true;
	int rc = cmd_check_env(cal->suite, 0, selected);
	free(selected);
	return rc;
}

/* print_calibration: the judge, then every rubric; the exit code. */
static int print_calibration(const struct calibration *cal, double min_kappa)
{
	const struct judge_config *j = &cal->suite->judge;
	char *model = redact_apply(&cal->suite->redact, j->model ? j->model : "(none)");
	printf("judge: model %s, api %s, template %s sha256:%.12s\n", model,
	       j->provider->name, JUDGE_PROMPT_VERSION, judge_prompt_hash());
	free(model);
	printf("labels: %zu, judge calls %ld, cache hits %ld\n\n", cal->nlabels,
	       cal->judge_calls, cal->judge_cache_hits);
	size_t below = 0;
	for (size_t i = 0; i < cal->ngroups; i++) {
		if (i)
			putchar('\n');
		below += !print_group(cal, i, min_kappa);
	}
	putchar('\n');
	if (below) {
		printf("calibrate: %zu of %zu rubrics below kappa %.2f\n", below, cal->ngroups,
		       min_kappa);
		return EXIT_FAIL;
	}
	printf("calibrate: %zu %s at or above kappa %.2f\n", cal->ngroups,
	       cal->ngroups == 1 ? "rubric" : "rubrics", min_kappa);
	return EXIT_PASS;
}

static int cmd_calibrate(int argc, char **argv)
{
	struct suite_options so = {.lazy_env = true};
	struct transport_options to;
	struct grading_options go = {0};
	struct suite *s = NULL;
	struct calibration *cal = NULL;
	double min_kappa = 0.6;
	char *data = NULL, *err = NULL, *warning = NULL;
	size_t len;
	struct cmd_parser p;
	int opt, rc = EXIT_USAGE;
	long n;

	transport_options_default(&to);
	cmd_parser_init(&p, &cmd_calibrate_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_MIN_KAPPA:
			if (parse_kappa(p.arg, &min_kappa) < 0)
				return EXIT_USAGE;
			break;
		case OPT_JUDGE_URL:
			so.judge_url = p.arg;
			break;
		case OPT_JUDGE_CONCURRENCY:
			if (cmd_parser_count(&p, 1, 1024, &n) < 0)
				return EXIT_USAGE;
			to.concurrency[POOL_JUDGE] = (int)n;
			break;
		case OPT_JUDGE_CACHE:
			go.judge_cache = p.arg;
			break;
		case OPT_NO_JUDGE_CACHE:
			go.no_judge_cache = true;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 2, 2) < 0)
		return p.exit;
	if (!(s = suite_load(argv[1], &so, &err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (!s->judge.present) {
		cmd_error("%s: the suite has no judge: section", argv[1]);
		goto out;
	}
	if (!(data = util_read_file(argv[2], LABELS_MAX_BYTES, &len, &err))) {
		cmd_error("%s", err);
		goto out;
	}
	if (!(cal = calibration_load(s, argv[2], data, len, &err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (check_env(cal) < 0)
		goto out;
	if (calibration_judge(cal, &to, &go, &warning, &err) < 0) {
		cmd_error("%s", err);
		goto out;
	}
	if (warning)
		cmd_error("warning: %s", warning);
	rc = print_calibration(cal, min_kappa);
out:
	calibration_free(cal);
	suite_free(s);
	free(data);
	free(warning);
	free(err);
	return rc;
}

const struct cmd_entry cmd_calibrate_entry = {
	.name = "calibrate",
	.summary = "measure the judge against human labels",
	.help = calibrate_help,
	.operands = "a SUITE and a LABELS.yaml",
	.operand_kind = CMD_VALUE_YAML,
	.options = calibrate_options,
	.exec = cmd_calibrate,
};
