package events

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
)

// Subjects of the QUERIES stream: the global queue and every query lifecycle event. One
// subject per event type, so that each consumer filters exactly what it folds.
const (
	// SubjectQueryPrefix is the common prefix of every query lifecycle subject.
	SubjectQueryPrefix = "sluice.query."
	// SubjectQueryAll matches every query lifecycle subject.
	SubjectQueryAll = "sluice.query.>"

	// SubjectSubmitted: ingest accepted a query into the global queue.
	SubjectSubmitted = "sluice.query.submitted"
	// SubjectCancelRequested: a client asked to cancel a query.
	SubjectCancelRequested = "sluice.query.cancel-requested"
	// SubjectQueued: admission accepted the query into a resource group's queue (the verdict
	// for a query that cannot start at once).
	SubjectQueued = "sluice.query.queued"
	// SubjectAdmitted: admission let the query run (it now holds a fleet-wide slot).
	SubjectAdmitted = "sluice.query.admitted"
	// SubjectRejected: admission refused the query (terminal).
	SubjectRejected = "sluice.query.rejected"
	// SubjectPlaced: placement chose a cluster.
	SubjectPlaced = "sluice.query.placed"
	// SubjectStarted: an executor-proxy started the query and can serve its results.
	SubjectStarted = "sluice.query.started"
	// SubjectFinished: the query completed successfully (terminal).
	SubjectFinished = "sluice.query.finished"
	// SubjectFailed: the query failed (terminal).
	SubjectFailed = "sluice.query.failed"
	// SubjectCanceled: the query was canceled (terminal).
	SubjectCanceled = "sluice.query.canceled"
	// SubjectDispatchFailed: an executor-proxy could not hand a placed query to its engine;
	// it did not start and placement places it again.
	SubjectDispatchFailed = "sluice.query.dispatch-failed"
	// SubjectProgress: a running query's memory and CPU so far, from its cluster.
	SubjectProgress = "sluice.query.progress"

	// SubjectAdmissionTerm: an admission leader began its term. Every later decision of that
	// leader is fenced on this subject's last sequence, so the marker of a newer leader makes
	// every write of an older one fail. It is stored in the QUERIES stream.
	SubjectAdmissionTerm = "sluice.admission.term"

	// SubjectAdmissionExplainGroup is the request/reply subject (core NATS, not stored) that
	// admission replicas answer with a group's state; the payload is the group ID.
	SubjectAdmissionExplainGroup = "sluice.admission.explain.group"
	// SubjectAdmissionExplainQuery is the request/reply subject (core NATS, not stored) that
	// admission replicas answer with why a query waits; the payload is the query ID.
	SubjectAdmissionExplainQuery = "sluice.admission.explain.query"

	// SubjectFragmentPrefix is the prefix of per-cluster fragment subjects.
	SubjectFragmentPrefix = "sluice.fragment."
	// SubjectFragmentAll matches every fragment subject.
	SubjectFragmentAll = "sluice.fragment.>"

	// SubjectPlanFragmentPrefix is the prefix of per-cluster plan fragment subjects.
	SubjectPlanFragmentPrefix = "sluice.plan-fragment."
	// SubjectPlanFragmentAll matches every plan fragment subject.
	SubjectPlanFragmentAll = "sluice.plan-fragment.>"

	// SubjectFragmentStatusAll matches the outcomes of plan fragments, stored in the
	// FRAGMENT_STATUS stream (the scheduler folds them with the query lifecycle).
	SubjectFragmentStatusAll = "sluice.fragment-status.>"
	// SubjectFragmentOutcomes carries FragmentOutcomes: plan fragments done or failed.
	SubjectFragmentOutcomes = "sluice.fragment-status.outcomes"
)

// TerminalSubjects are the subjects whose events end a query. Exactly one of them is stored
// per query: they share the dedup key MsgIDTerminal.
var TerminalSubjects = []string{SubjectFinished, SubjectFailed, SubjectCanceled, SubjectRejected}

// IsTerminal reports whether an event on subject ends its query.
func IsTerminal(subject string) bool {
	for _, s := range TerminalSubjects {
		if s == subject {
			return true
		}
	}
	return false
}

var clusterName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateClusterName checks that name can be used as a subject token and KV key.
func ValidateClusterName(name string) error {
	if !clusterName.MatchString(name) {
		return fmt.Errorf("%w: cluster name %q must match %s", ErrInvalidName, name, clusterName)
	}
	return nil
}

// FragmentSubject is the subject carrying fragments for one cluster.
func FragmentSubject(cluster string) string { return SubjectFragmentPrefix + cluster }

// PlanFragmentSubject is the subject carrying plan fragments for one cluster.
func PlanFragmentSubject(cluster string) string { return SubjectPlanFragmentPrefix + cluster }

// Deterministic Nats-Msg-Id values: `<queryId>:<step>`. A re-publish after a crash carries
// the same ID and is dropped by the stream's duplicate window.
func MsgIDSubmitted(queryID string) string       { return queryID + ":submitted" }
func MsgIDCancelRequested(queryID string) string { return queryID + ":cancel-requested" }
func MsgIDAdmitted(queryID string) string        { return queryID + ":admitted" }
func MsgIDQueued(queryID string) string          { return queryID + ":queued" }
func MsgIDPlaced(queryID string, attempt int) string {
	return fmt.Sprintf("%s:placed:%d", queryID, attempt)
}
func MsgIDStarted(queryID string, attempt int) string {
	return fmt.Sprintf("%s:started:%d", queryID, attempt)
}
func MsgIDProgress(queryID string, attempt, n int) string {
	return fmt.Sprintf("%s:progress:%d.%d", queryID, attempt, n)
}
func MsgIDDispatchFailed(queryID string, attempt int) string {
	return fmt.Sprintf("%s:dispatch-failed:%d", queryID, attempt)
}

// MsgIDTerminal is shared by every terminal event (finished, failed, canceled, rejected) so
// that the stream keeps only the first one: a query ends exactly once.
func MsgIDTerminal(queryID string) string { return queryID + ":terminal" }

// MsgIDFragment identifies one dispatch of one fragment.
func MsgIDFragment(queryID, fragmentID string, attempt int) string {
	return fmt.Sprintf("%s:fragment:%s:%d", queryID, fragmentID, attempt)
}

// MsgIDPlanFragment identifies one release (dispatch) of one plan fragment in one
// placement attempt.
func MsgIDPlanFragment(queryID, fragmentID string, attempt, dispatch int) string {
	return fmt.Sprintf("%s:fragment:%s:%d.%d", queryID, fragmentID, attempt, dispatch)
}

// MsgIDFragmentBatch identifies a batch of released plan fragments: the publishing
// process (a random nonce per start, so that no batch of a later start is mistaken for a
// duplicate of an earlier one) and the batch's number in it. A retried publish of the same
// batch is a duplicate.
func MsgIDFragmentBatch(nonce string, seq uint64) string {
	return fmt.Sprintf("fragment-batch:%s:%d", nonce, seq)
}

// MsgIDFragmentOutcomes identifies a report of fragment outcomes the same way (see
// MsgIDFragmentBatch).
func MsgIDFragmentOutcomes(nonce string, seq uint64) string {
	return fmt.Sprintf("fragment-outcomes:%s:%d", nonce, seq)
}

// NewNonce returns a random nonce for MsgIDFragmentBatch and MsgIDFragmentOutcomes.
func NewNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
