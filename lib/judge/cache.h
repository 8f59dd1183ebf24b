/* judge/cache.h: judge verdicts cached on disk in SQLite.
 *
 * The key is a SHA-256 over the judge's rendered url, model, prompt template
 * version, rubric, case input and reply, so an hourly run over unchanged
 * replies makes no judge calls.  Only verdicts are stored (pass, score,
 * reason), never headers or tokens, and never errors; the caller masks
 * secrets in a reason before storing it.  The database runs in WAL mode
 * with a busy timeout, so concurrent canary processes can share it.  A
 * handle is not thread-safe.
 *
 * Ownership: judge_cache_open() returns a handle closed by
 * judge_cache_close(); looked-up reasons belong to the caller.
 */
#ifndef CANARY_JUDGE_CACHE_H
#define CANARY_JUDGE_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct judge_cache;

#define JUDGE_CACHE_KEY_HEX 64

/* judge_cache_default_path: $XDG_CACHE_HOME/canary/judge.sqlite, else
 * $HOME/.cache/canary/judge.sqlite (caller frees); NULL when neither is set. */
char *judge_cache_default_path(void);

/* judge_cache_choose: the cache a command uses: the one at path
 * (--judge-cache), else the default one.  NULL with *err left NULL when
 * there is none to use: no HOME, or a default place that cannot be used
 * (a read-only HOME under cron or in a container), *warning then saying
 * why; NULL and *err when path cannot be used. */
struct judge_cache *judge_cache_choose(const char *path, char **warning, char **err);

/* judge_cache_open: open or create the cache at path (its folder is
 * created, mode 0700; a new file is mode 0600); NULL and *err when it cannot be used (not a
 * database, read-only, a folder that cannot be made). */
struct judge_cache *judge_cache_open(const char *path, char **err);
void judge_cache_close(struct judge_cache *c);

/* judge_cache_set_clock: the clock verdicts are stored and pruned by, Unix
 * ms (util_wall_ms until set). */
void judge_cache_set_clock(struct judge_cache *c, long long (*wall_ms)(void));

/* judge_cache_key: the SHA-256 (hex) of parts[0..n): each part is hashed
 * with its length, so moving text between parts changes the key, and a
 * NULL part differs from "". */
void judge_cache_key(const char *const *parts, size_t n, char out[JUDGE_CACHE_KEY_HEX + 1]);

/* judge_cache_get: 1 with the verdict (*reason the caller's) on a hit, 0 on
 * a miss, -1 and *err when the cache cannot be read. */
int judge_cache_get(struct judge_cache *c, const char *key, bool *pass, double *score,
		    char **reason, char **err);

/* judge_cache_put: store (or replace) a verdict; -1 and *err on failure. */
int judge_cache_put(struct judge_cache *c, const char *key, bool pass, double score,
		    const char *reason, char **err);

/* judge_cache_prune: delete verdicts stored more than days ago; the number
 * deleted, or -1 and *err. */
long judge_cache_prune(struct judge_cache *c, int days, char **err);

#endif
