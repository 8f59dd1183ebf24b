/* judge/prompt.h: what the LLM judge is asked and how its answer is read.
 *
 * The prompt is a versioned template (JUDGE_PROMPT_VERSION): a system
 * message saying how to grade and how to answer, and a user message carrying
 * the rubric, the case input, the reply's text and its tool calls between
 * tags.  judge_prompt_hash() is the SHA-256 of every fixed text the judge
 * sees (template and built-in rubrics), so reports show when it changes.
 * A rubric is either the suite's own text, answered {"pass", "score" 0..1,
 * "reason"}, or one of four built-in rubrics, answered {"score" 1..5,
 * "reason"} and mapped to 0..1 as (score - 1) / 4.
 *
 * Ownership: every char * returned here is the caller's (free()); the
 * built-in table, the system texts and the hash are static.  A verdict owns
 * its reason until judge_verdict_release().
 */
#ifndef CANARY_JUDGE_PROMPT_H
#define CANARY_JUDGE_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

struct grader;
struct tool_call;

#define JUDGE_PROMPT_VERSION "judge-v2"
#define JUDGE_HASH_HEX 64
/* JUDGE_PART_MAX: bytes of input, reply text or tool calls put in the
 * prompt; longer parts are cut (at a UTF-8 boundary) with a marker. */
#define JUDGE_PART_MAX (256 * 1024)
/* JUDGE_REASON_MAX: bytes of the judge's reason kept in a verdict. */
#define JUDGE_REASON_MAX 1000

/* A built-in rubric: its full text, scored 1..5, and its default threshold
 * on the 0..1 scale. */
struct judge_builtin {
	const char *name;
	double threshold;
	const char *rubric;
};

/* judge_builtins: the built-in rubrics, ending with a NULL name. */
extern const struct judge_builtin judge_builtins[];

const struct judge_builtin *judge_builtin_find(const char *name);

/* judge_prompt_hash: the SHA-256 (hex) of the template and built-in texts. */
const char *judge_prompt_hash(void);

/* judge_prompt_system: the system message, for a rubric answered with
 * pass/score 0..1 (scale false) or a built-in's 1..5 scale (scale true). */
const char *judge_prompt_system(bool scale);

/* judge_prompt_template: the user message template, with the placeholders
 * {{rubric}}, {{input}}, {{reply}} and {{tool_calls}}. */
const char *judge_prompt_template(void);

/* What one judgement is about; the strings are borrowed. */
struct judge_prompt {
	const char *rubric;
	const char *input;          /* NULL: none */
	const char *content;        /* the reply's text; NULL: none */
	const struct tool_call *tool_calls;
	size_t ntool_calls;
	/* The tool calls as judge_prompt_tool_calls() shows them (for a
	 * masked copy); NULL: built from tool_calls. */
	const char *tool_calls_text;
};

/* judge_prompt_user: the user message for p (the template filled in). */
char *judge_prompt_user(const struct judge_prompt *p);

/* judge_prompt_tool_calls: the tool calls as the prompt shows them, one
 * "name ARGUMENTS-JSON" per line, or "(none)". */
char *judge_prompt_tool_calls(const struct tool_call *calls, size_t n);

struct redact;

struct judge_verdict {
	bool pass;
	double score;   /* 0..1 */
	char *reason;   /* the judge's reason ("" when it gave none) */
};

/* judge_verdict_parse: read the judge's answer text.  The verdict is, in
 * order of preference: the whole text when it is one JSON object; else the
 * last ``` fenced block that is one JSON object holding "pass" or "score";
 * else the last top-level JSON object of the text holding either.
 * scale: a built-in's "score" 1..5, mapped to 0..1, and "pass" ignored;
 * otherwise "pass" decides and, when missing, score >= threshold does.
 * -1 and *err (a reason for an error sample) when there is no verdict, the
 * score is missing or out of range, or "pass" is not a boolean.  A text
 * without any verdict object that reads as a refusal (judge_text_refusal)
 * says so; a verdict object is never overridden by its reason's wording.
 * The reason and what *err quotes of text have rd's secrets masked before
 * they are cut (rd may be NULL). */
int judge_verdict_parse(const char *text, size_t len, bool scale, double threshold,
			const struct redact *rd, struct judge_verdict *v, char **err);
void judge_verdict_release(struct judge_verdict *v);

/* judge_text_refusal: whether a judge's text (a reason, or prose) starts
 * by saying it cannot or will not evaluate. */
bool judge_text_refusal(const char *text);

/* Calibration: how a judge agrees with human labels. */
struct judge_confusion {
	long n[2][2];   /* n[judge][human]; index 0 = pass, 1 = fail */
};

/* judge_kappa: Cohen's kappa of c; NaN when undefined (no samples, or both
 * raters gave one class only). */
double judge_kappa(const struct judge_confusion *c);
/* judge_accuracy: the share of agreements; NaN when c is empty. */
double judge_accuracy(const struct judge_confusion *c);

/* graders/judge.c: what calibration shows of a compiled judge grader. */
struct judge_grader_info {
	const char *rubric;     /* the full rubric text */
	const char *builtin;    /* the built-in's name, or NULL */
	double threshold;
};

/* judge_grader_info: fill out for a judge grader; false for any other. */
bool judge_grader_info(const struct grader *g, struct judge_grader_info *out);

struct grade_input;

/* judge_grader_key: the verdict cache key judge grader g gives the sample
 * in: the judge URL as rendered for the request, the judge settings, and
 * the sample's input, text and tool calls with the suite's secrets masked,
 * as the judge sees them.  -1 and *err when g is not a judge grader or its
 * URL cannot be rendered. */
int judge_grader_key(const struct grader *g, const struct grade_input *in,
		     char out[JUDGE_HASH_HEX + 1], char **err);

#endif
