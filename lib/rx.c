/* rx.c: PCRE2 regular expressions with bounded matching. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rx.h"

#include <stdint.h>
#include <stdlib.h>

#include <pcre2.h>

#include "util.h"

/* Resource bounds for one match: enough for any sane pattern on a large
 * reply, small enough that catastrophic backtracking ends in well under a
 * second. */
#define RX_MATCH_LIMIT 5000000u
#define RX_DEPTH_LIMIT 1000000u
#define RX_HEAP_LIMIT_KIB (64u * 1024u)
#define RX_JIT_STACK_MIN (32u * 1024u)
#define RX_JIT_STACK_MAX (1024u * 1024u)
/* The longest pattern quoted whole in a compile error. */
#define RX_QUOTE_MAX 80

struct rx {
	pcre2_general_context *gctx;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;  /* NULL when the pattern is interpreted */
	bool jit_tried;              /* JIT compiling was tried (on the first match) */
	char *pattern;
};

/* PCRE2 allocates through xmalloc, so out-of-memory aborts in one place. */
static void *rx_alloc(PCRE2_SIZE n, void *data)
{
	return xmalloc(n ? n : 1);
}

static void rx_dealloc(void *p, void *data)
{
	free(p);
}

static char *error_message(int code)
{
	PCRE2_UCHAR msg[256];
	if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
		return xasprintf("pcre2 error %d", code);
	return xstrdup((const char *)msg);
}

/* compile_error: "bad regex 'PATTERN' at offset N: why", the pattern cut to
 * one line of reasonable length. */
static char *compile_error(const char *pattern, int code, size_t offset)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "bad regex '");
	size_t i;
	for (i = 0; pattern[i] && (i < RX_QUOTE_MAX || ((unsigned char)pattern[i] & 0xc0) == 0x80);
	     i++) {
		unsigned char c = (unsigned char)pattern[i];
		buf_addch(&b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	if (pattern[i])
		buf_addstr(&b, "...");
	char *msg = error_message(code);
	buf_addf(&b, "' at offset %zu: %s", offset, msg);
	free(msg);
	return buf_detach(&b, NULL);
}

struct rx *rx_compile(const char *pattern, unsigned flags, char **err)
{
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	if (flags & RX_LITERAL)
		opts |= PCRE2_LITERAL;  /* PCRE2_UCP is not allowed with it */
	else
		opts |= PCRE2_UCP;
	if (flags & RX_CASELESS)
		opts |= PCRE2_CASELESS;
	if (flags & RX_MULTILINE)
		opts |= PCRE2_MULTILINE;
	if (flags & RX_DOTALL)
		opts |= PCRE2_DOTALL;
	if (flags & RX_WHOLE)
		opts |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;

	pcre2_general_context *gctx = pcre2_general_context_create(rx_alloc, rx_dealloc, NULL);
	pcre2_compile_context *cctx = pcre2_compile_context_create(gctx);
	int code;
	PCRE2_SIZE offset;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code,
				       &offset, cctx);
	pcre2_compile_context_free(cctx);
	if (!re) {
		*err = compile_error(pattern, code, (size_t)offset);
		pcre2_general_context_free(gctx);
		return NULL;
	}

	struct rx *rx = xcalloc(1, sizeof(*rx));
	rx->gctx = gctx;
	rx->code = re;
	rx->pattern = xstrdup(pattern);
	rx->md = pcre2_match_data_create_from_pattern(re, gctx);
	rx->mctx = pcre2_match_context_create(gctx);
	pcre2_set_match_limit(rx->mctx, RX_MATCH_LIMIT);
	pcre2_set_depth_limit(rx->mctx, RX_DEPTH_LIMIT);
	pcre2_set_heap_limit(rx->mctx, RX_HEAP_LIMIT_KIB);
	return rx;
}

/* jit: JIT-compile re, once, on its first match, so that a suite that is
 * only loaded (validate, list) holds no machine code.  JIT is an
 * optimisation: when it is unavailable or fails, the interpreter runs the
 * same pattern. */
static void jit(struct rx *re)
{
	re->jit_tried = true;
	if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) != 0)
		return;
	re->jit_stack = pcre2_jit_stack_create(RX_JIT_STACK_MIN, RX_JIT_STACK_MAX, re->gctx);
	if (re->jit_stack)
		pcre2_jit_stack_assign(re->mctx, NULL, re->jit_stack);
}

int rx_match(struct rx *re, const char *s, size_t len, size_t *start, size_t *end, char **err)
{
	if (!s) {
		s = "";
		len = 0;
	}
	if (!re->jit_tried)
		jit(re);
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mctx);
	/* The interpreter keeps its backtracking on the heap, which allows
	 * deeper (bounded) matches than the JIT stack. */
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT, re->md, re->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		switch (rc) {
		case PCRE2_ERROR_MATCHLIMIT:
		case PCRE2_ERROR_DEPTHLIMIT:
		case PCRE2_ERROR_HEAPLIMIT:
		case PCRE2_ERROR_JIT_STACKLIMIT:
			*err = xstrdup("regex match limit exceeded");
			break;
		default: {
			char *msg = error_message(rc);
			*err = xasprintf("regex match failed: %s", msg);
			free(msg);
			break;
		}
		}
		return -1;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	size_t a = ov[0], b = ov[1];
	if (a > b)  /* \K in a lookahead can end a match before its start */
		a = b;
	if (start)
		*start = a;
	if (end)
		*end = b;
	return 1;
}

const char *rx_pattern(const struct rx *re)
{
	return re->pattern;
}

void rx_free(struct rx *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->md);
	pcre2_match_context_free(re->mctx);
	pcre2_jit_stack_free(re->jit_stack);
	pcre2_code_free(re->code);
	pcre2_general_context_free(re->gctx);
	free(re->pattern);
	free(re);
}
