/*
 * Pushing an image of an OCI layout to a registry (runners/push.c).
 */
#ifndef RPL_PUSH_H
#define RPL_PUSH_H

/*
 * Pushes the image index tagged `tag` in the OCI layout `layout`, its
 * manifests and blobs, to `ref` (REGISTRY/REPO[:TAG]; the tag defaults to
 * `tag`).  Fills `digest` with the index's digest.  Returns 0 or an error.
 */
int rpl_push(const char *layout, const char *tag, const char *ref, char digest[80]);

#endif
