/*
 * sign_bytes: the canonical bytes a validator signs for a vote or a proposal, exactly as
 * CometBFT builds them: a CanonicalVote / CanonicalProposal proto message (type, height
 * and round as sfixed64, block id or nothing for nil, timestamp, chain id) encoded
 * deterministically and prefixed with its length as a varint. Any implementation in any
 * language can reproduce them; the chain id is always inside. Also the one place that
 * checks a signature over them, through a verify function the caller may supply (e.g. the
 * crypto verifier with its cache) or Ed25519 directly.
 * Never signs: signing belongs to privval.
 */
#ifndef PX_SIGN_BYTES_H
#define PX_SIGN_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "proposal.h"
#include "vote.h"

/* Every sign bytes fit in this many bytes. */
#define SIGN_BYTES_MAX 256
/* CometBFT's limit on a chain id's length. */
#define SIGN_BYTES_CHAIN_ID_MAX 50

/* A signature check: 0 if sig is pub's signature of msg, PX_ECRYPTO if not. */
typedef int (*sign_bytes_verify_fn)(const uint8_t pub[32], const uint8_t *msg, size_t len,
                                    const uint8_t sig[64], void *user);

/* Sign bytes of a vote (signature and validator fields are not part of them).
 * Errors: PX_EINVAL (chain id empty or longer than SIGN_BYTES_CHAIN_ID_MAX, height above
 * INT64_MAX), PX_ENOMEM. */
int sign_bytes_vote(const struct vote *v, const char *chain_id, uint8_t buf[SIGN_BYTES_MAX],
                    size_t *len);
/* Sign bytes of a proposal. Errors as sign_bytes_vote. */
int sign_bytes_proposal(const struct proposal *p, const char *chain_id, uint8_t buf[SIGN_BYTES_MAX],
                        size_t *len);

/* Check sig over msg with fn (NULL: Ed25519 on this thread). 0 or PX_ECRYPTO. */
int sign_bytes_check(sign_bytes_verify_fn fn, void *user, const uint8_t pub[32], const uint8_t *msg,
                     size_t len, const uint8_t sig[64]);

/* Check a vote's signature by the validator whose public key is pub.
 * 0, PX_ECRYPTO, or an error of sign_bytes_vote. */
int sign_bytes_vote_verify(const struct vote *v, const char *chain_id, const uint8_t pub[32],
                           sign_bytes_verify_fn fn, void *user);
/* Check a proposal's signature by the proposer whose public key is pub. */
int sign_bytes_proposal_verify(const struct proposal *p, const char *chain_id,
                               const uint8_t pub[32], sign_bytes_verify_fn fn, void *user);

#endif
