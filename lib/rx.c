/* rx.c: placeholder until written. */
