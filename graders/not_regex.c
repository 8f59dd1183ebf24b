/* not_regex.c: placeholder until written. */
