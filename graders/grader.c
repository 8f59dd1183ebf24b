/* grader.c: placeholder until written. */
