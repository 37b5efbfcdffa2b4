// Package photostate keeps, for each Graph target, a record of the photo the functions last wrote
// there and of the version Graph reported for it afterwards, so that a photo Graph already holds
// is not written again (docs/architecture.md §10). HR systems export every person's photo every
// night; with the record, the steady state costs one S3 read and one Graph read per photo and no
// Graph write.
//
// # The record
//
// One S3 object per target, {Prefix}{sha256 of the target}.json in a bucket of its own that
// sends no notifications (so that writing a record never triggers the S3 path). A record is
// JSON, in one of two states:
//
//   - written: the digest of the normalised JPEG and of the normalising options that were
//     written, and the @odata.mediaEtag that GET …/photo answered right after the write;
//   - writing: a marker, written before a Graph write and replaced by the written record after
//     it. A marker younger than Lease says that a write to the target may be in flight.
//
// Every record carries a random writer id, so no two writes of a record have the same content:
// S3's ETag of a plain object is the MD5 of its bytes, and the conditional writes below compare
// ETags.
//
// # The decision
//
// Check reads the record. The photo is unchanged, and not written again, only when the record
// is written, its digests equal the new photo's, and Graph's current media ETag (GET …/photo) is
// the recorded one: someone who changed the photo in Outlook or Teams since changed the ETag,
// and the photo is written again. A missing, unreadable or other record, a marker, a photo
// Graph no longer has, a Graph read that fails: the photo is written. A wrong skip leaves a
// wrong photo in place; a needless write costs one write; every doubt is settled by writing.
// Only a state bucket that refuses the function (its grants, a missing bucket) fails the photo,
// as does one where the marker cannot be written (below): the deployment needs fixing.
//
// # Concurrent writers
//
// Graph has no conditional write, and the ETag read after a PUT is that of the last PUT, which
// may be another writer's: two deliveries of different photos for one person (two keys of one
// export, an S3 upload beside a self-service upload) can each read the other's version. The
// record must never pair one photo's digest with another photo's version. The protocol:
//
//  1. read the record and its S3 ETag E0 (absent: none);
//  2. before the Graph PUT, write a marker conditionally: If-Match E0 (If-None-Match: * when
//     there was none). The writer is contended, and will not record what it wrote, when the
//     record it read was a marker younger than Lease, when it was unreadable, or when this
//     conditional write fails (412, 409, 404: someone wrote the record since step 1); a
//     contended writer still writes a marker, unconditionally, before its PUT;
//  3. PUT the photo;
//  4. GET …/photo for the media ETag M; unless contended, write the written record {digest, M}
//     conditionally, If-Match the ETag of its own marker. If that fails, another writer wrote a
//     marker meanwhile, and nothing is recorded.
//
// Claim: a written record {d, M} with M still Graph's current ETag means Graph holds d (given
// that every Graph write by these functions follows the protocol, that GET …/photo reflects the
// latest PUT, and that no writer PUTs more than Lease after its marker: Lambda ends an
// invocation after at most 15 minutes, the default Lease).
//
// Proof. Let writer X write {d, M} at tF: X was not contended, read the record at tR, wrote its
// marker at tM and read M at tE, tR < tM < PUT(X) < tE < tF. Suppose M is the version of another
// writer Y's PUT, so PUT(X) < PUT(Y) < tE, and Y wrote its marker at tY < PUT(Y).
//   - tR < tY < tM: X's conditional marker write (If-Match the ETag read at tR) failed. Contradiction.
//   - tM < tY < tF: X's conditional record write (If-Match its marker's ETag) failed. Contradiction.
//   - tY < tR: consider the writes of the record after tY and before tR. A written record among
//     them, by Z, would need Z uncontended with no other write between Z's read and Z's record;
//     but either Z read at or after tY, and then read a marker (the writes since tY before the
//     first written record are markers) younger than Lease (tY < tR < PUT(Y) < tY + Lease), so
//     Z was contended; or Z read before tY, and then Y's marker lies between Z's read and Z's
//     record, so one of Z's conditional writes failed. So they are all markers, and X read a
//     marker younger than Lease at tR: X was contended. Contradiction.
//
// So M is X's own version, and X wrote d. ∎
//
// A writer that loses leaves the record a marker (never a reason to skip): the next delivery
// more than Lease later writes the photo and records it; until then the target is written every
// time, which is safe. A writer that dies between its marker and its record leaves the same.
// The simpler scheme, recording conditionally on the ETag read before the write and having the
// loser invalidate the record afterwards, leaves the winner's wrong record visible until the
// loser acts, and for good if the loser dies first; the marker closes that window at the cost of
// one S3 PUT per Graph write.
//
// What the protocol cannot see: a change made outside these functions (Outlook, Teams, another
// tool, `graphphoto put`) between a PUT and the GET …/photo after it, a fraction of a second,
// is recorded as if it were the photo written; so is a write by these functions through another
// name of the same owner (a user by UPN on one path and by object id on the other: the record
// is keyed by the name, with user and group ids compared without regard to case). Graph offers
// no way to tell whose version an ETag is. The next export then skips while Graph holds the
// other photo, which is what the person or tool set a moment later anyway.
package photostate
