/*
 * melange's `if:` conditions (pkg/cond): comparisons of quoted strings with
 * == and !=, grouped with parentheses and joined by && and ||, which bind
 * equally and evaluate left to right.
 */
#ifndef RPL_COND_H
#define RPL_COND_H

/*
 * Evaluates `expr` (already substituted).  An empty expression is true.  A
 * `${{var}}` left in the text evaluates to "".  Returns 0 and sets *result,
 * or -RPL_EPARSE with what is wrong and where ("expected == or != near
 * '= 'x86_64''"); the caller names the condition.
 */
int rpl_cond_eval(const char *expr, int *result);

#endif
